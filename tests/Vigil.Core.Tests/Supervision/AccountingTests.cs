using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Supervision;

/// <summary>Reaping, attach, the PID-reuse guard, duplicate names and the status watcher, on real processes.</summary>
[Collection("processes")]
public sealed class AccountingTests
{
    [Fact]
    public async Task Fifty_crashes_leave_no_zombie_and_no_orphan()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // Each run leaves a backgrounded grandchild behind in its session; Vigil must stop and reap those too.
        var unit = sup.Start(new ProcessSpec { Name = "crashy", Command = ["sh", "-c", "sleep 30 & exit 1"] }.WithSchedule(1)
            .WithStop(TimeSpan.FromSeconds(2)));
        var exits = await rec.Count<Exited>(50, timeout: TimeSpan.FromSeconds(60));
        await unit.StopAndWaitAsync();
        Assert.All(exits, e => Assert.Equal(1, e.Status.Code));
        Assert.True(await Procs.Eventually(() => Procs.OurZombies().Count == 0),
            "zombies: " + string.Join(",", Procs.OurZombies()));
        var sessions = exits.Select(e => e.Pid!.Value).ToHashSet();
        Assert.True(await Procs.Eventually(() => !ProcFs.All().Any(p => sessions.Contains(p.Session))),
            "leftovers: " + string.Join(",", ProcFs.All().Where(p => sessions.Contains(p.Session)).Select(p => $"{p.Pid}({p.State})")));
    }

    [Fact]
    public async Task Attached_process_is_watched_signalled_and_stopped()
    {
        // A process Vigil did not start as a unit: spawned directly through the launcher (its handle reaps it).
        var dir = Directory.GetCurrentDirectory();
        var env = CommandResolver.Environment(new ProcessSpec());
        await using var sup = new Supervisor(new SupervisorOptions { StatusInterval = TimeSpan.FromMilliseconds(50) });
        var target = sup.Launcher.Spawn(new LaunchRequest([Fixture.Path, "hang"], dir, env) { Output = OutputMode.Null }).Child!;
        // posix_spawn returns once the child's exec has replaced its memory, a moment before the kernel records where
        // its arguments are: /proc/PID/cmdline can read empty in between (seen once in CI). Attach as an operator
        // would, to a process that is running its program.
        Assert.True(await Procs.Eventually(() => ProcFs.ReadCmdline(target.Pid).Length > 0), "the fixture's command line never appeared");
        using var rec = new Recorder(sup);
        var unit = sup.Attach("adopted", target.Pid);
        await rec.Event<Spawned>();
        Assert.Equal(target.Pid, unit.Pid);
        Assert.True(unit.Snapshot.Attached);
        Assert.True(unit.Command.Contains("vigil-fixture"), $"command '{unit.Command}'");
        Assert.Equal(["hang"], unit.Arguments);
        // Sleeping is not an event by default (StatusEvents.Significant); the snapshot follows it.
        Assert.True(await Procs.Eventually(() => unit.Status == ProcessStatus.Sleeping), $"status {unit.Status}, not sleeping");
        Assert.True(await unit.SignalAsync(Signals.SIGSTOP));
        var stopped = await rec.Event<StatusChanged>(e => e.To == ProcessStatus.Stopped, "stopped status");
        Assert.Equal(ProcessStatus.Sleeping, stopped.From);
        Assert.DoesNotContain(rec.Events, e => e is StatusChanged { To: ProcessStatus.Sleeping or ProcessStatus.Running });
        var result = await unit.StopAndWaitAsync();
        Assert.Equal(15, result.Exit?.Signal); // still exact: it happens to be our child, peeked with WNOWAIT
        Assert.Equal(15, (await target.Exited).Signal);
        Assert.Equal(UnitState.Stopped, unit.State);
        Assert.DoesNotContain(rec.Events, e => e is Spawned s && s.Pid != target.Pid);
    }

    [Fact]
    public async Task Attached_process_that_exits_is_not_restarted()
    {
        var env = CommandResolver.Environment(new ProcessSpec());
        // Spawned through the supervisor's own launcher: one reactor sees the exit, and peeks (the attach) before it
        // reaps (the spawn's handle), as for a unit's own child.
        await using var sup = new Supervisor();
        var target = sup.Launcher.Spawn(new LaunchRequest([Fixture.Path, "sleep", "300", "exit", "4"], Directory.GetCurrentDirectory(), env) { Output = OutputMode.Null }).Child!;
        using var rec = new Recorder(sup);
        var unit = sup.Attach("short", target.Pid);
        var exited = await rec.Event<Exited>();
        Assert.Equal(4, exited.Status.Code);
        var nr = await rec.Event<NotRestarting>();
        Assert.Contains("attached", nr.Reason);
        Assert.Equal(UnitState.Exited, unit.State);
    }

    [Fact]
    public void Attach_to_a_missing_pid_is_a_clear_error()
    {
        using var launcher = new OsLauncher(subreaper: false);
        var ex = Assert.Throws<ArgumentException>(() => launcher.Attach(int.MaxValue - 7));
        Assert.Contains("cannot attach", ex.Message);
    }

    [Fact]
    public async Task Pid_reuse_guard_refuses_to_signal_a_process_with_another_start_time()
    {
        var env = CommandResolver.Environment(new ProcessSpec());
        using var launcher = new OsLauncher(subreaper: false);
        var child = launcher.Spawn(new LaunchRequest([Fixture.Path, "hang"], Directory.GetCurrentDirectory(), env) { Output = OutputMode.Null }).Child!;
        var real = ProcessIdentity.Of(child.Pid)!.Value;
        Assert.Equal(child.Identity, real);
        // The same PID with another start time is what a recycled PID looks like: it must not be signalled.
        var stale = real with { StartTime = real.StartTime + 1 };
        Assert.False(stale.IsAlive);
        Assert.False(stale.Signal(Signals.SIGKILL));
        Assert.True(Procs.Alive(child.Pid));
        Assert.True(real.Signal(Signals.SIGKILL));
        Assert.Equal(9, (await child.Exited).Signal);
        // Once reaped, the pidfd refuses too: nothing can reach whoever gets the PID next.
        Assert.False(child.Signal(Signals.SIGKILL));
        Assert.False(child.SignalGroup(Signals.SIGKILL));
    }

    [Fact]
    public async Task Duplicate_names_are_separate_units()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var a = sup.Start(Fixture.Spec("dup", "marker", "up", "hang"));
        var b = sup.Start(Fixture.Spec("dup", "marker", "up", "hang"));
        var unnamed = sup.Start(new ProcessSpec { Command = [Fixture.Path, "marker", "up", "hang"] });
        await rec.Count<Spawned>(3);
        Assert.NotEqual(a.Id, b.Id);
        Assert.NotEqual(a.Pid, b.Pid);
        Assert.Equal(2, sup.Find("dup").Count);
        Assert.Equal("vigil-fixture", unnamed.Name);
        await sup.Stop("dup");
        Assert.Equal(UnitState.Running, unnamed.State);
    }

    [Fact]
    public async Task WaitForExit_returns_the_status_of_the_current_run()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("w", "marker", "up", "sleep", "200", "exit", "7").WithSchedule(0));
        await rec.Marker("up");
        var status = await unit.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(7, status.Code);
        Assert.Equal(7, unit.LastExit?.Code);
        Assert.Equal(7, (await unit.WaitForExitAsync()).Code); // nothing runs: the last exit at once
    }

    [Fact]
    public async Task Snapshot_reports_start_time_uptime_pid_command_and_restart_count()
    {
        var time = TimeProvider.System;
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var before = time.GetUtcNow();
        var unit = sup.Start(Fixture.Spec("snap", "marker", "up", "hang"));
        var up = await rec.Marker("up");
        var s = unit.Snapshot;
        Assert.Equal(up.Pid, s.Pid);
        Assert.Equal(Fixture.Path, s.Command);
        Assert.Equal(["marker", "up", "hang"], s.Arguments);
        Assert.True(s.StartTime >= before);
        Assert.True(unit.Uptime > TimeSpan.Zero);
        Assert.Equal(0, s.RestartCount);
        Assert.Equal(UnitState.Running, s.State);
        await sup.Restart("snap");
        await rec.Count<Spawned>(2);
        Assert.Equal(1, unit.RestartCount);
    }
}
