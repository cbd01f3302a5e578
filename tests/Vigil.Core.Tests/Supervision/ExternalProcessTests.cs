using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Supervision;

/// <summary>External units on real processes the test starts outside Vigil (setsid): killed by a probe's action,
/// followed through a rewritten pidfile, and left running when Vigil goes.</summary>
[Collection("processes")]
public sealed class ExternalProcessTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("vigil-external-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ProbeSpec Hung(ProbeAction action) =>
        new(new ExecCheck(["false"])) { Period = TimeSpan.FromMilliseconds(200), FailureThreshold = 2, Action = action };

    [Fact]
    public async Task A_failed_probe_kills_a_process_Vigil_did_not_start_and_the_unit_is_exited_not_restarted()
    {
        // It sleeps before its marker, so the attach comes well after its start: StartTime must be the process's own.
        using var outside = OutsideProcess.Start("sleep", "1500", "marker", "up", "hang");
        await outside.Marker("up");
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var attachedAt = DateTimeOffset.UtcNow;
        var unit = sup.Attach("outside", outside.Pid, new ProcessSpec { Health = [Hung(ProbeAction.Kill)] });
        await rec.Event<Spawned>(timeout: Wait);
        var began = outside.Process.StartTime.ToUniversalTime();
        Assert.True(unit.StartTime is { } st && Math.Abs((st - began).TotalSeconds) < 1.1 && st < attachedAt - TimeSpan.FromSeconds(1),
            $"StartTime {unit.StartTime:O}, the process began {began:O}, attached {attachedAt:O}");

        var unhealthy = await rec.Event<Unhealthy>(timeout: Wait);
        Assert.Equal(outside.Pid, unhealthy.Pid);
        Assert.Equal(128 + Signals.SIGKILL, await outside.Exited(Wait));
        var nr = await rec.Event<NotRestarting>(timeout: Wait);
        Assert.Contains("attached", nr.Reason);
        Assert.Equal(UnitState.Exited, unit.State);
        Assert.DoesNotContain(rec.Events, e => e is Spawned s && s.Pid != outside.Pid);
    }

    [Fact]
    public async Task A_rewritten_pidfile_is_followed_and_the_old_process_is_left_alone()
    {
        using var first = OutsideProcess.Start("marker", "up", "hang");
        using var second = OutsideProcess.Start("marker", "up", "hang");
        await first.Marker("up");
        await second.Marker("up");
        var pidfile = Path.Combine(_dir, "legacy.pid");
        File.WriteAllText(pidfile, $"{first.Pid}\n");
        await using (var sup = new Supervisor())
        {
            using var rec = new Recorder(sup);
            var unit = sup.Start(new ProcessSpec { Name = "legacy", Attach = new AttachSpec { PidFile = pidfile, Poll = TimeSpan.FromMilliseconds(100) } });
            await rec.Event<Spawned>(e => e.Pid == first.Pid, timeout: Wait);
            Assert.Contains("vigil-fixture", unit.Command);

            // The outside manager restarted it: a new PID in the file.
            File.WriteAllText(pidfile, $"{second.Pid}\n");
            var moved = await rec.Event<Reattached>(timeout: Wait);
            Assert.Equal((first.Pid, second.Pid), (moved.OldPid, moved.Pid!.Value));
            await rec.Event<Spawned>(e => e.Pid == second.Pid, timeout: Wait);
            Assert.Equal(second.Pid, unit.Pid);
            Assert.True(Procs.Alive(first.Pid));

            // It dies and the file still names it: the unit waits, starting nothing.
            second.Process.Kill();
            var exited = await rec.Event<Exited>(e => e.Pid == second.Pid, timeout: Wait);
            Assert.Equal(UnitState.Waiting, exited.State);
            await rec.Event<AttachWaiting>(e => e.Reason.Contains("not running"), timeout: Wait);
            Assert.Equal(UnitState.Waiting, unit.State);

            File.WriteAllText(pidfile, $"{first.Pid}\n");
            await rec.Event<Spawned>(e => e.Pid == first.Pid && e.Time > exited.Time, timeout: Wait);
            Assert.Equal(UnitState.Running, unit.State);
        }
        // Vigil is gone; the process it watched is not.
        Assert.True(Procs.Alive(first.Pid));
    }

    [Fact]
    public async Task A_systemd_unit_asks_systemctl_and_waits_with_its_answer_when_there_is_no_main_process()
    {
        // Without a running systemd (this test machine, containers) systemctl fails; with one, an unknown service has
        // MainPID=0. Either way the unit waits and says why; it starts nothing.
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(new ProcessSpec { Attach = new AttachSpec { Systemd = $"vigil-test-none-{Guid.NewGuid():N}.service" } });
        var waiting = await rec.Event<AttachWaiting>(e => e.Reason.Contains("systemctl show") || e.Reason.Contains("has no main process"), timeout: Wait);
        Assert.Equal(UnitState.Waiting, unit.State);
        Assert.True(Directory.Exists("/run/systemd/system") ? waiting.Reason.Contains("MainPID=0") || waiting.Reason.Contains("systemctl show") : waiting.Reason.Contains("systemctl show"),
            waiting.Reason);
    }
}
