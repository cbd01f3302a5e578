using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Supervision;

/// <summary>Unit: long delays are waited correctly, an internal error stops only its unit, and shutdown always ends.
/// Fake clock and fake launcher: time moves only when the test advances it.</summary>
public sealed class RobustnessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static (FakeTimeProvider Time, FakeLauncher Launcher, Supervisor Sup, Recorder Rec) Make()
    {
        var time = new FakeTimeProvider();
        var launcher = new FakeLauncher(time);
        var sup = new Supervisor(FakeSupervision.Options(time, launcher));
        return (time, launcher, sup, new Recorder(sup));
    }

    [Fact]
    public async Task A_restart_delay_of_60_days_is_waited_in_pieces_and_restarts_exactly_then()
    {
        var (time, launcher, sup, rec) = Make();
        await using var _ = sup;
        var sixtyDays = TimeSpan.FromDays(60);
        sup.Start(new ProcessSpec { Name = "slow", Command = ["worker"], Restart = RestartSpec.Default with { Schedule = [sixtyDays] } });
        var first = await launcher.Spawn(0).WaitAsync(Wait);
        var exitAt = time.Elapsed;
        first.Process!.Exit(ExitStatus.Exited(1));
        var backoff = await rec.Event<BackingOff>();
        Assert.Equal(sixtyDays, backoff.Delay);
        // The first piece (24 days) and the second end without a spawn; the rest of the 60 days ends with one.
        Assert.Equal(1, time.Advance(Unit.MaxTimerPiece));
        Assert.True(await Procs.Eventually(() => time.PendingTimers == 1), "the second piece is armed");
        Assert.Equal(1, time.Advance(Unit.MaxTimerPiece));
        Assert.True(await Procs.Eventually(() => time.PendingTimers == 1), "the last piece is armed");
        Assert.Equal(1, launcher.SpawnCount);
        Assert.Equal(0, time.Advance(sixtyDays - 2 * Unit.MaxTimerPiece - TimeSpan.FromMilliseconds(1)));
        Assert.Equal(1, launcher.SpawnCount);
        Assert.Equal(1, time.Advance(TimeSpan.FromMilliseconds(1)));
        var second = await launcher.Spawn(1).WaitAsync(Wait);
        Assert.Equal(exitAt + sixtyDays, second.At);
    }

    [Fact]
    public async Task An_internal_error_stops_its_unit_with_an_event_and_neither_wedges_the_others_nor_the_shutdown()
    {
        var (time, launcher, sup, rec) = Make();
        var ok = sup.Start(new ProcessSpec { Name = "ok", Command = ["worker"] });
        await launcher.Spawn(0).WaitAsync(Wait);
        launcher.ThrowOnNextSpawn = new InvalidOperationException("launcher broke");
        var broken = sup.Start(new ProcessSpec { Name = "broken", Command = ["worker"] });
        var err = await rec.Event<InternalError>();
        Assert.Equal("broken", err.Name);
        Assert.Contains("launcher broke", err.Reason);
        Assert.Equal(UnitState.Stopped, (await rec.Event<Stopped>(e => e.Name == "broken")).State);
        // Requests to the broken unit are answered, never left waiting.
        Assert.False((await broken.StopAndWaitAsync().WaitAsync(Wait)).Survivors.Any());
        await broken.StartAsync().WaitAsync(Wait);
        Assert.Equal(UnitState.Running, ok.State); // the other unit is untouched
        var dispose = sup.DisposeAsync().AsTask();
        var okProcess = (await launcher.Spawn(0)).Process!;
        await okProcess.Received(Signals.SIGTERM).WaitAsync(Wait);
        okProcess.Exit(ExitStatus.Killed(15));
        await dispose.WaitAsync(Wait);
    }

    [Fact]
    public async Task Shutdown_ends_within_the_stop_bound_even_when_a_unit_never_finishes_stopping()
    {
        var (time, launcher, sup, rec) = Make();
        launcher.NextBehaviour = FakeStopBehaviour.Unkillable;
        launcher.StopsNeverFinish = true; // the unit's stop never reports back: only the shutdown's bound ends it
        sup.Start(new ProcessSpec
        {
            Name = "stuck", Command = ["worker"],
            Stop = StopSpec.Default with { Timeout = TimeSpan.FromSeconds(3), KillWait = TimeSpan.FromSeconds(2) },
        });
        var p = (await launcher.Spawn(0).WaitAsync(Wait)).Process!;
        var dispose = sup.DisposeAsync().AsTask();
        await p.Received(Signals.SIGTERM).WaitAsync(Wait);
        // Walk the clock: grace (3 s), kill wait (2 s), then the shutdown's own bound (+1 s); it must end by then.
        for (int i = 0; i < 70 && !dispose.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.WhenAny(dispose, Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System));
        }
        Assert.True(dispose.IsCompleted, "shutdown did not end within timeout + killWait + 1 s of fake time");
        Assert.True(time.Elapsed <= TimeSpan.FromSeconds(7), $"took {time.Elapsed}");
        Assert.True(time.Elapsed >= TimeSpan.FromSeconds(6), $"gave up after {time.Elapsed}, before timeout + killWait + 1 s");
        Assert.Contains(Signals.SIGKILL, p.Signals); // the shutdown's last resort (Unit.KillNow)
    }
}
