using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Supervision;

/// <summary>External units (<c>attach:</c>) on the fake launcher and clock: a pidfile that is missing, appears, changes
/// and names a process that ends; what a pid unit does when its process ends; a failed probe's kill.</summary>
public sealed class ExternalUnitTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly string _dir = Directory.CreateTempSubdirectory("vigil-external-").FullName;
    private string PidFile => Path.Combine(_dir, "legacy.pid");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // Fake PIDs above pid_max (2^22): they name no real process.
    private const int First = 60_000_001, Second = 60_000_002;

    private static ProcessSpec External(AttachSpec attach, params ProbeSpec[] probes) => new() { Name = "legacy", Attach = attach, Health = [.. probes] };

    private static Task<T> Next<T>(FakeSupervision h, Func<T, bool>? match = null) where T : UnitEvent => h.Rec.Event(match, typeof(T).Name, Wait);

    [Fact]
    public async Task A_missing_pidfile_is_waited_for_and_the_process_adopted_once_it_names_one()
    {
        var h = new FakeSupervision();
        await using var _ = h.Sup;
        var unit = h.Sup.Start(External(new AttachSpec { PidFile = PidFile }));
        var waiting = await Next<AttachWaiting>(h);
        Assert.Contains("does not exist", waiting.Reason);
        Assert.Equal(UnitState.Waiting, unit.State);
        Assert.Equal("waiting", unit.State.Name());

        File.WriteAllText(PidFile, "not a pid\n");
        h.Time.Advance(AttachSpec.DefaultPoll);
        var bad = await Next<AttachWaiting>(h, e => e.Reason.Contains("not a PID"));
        Assert.Contains("'not a pid'", bad.Reason);

        File.WriteAllText(PidFile, $"{First}\n");
        h.Time.Advance(AttachSpec.DefaultPoll);
        var adopted = await Next<Spawned>(h);
        Assert.Equal(First, adopted.Pid);
        Assert.Equal(First, unit.Pid);
        Assert.True(unit.Snapshot.Attached);
        Assert.Equal(0, h.Launcher.SpawnCount); // nothing is ever started
    }

    [Fact]
    public async Task A_pidfile_that_names_a_new_process_is_followed_without_touching_the_old_one()
    {
        var h = new FakeSupervision();
        await using var _ = h.Sup;
        File.WriteAllText(PidFile, $"{First}");
        var unit = h.Sup.Start(External(new AttachSpec { PidFile = PidFile, Poll = TimeSpan.FromSeconds(2) }));
        await Next<Spawned>(h, e => e.Pid == First);

        File.WriteAllText(PidFile, $"{Second}\n");
        h.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(First, unit.Pid); // not before the poll
        h.Time.Advance(TimeSpan.FromSeconds(1));
        var moved = await Next<Reattached>(h);
        Assert.Equal((First, Second), (moved.OldPid, moved.Pid!.Value));
        Assert.Contains("restarted by its manager", moved.Reason);
        await Next<Spawned>(h, e => e.Pid == Second);
        Assert.Equal(Second, unit.Pid);
        Assert.Equal(UnitState.Running, unit.State);
        var old = h.Launcher.Attached[0];
        Assert.Empty(old.Signals);
        Assert.True(old.Disposed); // no longer watched
    }

    [Fact]
    public async Task A_pidfile_process_that_exits_is_not_restarted_but_waited_for()
    {
        var h = new FakeSupervision();
        await using var _ = h.Sup;
        File.WriteAllText(PidFile, $"{First}");
        var unit = h.Sup.Start(External(new AttachSpec { PidFile = PidFile }));
        await Next<Spawned>(h);
        h.Launcher.NotAttachable.Add(First); // gone: the pidfile still names it (a stale pidfile)
        h.Launcher.Attached[0].Exit(ExitStatus.Exited(0));
        var exited = await Next<Exited>(h);
        Assert.Equal(UnitState.Waiting, exited.State);
        var waiting = await Next<AttachWaiting>(h);
        Assert.Contains("waiting for its manager", waiting.Reason);

        h.Time.Advance(AttachSpec.DefaultPoll);
        await Next<AttachWaiting>(h, e => e.Reason.Contains("not running"));
        File.WriteAllText(PidFile, $"{Second}");
        h.Time.Advance(AttachSpec.DefaultPoll);
        await Next<Spawned>(h, e => e.Pid == Second);
        Assert.Equal(0, h.Launcher.SpawnCount);
        Assert.Equal(Second, unit.Pid);
    }

    [Fact]
    public async Task A_pid_unit_whose_process_exits_is_exited()
    {
        var h = new FakeSupervision();
        await using var _ = h.Sup;
        var unit = h.Sup.Start(External(new AttachSpec { Pid = First }));
        await Next<Spawned>(h, e => e.Pid == First);
        h.Launcher.Attached[0].Exit(ExitStatus.Exited(3));
        var nr = await Next<NotRestarting>(h);
        Assert.Contains("attached", nr.Reason);
        Assert.Equal(UnitState.Exited, unit.State);
        h.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, h.Launcher.SpawnCount);
        Assert.Single(h.Launcher.Attached);
    }

    [Fact]
    public async Task A_pid_that_is_not_running_ends_exited_with_the_reason()
    {
        var h = new FakeSupervision();
        await using var _ = h.Sup;
        h.Launcher.NotAttachable.Add(First);
        var unit = h.Sup.Start(External(new AttachSpec { Pid = First }));
        var nr = await Next<NotRestarting>(h);
        Assert.Contains($"names {First}, which is not running", nr.Reason);
        Assert.Equal(UnitState.Exited, unit.State);
    }

    [Fact]
    public async Task A_failed_probe_with_action_kill_kills_the_external_process_then_the_unit_waits()
    {
        var h = new FakeSupervision();
        await using var _ = h.Sup;
        File.WriteAllText(PidFile, $"{First}");
        var unit = h.Sup.Start(External(new AttachSpec { PidFile = PidFile }, TestProbes.Failing() with { Action = ProbeAction.Kill }));
        await Next<Spawned>(h);
        var unhealthy = await Next<Unhealthy>(h);
        Assert.Equal(First, unhealthy.Pid);
        // The stop request follows the unhealthy event from the same loop step.
        Assert.True(await Procs.Eventually(() => h.Launcher.StopRequests.Count > 0, Wait), "no stop request");
        var stop = h.Launcher.StopRequests.Single();
        Assert.Equal(Signals.SIGKILL, stop.Signal);
        Assert.Equal(First, stop.Leader!.Pid);
        h.Launcher.NotAttachable.Add(First);
        await Next<AttachWaiting>(h);
        Assert.Equal(UnitState.Waiting, unit.State);
        Assert.Equal(0, h.Launcher.SpawnCount);
    }

    [Fact]
    public async Task Stopping_a_waiting_unit_ends_its_polling()
    {
        var h = new FakeSupervision();
        await using var _ = h.Sup;
        var unit = h.Sup.Start(External(new AttachSpec { PidFile = PidFile }));
        await Next<AttachWaiting>(h);
        await unit.StopAndWaitAsync().WaitAsync(Wait);
        Assert.Equal(UnitState.Stopped, unit.State);
        File.WriteAllText(PidFile, $"{First}");
        h.Time.Advance(TimeSpan.FromSeconds(5));
        await unit.StartAsync().WaitAsync(Wait); // a fence: the loop has handled whatever the clock posted before
        await Next<Spawned>(h); // the start finds it...
        Assert.Single(h.Launcher.Attached); // ...and nothing earlier did
    }

    [Fact]
    public async Task An_external_unit_is_left_running_when_the_supervisor_goes()
    {
        var h = new FakeSupervision();
        File.WriteAllText(PidFile, $"{First}");
        var unit = h.Sup.Start(External(new AttachSpec { PidFile = PidFile }));
        await Next<Spawned>(h);
        await h.Sup.DisposeAsync();
        // Released like a detached unit (its event may come after the supervisor stopped publishing): never stopped.
        Assert.Empty(h.Launcher.StopRequests);
        Assert.Empty(h.Launcher.Attached[0].Signals);
        Assert.DoesNotContain(h.Rec.Events, e => e is StopRequested);
        Assert.NotEqual(UnitState.Stopped, unit.State);
    }

    [Fact]
    public void An_attach_spec_is_validated()
    {
        string Errors(ProcessSpec s) => string.Join("; ", s.Validate());
        Assert.Contains("attach: give one of pid, pidfile or systemd", Errors(new ProcessSpec { Attach = new AttachSpec() }));
        Assert.Contains("attach: give only one of", Errors(new ProcessSpec { Attach = new AttachSpec { Pid = 3, PidFile = "/x" } }));
        Assert.Contains("attach.pid: must be a positive", Errors(new ProcessSpec { Attach = new AttachSpec { Pid = -1 } }));
        Assert.Contains("attach: an external unit runs no command", Errors(new ProcessSpec { Command = ["x"], Attach = new AttachSpec { Pid = 3 } }));
        Assert.Contains("restart: an external unit is never restarted",
            Errors(new ProcessSpec { Attach = new AttachSpec { Pid = 3 }, Restart = RestartSpec.Default with { Policy = RestartPolicyKind.Never } }));
        Assert.Contains("attach.systemd: expected a unit name", Errors(new ProcessSpec { Attach = new AttachSpec { Systemd = "-x y" } }));
        Assert.Empty(new ProcessSpec { Attach = new AttachSpec { Systemd = "legacy.service" } }.Validate());
        Assert.Equal("legacy", new ProcessSpec { Attach = new AttachSpec { Systemd = "legacy.service" } }.DisplayName);
        Assert.Equal("pid42", new ProcessSpec { Attach = new AttachSpec { Pid = 42 } }.DisplayName);
    }
}
