using System.Collections.Immutable;
using System.Diagnostics;
using Vigil.Health;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Health;

/// <summary>
/// Integration: real fixture processes that stop doing their job while still running, detected by the core probe
/// kinds (output-stall, heartbeat-file, exec) and recovered through the unit's one path: stop escalation, then the
/// restart policy, counting against the crash-loop limit.
/// </summary>
[Collection("processes")]
public sealed class RecoveryTests
{
    private static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);

    private static ProcessSpec WithProbe(ProcessSpec s, ProbeSpec p) => s with { Health = [.. s.Health, p] };

    [Fact]
    public async Task Output_stall_detects_a_process_that_stops_writing_within_timeout_plus_one_period_and_restarts_it()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var probe = new ProbeSpec(new OutputStallCheck()) { Timeout = Ms(1000), Period = Ms(200) };
        sup.Start(WithProbe(Fixture.Spec("quiet", "tick", "50", "5", "marker", "silent", "hang").WithSchedule(50), probe));
        var silent = await rec.Marker("silent");
        var bad = await rec.Event<Unhealthy>();
        // Timed on Vigil's own clock, from when the last line was read to the event: the test's awaits may resume
        // late on a busy thread pool, which would make the detection look early (seen: 0.2 s).
        var detected = bad.Time - silent.Time;
        Assert.StartsWith("hung: no output for", bad.Why);
        Assert.Equal("output-stall", bad.Probe);
        Assert.Equal(silent.Pid, bad.Pid);
        // Within timeout + one period of the last line, with 600 ms of slack: in a fresh test process the probe loop's
        // pool thread can be held up while everything is being compiled (the exact bound is bench/health.sh's).
        Assert.InRange(detected, Ms(990), Ms(1000 + 200 + 600)); // never before the timeout (µs between two clock reads)
        var stop = await rec.Event<StopRequested>(e => e.Pid == silent.Pid);
        Assert.StartsWith("hung: no output for", stop.Why);
        var exited = await rec.Event<Exited>(e => e.Pid == silent.Pid);
        Assert.Contains("(unhealthy: hung: no output for", exited.Reason);
        await rec.Event<BackingOff>();
        await rec.Count<Spawned>(2);
        Assert.False(Procs.Alive(silent.Pid));
    }

    [Fact]
    public async Task A_process_that_keeps_writing_is_not_restarted()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var probe = new ProbeSpec(new OutputStallCheck()) { Timeout = Ms(600), Period = Ms(100) };
        sup.Start(WithProbe(Fixture.Spec("chatty", "tick", "50", "60", "marker", "done", "hang"), probe));
        await rec.Marker("done", TimeSpan.FromSeconds(30)); // 3 s of output, five stall windows
        Assert.Empty(rec.Events.OfType<Unhealthy>());
        Assert.Single(rec.Events.OfType<Spawned>());
    }

    [Fact]
    public async Task Heartbeat_file_that_stops_advancing_is_detected_and_the_unit_restarted()
    {
        var dir = Directory.CreateTempSubdirectory("vigil-hb-");
        try
        {
            var beat = Path.Combine(dir.FullName, "worker.beat");
            await using var sup = new Supervisor();
            using var rec = new Recorder(sup);
            var probe = new ProbeSpec(new HeartbeatFileCheck(beat)) { Timeout = Ms(800), Period = Ms(200) };
            sup.Start(WithProbe(Fixture.Spec("beat", "touch", beat, "100", "8", "marker", "stopped-beating", "hang").WithSchedule(50), probe));
            var stopped = await rec.Marker("stopped-beating");
            var bad = await rec.Event<Unhealthy>();
            Assert.StartsWith("hung: no heartbeat", bad.Why);
            Assert.Contains("worker.beat", bad.Why);
            Assert.InRange(bad.Time - stopped.Time, TimeSpan.Zero, Ms(800 + 200 + 600)); // on Vigil's clock; slack as above
            // While it was beating, it was healthy: the failure came after the marker, not before.
            Assert.Equal(stopped.Pid, bad.Pid);
            await rec.Count<Spawned>(2);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public async Task A_heartbeat_file_that_never_appears_fails_counting_from_the_start_of_the_run()
    {
        var beat = Path.Combine(Path.GetTempPath(), $"vigil-never-{Guid.NewGuid():N}.beat");
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var probe = new ProbeSpec(new HeartbeatFileCheck(beat)) { Timeout = Ms(500), Period = Ms(100), Action = ProbeAction.Notify };
        sup.Start(WithProbe(Fixture.Spec("never", "hang"), probe));
        var bad = await rec.Event<Unhealthy>();
        Assert.StartsWith("hung: no heartbeat", bad.Why);
        Assert.Equal(ProbeAction.Notify, bad.Action);
    }

    [Fact]
    public async Task Exec_probe_failure_puts_its_first_output_lines_in_the_event()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var probe = new ProbeSpec(new ExecCheck(["sh", "-c", "echo 'db: connection refused'; echo second; exit 3"]))
        { Period = Ms(200), Timeout = Ms(2000), FailureThreshold = 2 };
        var unit = sup.Start(WithProbe(Fixture.Spec("svc", "marker", "up", "hang").WithSchedule(50), probe));
        await rec.Marker("up");
        var bad = await rec.Event<Unhealthy>();
        Assert.Equal("exec check exited with code 3: db: connection refused | second", bad.Why);
        Assert.Equal(2, bad.FailedChecks);
        await rec.Count<Spawned>(2);
    }

    [Fact]
    public async Task A_passing_exec_probe_keeps_the_unit_running()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var probe = new ProbeSpec(new ExecCheck(["sh", "-c", "echo checked >> \"$0\"", Path.Combine(Path.GetTempPath(), $"vigil-exec-ok-{Guid.NewGuid():N}")]))
        { Period = Ms(100), Timeout = Ms(2000), FailureThreshold = 1 };
        var unit = sup.Start(WithProbe(Fixture.Spec("svc", "tick", "100", "15", "marker", "end", "hang"), probe));
        await rec.Marker("end", TimeSpan.FromSeconds(30));
        Assert.Empty(rec.Events.OfType<Unhealthy>());
        Assert.Equal(UnitState.Running, unit.State);
    }

    [Fact]
    public async Task A_hung_exec_probe_is_killed_at_its_timeout_counted_as_a_failure_and_leaves_no_process()
    {
        var pidFile = Path.Combine(Path.GetTempPath(), $"vigil-hungprobe-{Guid.NewGuid():N}");
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // The probe and a grandchild it backgrounds both hang; both must go at the deadline.
        var probe = new ProbeSpec(new ExecCheck(["sh", "-c", $"sleep 300 & echo $$ $! > {pidFile}; sleep 300"]))
        { Period = Ms(300), Timeout = Ms(400), FailureThreshold = 1, Action = ProbeAction.Notify };
        sup.Start(WithProbe(Fixture.Spec("svc", "hang"), probe));
        var bad = await rec.Event<Unhealthy>();
        // "(killed)" follows when the kill ended within the grace; under load the runner may give up on it first.
        Assert.StartsWith("exec check timed out after 400ms", bad.Why);
        // Read once: every check rewrites the file (truncate, then write), so a second read can fall between the two.
        string written = "";
        Assert.True(await Procs.Eventually(() => File.Exists(pidFile) && (written = File.ReadAllText(pidFile).Trim()).Length > 0));
        var pids = written.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToList();
        Assert.Equal(2, pids.Count);
        Assert.True(await Procs.Eventually(() => pids.All(p => !Procs.Alive(p)), TimeSpan.FromSeconds(5)),
            "the probe and its grandchild are gone: " + string.Join("; ", pids.Where(Procs.Alive).Select(p => File.ReadAllText($"/proc/{p}/stat"))));
        File.Delete(pidFile);
        await sup.StopAll();
        Assert.True(await Procs.Eventually(() => Procs.OurZombies().Count == 0, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Health_failures_count_against_the_crash_loop_limit()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var probe = new ProbeSpec(new OutputStallCheck()) { Timeout = Ms(300), Period = Ms(100) };
        var spec = WithProbe(Fixture.Spec("stuck", "marker", "up", "hang"), probe) with
        {
            Restart = RestartSpec.Default with
            {
                Schedule = [TimeSpan.FromMilliseconds(50)],
                Limit = new CrashLoopLimit(2, TimeSpan.FromMinutes(1), LimitAction.Stop, TimeSpan.FromMinutes(5)),
            },
        };
        var unit = sup.Start(spec);
        var gaveUp = await rec.Event<GaveUp>(timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(3, rec.Events.OfType<Unhealthy>().Count());
        Assert.Equal(3, rec.Events.OfType<Spawned>().Count());
        Assert.Equal(UnitState.Failed, unit.State);
    }

    [Fact]
    public async Task Action_kill_sends_SIGKILL_to_the_tree_at_once_even_to_a_process_ignoring_SIGTERM()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var probe = new ProbeSpec(new OutputStallCheck()) { Timeout = Ms(300), Period = Ms(100), Action = ProbeAction.Kill };
        var spec = WithProbe(Fixture.Spec("cops", "ignore-term", "grandchild", "marker", "up", "hang").WithSchedule(50), probe)
            .WithStop(TimeSpan.FromSeconds(30));
        sup.Start(spec);
        var gc = await rec.Line(l => l.Text.StartsWith("GRANDCHILD pid="), "grandchild");
        int grandchild = Procs.ParsePid(gc.Text, "GRANDCHILD pid=");
        var stop = await rec.Event<StopRequested>();
        Assert.Equal(9, stop.Signal);
        var exited = await rec.Event<Exited>();
        Assert.Equal(9, exited.Status.Signal);
        Assert.True(await Procs.Eventually(() => !Procs.Alive(grandchild)), "the grandchild went with the tree");
        await rec.Count<Spawned>(2); // the restart policy brought it back, well before the 30 s grace
    }

    [Fact]
    public async Task Action_notify_only_reports_and_recovery_is_reported_too()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var probe = new ProbeSpec(new OutputStallCheck()) { Timeout = Ms(400), Period = Ms(100), Action = ProbeAction.Notify };
        // The child stays silent until the test has seen the stall reported, then writes again: no race with how soon
        // the probe loop gets its first turn (on a busy machine, or while the thread pool is still growing at the
        // start of a test run, that came after a fixed 0.9 s silence now and then, and the stall was never seen).
        var go = Path.Combine(Path.GetTempPath(), $"vigil-notify-{Guid.NewGuid():N}");
        try
        {
            var unit = sup.Start(WithProbe(Fixture.Spec("flaky", "marker", "up", "wait-file", go, "tick", "50", "60", "hang"), probe));
            var bad = await rec.Event<Unhealthy>();
            Assert.Equal(ProbeAction.Notify, bad.Action);
            Assert.Equal(UnitState.Running, unit.State); // notify only: nothing was stopped
            await File.WriteAllTextAsync(go, "");
            var back = await rec.Event<Recovered>();
            Assert.Equal("output-stall", back.Probe);
            Assert.Equal(UnitState.Running, unit.State);
        }
        finally { File.Delete(go); }
        Assert.Single(rec.Events.OfType<Spawned>());
    }

    [Fact]
    public async Task Action_exec_runs_the_command_with_the_event_in_its_environment()
    {
        var outFile = Path.Combine(Path.GetTempPath(), $"vigil-action-{Guid.NewGuid():N}");
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var probe = new ProbeSpec(new OutputStallCheck())
        {
            Timeout = Ms(300), Period = Ms(100), Action = ProbeAction.Exec,
            ActionCommand = ["sh", "-c", "echo \"$VIGIL_EVENT|$VIGIL_UNIT|$VIGIL_PROBE|$VIGIL_PID|$VIGIL_REASON\" > \"$0\"; echo alerted", outFile],
        };
        sup.Start(WithProbe(Fixture.Spec("mute", "marker", "up", "hang"), probe));
        var up = await rec.Marker("up");
        var ran = await rec.Event<HealthActionRan>();
        Assert.True(ran.Outcome.Succeeded, ran.Reason);
        Assert.Contains("alerted", ran.Reason);
        var parts = File.ReadAllText(outFile).Trim().Split('|');
        File.Delete(outFile);
        Assert.Equal("unhealthy", parts[0]);
        Assert.Equal("mute", parts[1]);
        Assert.Equal("output-stall", parts[2]);
        Assert.Equal(up.Pid.ToString(), parts[3]);
        Assert.StartsWith("hung: no output for", parts[4]);
        Assert.Single(rec.Events.OfType<Spawned>()); // exec does not restart
    }

    /// <summary>A library probe: healthy while the process's output keeps mentioning new work, like a C# user's
    /// "count the rows of my table".</summary>
    private sealed class RowCountProbe(Func<int> rows) : IProbe
    {
        private int _last = -1;
        public ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
        {
            int now = rows();
            var r = now > _last ? ProbeResult.Ok($"{now} rows", new Dictionary<string, double> { ["rows"] = now }) : ProbeResult.Fail($"stuck at {now} rows");
            _last = now;
            return ValueTask.FromResult(r);
        }
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task A_custom_IProbe_from_the_library_drives_recovery_and_publishes_its_gauges()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        int created = 0;
        var probe = new ProbeSpec(new CustomCheck("rows", () =>
        {
            Interlocked.Increment(ref created);
            return new RowCountProbe(() => rec.Lines.Count(l => l.Text.StartsWith("tick ")));
        })) { Period = Ms(300), FailureThreshold = 2 };
        var unit = sup.Start(WithProbe(Fixture.Spec("table", "tick", "100", "10", "marker", "stuck", "hang").WithSchedule(50), probe));
        await rec.Marker("stuck");
        Assert.True(await Procs.Eventually(() => unit.Snapshot.Gauges.TryGetValue("rows", out var rows) && rows > 0), "the probe's gauge is in the snapshot");
        var bad = await rec.Event<Unhealthy>();
        Assert.StartsWith("stuck at ", bad.Why);
        Assert.Equal("rows", bad.Probe);
        await rec.Count<Spawned>(2);
        Assert.True(await Procs.Eventually(() => created == 2), "a fresh probe for each run");
    }

    [Fact]
    public async Task Readiness_and_startup_probes_publish_events_and_the_snapshot()
    {
        var flag = Path.Combine(Path.GetTempPath(), $"vigil-ready-{Guid.NewGuid():N}");
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var startup = new ProbeSpec(new ExecCheck(["sh", "-c", $"test -e {flag}"])) { Name = "booted", Role = ProbeRole.Startup, Period = Ms(100), Timeout = Ms(2000), FailureThreshold = 100 };
        var ready = new ProbeSpec(new ExecCheck(["true"])) { Name = "accepting", Role = ProbeRole.Readiness, Period = Ms(100), Timeout = Ms(2000) };
        // The test, not the child, makes the startup probe pass, after it has seen the unit not ready: with both cores
        // busy the child's own flag (50 ms after "up") was sometimes there, and passed, before the test looked.
        var unit = sup.Start(Fixture.Spec("svc", "marker", "up", "hang") with { Health = [startup, ready] });
        await rec.Marker("up");
        Assert.False(unit.Snapshot.Ready);
        await File.WriteAllTextAsync(flag, "");
        var started = await rec.Event<ReadinessChanged>(e => e.Startup);
        Assert.Equal("started", started.Kind);
        var isReady = await rec.Event<ReadinessChanged>(e => !e.Startup && e.Ready);
        Assert.Equal("ready", isReady.Kind);
        Assert.True(await Procs.Eventually(() => unit.Snapshot.Ready == true));
        File.Delete(flag);
    }
}
