using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Supervision;

/// <summary>Integration: real fixture processes under a real supervisor.</summary>
[Collection("processes")]
public sealed class LifecycleTests
{
    [Fact]
    public async Task Spawned_process_prints_its_marker_and_reports_its_exit_code()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("exit3", "marker up", "exit", "3").WithSchedule(0) with { Command = [Fixture.Path, "marker", "up", "exit", "3"] });
        var line = await rec.Marker("up");
        var exited = await rec.Event<Exited>();
        Assert.Equal(3, exited.Status.Code);
        Assert.Null(exited.Status.Signal);
        Assert.Equal(line.Pid, exited.Pid);
        Assert.Equal("exited", exited.Kind);
        Assert.Contains("exited with code 3", exited.Reason);
        await rec.Event<NotRestarting>();
        Assert.Equal(UnitState.Exited, unit.State);
    }

    [Theory]
    [InlineData("KILL", 9)]
    [InlineData("SEGV", 11)]
    [InlineData("TERM", 15)]
    public async Task Death_by_signal_is_reported_as_the_signal_not_an_exit_code(string sig, int number)
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        sup.Start(Fixture.Spec("sig", "signal", sig).WithSchedule(0));
        var exited = await rec.Event<Exited>();
        Assert.Null(exited.Status.Code);
        Assert.Equal(number, exited.Status.Signal);
        Assert.Equal("killed", exited.Kind);
        Assert.Contains($"killed by SIG{sig}", exited.Reason);
    }

    [Fact]
    public async Task Exit_code_137_is_not_confused_with_SIGKILL()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        sup.Start(Fixture.Spec("x", "exit", "137").WithSchedule(0));
        var exited = await rec.Event<Exited>();
        Assert.Equal(137, exited.Status.Code);
        Assert.Null(exited.Status.Signal);
    }

    [Fact]
    public async Task Crashing_process_restarts_following_the_schedule_in_order()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("crash", "marker", "up", "exit", "1").WithSchedule(100, 400, 800));
        var spawns = await rec.Count<Spawned>(4, timeout: TimeSpan.FromSeconds(30));
        var backoffs = rec.Events.OfType<BackingOff>().Take(3).Select(b => b.Delay.TotalMilliseconds).ToArray();
        Assert.Equal(new double[] { 100, 400, 800 }, backoffs);
        // Real time between an exit and the next spawn is at least the scheduled delay. (Not also "each gap longer than
        // the last": with both cores busy the 100 ms timer once fired after the 400 ms one's gap, a lateness that says
        // nothing about the schedule, which the backoff events above give exactly.)
        var exits = rec.Events.OfType<Exited>().ToList();
        var gaps = Enumerable.Range(0, 3).Select(i => (spawns[i + 1].Time - exits[i].Time).TotalMilliseconds).ToArray();
        Assert.True(gaps[0] >= 95 && gaps[1] >= 395 && gaps[2] >= 795, string.Join(",", gaps));
        Assert.Equal(3, spawns[3].RestartCount);
        Assert.True(unit.RestartCount >= 3);
        await unit.StopAndWaitAsync();
    }

    [Fact]
    public async Task Policy_never_and_empty_schedule_do_not_restart()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var a = sup.Start(Fixture.Spec("never", "exit", "1") with { Restart = RestartSpec.Default with { Policy = RestartPolicyKind.Never } });
        var b = sup.Start(Fixture.Spec("empty", "exit", "1") with { Restart = RestartSpec.Default with { Schedule = [] } });
        var c = sup.Start(Fixture.Spec("zero", "exit", "1").WithSchedule(0));
        var d = sup.Start(Fixture.Spec("clean", "exit", "0") with { Restart = RestartSpec.Default with { Policy = RestartPolicyKind.OnFailure } });
        var nr = await rec.Count<NotRestarting>(4);
        Assert.Contains(nr, e => e.Name == "never" && e.Reason.Contains("never"));
        Assert.Contains(nr, e => e.Name == "empty" && e.Reason.Contains("empty"));
        Assert.Contains(nr, e => e.Name == "zero" && e.Reason.Contains("empty"));
        Assert.Contains(nr, e => e.Name == "clean" && e.Reason.Contains("on-failure"));
        Assert.Equal(4, rec.Events.OfType<Spawned>().Count());
        Assert.All(new[] { a, b, c, d }, u => Assert.Equal(UnitState.Exited, u.State));
    }

    [Fact]
    public async Task Crash_loop_limit_leads_to_slow_retry_with_its_event()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var spec = Fixture.Spec("loop", "exit", "2").WithSchedule(10);
        spec = spec with { Restart = spec.Restart with { Limit = new CrashLoopLimit(3, TimeSpan.FromMinutes(1), LimitAction.SlowRetry, TimeSpan.FromMinutes(10)) } };
        var unit = sup.Start(spec);
        var slow = await rec.Event<SlowRetrying>(timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(TimeSpan.FromMinutes(10), slow.Delay);
        Assert.Contains("crash loop", slow.Reason);
        Assert.Equal(4, rec.Events.OfType<Spawned>().Count()); // first run + 3 restarts inside the budget
        Assert.Equal(UnitState.SlowRetry, unit.State);
        Assert.Equal(TimeSpan.FromMinutes(10), unit.Snapshot.NextRestartIn);
        await unit.StopAndWaitAsync();
        Assert.Equal(UnitState.Stopped, unit.State);
    }

    [Fact]
    public async Task Crash_loop_limit_with_then_stop_gives_up_with_an_event()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var spec = Fixture.Spec("loop", "exit", "2").WithSchedule(10);
        spec = spec with { Restart = spec.Restart with { Limit = new CrashLoopLimit(2, TimeSpan.FromMinutes(1), LimitAction.Stop) } };
        var unit = sup.Start(spec);
        var gave = await rec.Event<GaveUp>(timeout: TimeSpan.FromSeconds(30));
        Assert.Contains("crash loop", gave.Reason);
        Assert.Equal(UnitState.Failed, unit.State);
    }

    [Fact]
    public async Task Spawn_failures_are_typed_and_follow_the_restart_policy()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var dir = Directory.CreateTempSubdirectory("vigil-test-");
        var noexec = Path.Combine(dir.FullName, "noexec.sh");
        File.WriteAllText(noexec, "#!/bin/sh\necho hi\n");
        sup.Start(new ProcessSpec { Name = "missing", Command = ["/nonexistent/prog"], Restart = RestartSpec.Default with { Schedule = [TimeSpan.FromMilliseconds(50), TimeSpan.Zero] } }.WithSchedule(50, 50));
        sup.Start(new ProcessSpec { Name = "nopath", Command = ["no-such-command-xyz"] }.WithSchedule(0));
        sup.Start(new ProcessSpec { Name = "noperm", Command = [noexec] }.WithSchedule(0));
        sup.Start(new ProcessSpec { Name = "badcwd", Command = ["true"], Cwd = "/nonexistent-dir" }.WithSchedule(0));
        sup.Start(new ProcessSpec { Name = "noscript", Script = "missing.py", Cwd = dir.FullName }.WithSchedule(0));
        var fails = await rec.Count<SpawnFailed>(6);
        Assert.Equal(SpawnErrorKind.NotFound, fails.First(f => f.Name == "missing").Failure.Kind);
        Assert.Contains("/nonexistent/prog", fails.First(f => f.Name == "missing").Reason);
        Assert.Contains("not found in PATH", fails.First(f => f.Name == "nopath").Reason);
        Assert.Equal(SpawnErrorKind.PermissionDenied, fails.First(f => f.Name == "noperm").Failure.Kind);
        Assert.Equal(SpawnErrorKind.BadWorkingDirectory, fails.First(f => f.Name == "badcwd").Failure.Kind);
        Assert.Contains("missing.py", fails.First(f => f.Name == "noscript").Reason);
        // "missing" failed, backed off, and failed again: a spawn failure is treated like a crash.
        Assert.True(fails.Count(f => f.Name == "missing") >= 2);
        Assert.Contains(rec.Events, e => e is BackingOff b && b.Name == "missing");
        dir.Delete(true);
    }

    [Fact]
    public async Task Env_overrides_removals_and_cwd_reach_the_child()
    {
        Environment.SetEnvironmentVariable("VIGIL_TEST_REMOVE_ME", "present");
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var dir = Directory.CreateTempSubdirectory("vigil-cwd-");
        sup.Start(Fixture.Spec("py", "env", "PYTHONUNBUFFERED").WithSchedule(0));
        sup.Start(Fixture.Spec("py0", "env", "PYTHONUNBUFFERED").WithSchedule(0) with
        {
            Env = System.Collections.Immutable.ImmutableDictionary<string, string?>.Empty.Add("PYTHONUNBUFFERED", "0"),
        });
        sup.Start(Fixture.Spec("env", "env", "FOO", "env", "VIGIL_TEST_REMOVE_ME", "env", "HOME", "cwd").WithSchedule(0) with
        {
            Cwd = dir.FullName,
            Env = System.Collections.Immutable.ImmutableDictionary<string, string?>.Empty.Add("FOO", "bar baz").Add("VIGIL_TEST_REMOVE_ME", null),
        });
        await rec.Line(l => l.Text.StartsWith("CWD "), "cwd line");
        await rec.Line(l => l.Name == "py0", "py0 line");
        await rec.Line(l => l.Name == "py", "py line");
        Assert.Equal("ENV PYTHONUNBUFFERED=1", rec.Lines.First(l => l.Name == "py").Text);
        Assert.Equal("ENV PYTHONUNBUFFERED=0", rec.Lines.First(l => l.Name == "py0").Text);
        var texts = rec.Lines.Select(l => l.Text).ToList();
        Assert.Contains("ENV FOO=bar baz", texts);
        Assert.Contains("ENV VIGIL_TEST_REMOVE_ME unset", texts);
        Assert.Contains($"ENV HOME={Environment.GetEnvironmentVariable("HOME")}", texts);
        Assert.Contains($"CWD {dir.FullName}", texts);
        dir.Delete(true);
    }

    [Fact]
    public async Task Child_leads_its_own_process_group_and_session()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("pg", "marker", "up", "hang"));
        var line = await rec.Marker("up");
        Assert.True(ProcFs.TryReadStat(line.Pid, out var st));
        Assert.Equal(line.Pid, st.ProcessGroup);
        Assert.Equal(line.Pid, st.Session);
        await unit.StopAndWaitAsync();
    }
}
