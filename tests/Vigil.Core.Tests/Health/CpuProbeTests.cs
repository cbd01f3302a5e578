using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Vigil.Tests.Health;

/// <summary>Integration: the cpu probe against real fixture processes that spin, stop themselves, or work steadily.</summary>
[Collection("processes")]
public sealed class CpuProbeTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task A_spinning_process_over_max_over_the_window_is_restarted_but_not_before_a_full_window()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // max 10%: a spinner gets far more even on a busy machine (two cores, two `yes` and a build beside it gave it
        // less than 50% once in CI); an idle process stays near 0%.
        var unit = sup.Start(Fixture.Spec("spinner", "marker", "a", "busy").WithSchedule(100)
            .WithProbes(ResourceProbeKit.Probe(new CpuCheck(MaxPercent: 10, MinPercent: null, Window), periodMs: 500)));
        var spawned = await rec.Event<Spawned>();
        var a = await rec.Marker("a");
        var bad = await rec.Event<Unhealthy>();
        Assert.Equal("cpu", bad.Probe);
        Assert.Equal(a.Pid, bad.Pid);
        Assert.Matches(@"^cpu: \d+% of a core for 2s \(max 10%\)$", bad.Why);
        Assert.True(bad.Time - spawned.Time >= Window, $"a verdict {bad.Time - spawned.Time} after the spawn, before a full window");
        // Within window + one period of the start of the spin (the runtime's start-up counts too, so it can be
        // less than a window after the marker), with room for a loaded machine.
        Assert.InRange(output.Latency("cpu max", a.Time, bad), TimeSpan.Zero, Window + TimeSpan.FromSeconds(4));
        await rec.Event<Spawned>(s => s.RestartCount == 1);
        Assert.False(Procs.Alive(a.Pid));
        Assert.True(unit.Snapshot.Gauges.ContainsKey("cpu_percent"));
    }

    [Fact]
    public async Task A_stopped_process_under_min_for_the_window_is_restarted_and_the_stopped_tree_is_killed()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // It ignores SIGTERM too, so the stop escalates to SIGKILL, which a stopped process cannot hold off.
        sup.Start(Fixture.Spec("frozen", "ignore-term", "grandchild", "marker", "a", "stop-self", "hang").WithSchedule(100)
            .WithStop(TimeSpan.FromSeconds(1))
            .WithProbes(ResourceProbeKit.Probe(new CpuCheck(MaxPercent: null, MinPercent: 1, Window), periodMs: 500)));
        var gc = await rec.Line(l => l.Text.StartsWith("GRANDCHILD pid="), "the grandchild");
        int grandchild = Procs.ParsePid(gc.Text, "pid=");
        var a = await rec.Marker("a");
        Assert.True(await Procs.Eventually(() => ProcFs.TryReadStat(a.Pid, out var st) && st.State == OsState.Stopped), "the fixture did not stop itself");
        var stoppedAt = DateTimeOffset.Now;

        var bad = await rec.Event<Unhealthy>();
        Assert.Equal(a.Pid, bad.Pid);
        Assert.Matches(@"^stuck: \d+\.\d% cpu for 2s \(min 1%\)$", bad.Why);
        Assert.InRange(output.Latency("cpu min", stoppedAt, bad), TimeSpan.Zero, Window + TimeSpan.FromSeconds(4));
        // The stop path sends SIGCONT with SIGTERM; ignored, it escalates to SIGKILL: nothing of the tree is left.
        var exited = await rec.Event<Exited>(e => e.Pid == a.Pid);
        Assert.Contains("unhealthy: stuck", exited.Why);
        Assert.Equal(9, exited.Status.Signal);
        await rec.Event<Spawned>(s => s.RestartCount == 1);
        Assert.False(Procs.Alive(a.Pid));
        Assert.True(await Procs.Eventually(() => !Procs.Alive(grandchild)), $"grandchild {grandchild} outlived the restart");
    }

    [Fact]
    public async Task A_steadily_working_process_is_not_stuck()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // A line every 2 ms is about 2% of a core on a quiet machine, but with both cores busy it is starved to about
        // 0.5% (seen): a 0.1% minimum still tells it from a stuck process, which reads 0.0%.
        var unit = sup.Start(Fixture.Spec("worker", "tick", "2", "0").WithSchedule(100)
            .WithProbes(ResourceProbeKit.Probe(new CpuCheck(MaxPercent: 90, MinPercent: 0.1, Window), periodMs: 500)));
        await rec.Line(l => l.Text == "tick 2500", "2500 ticks (about 5 s: two full windows)", TimeSpan.FromSeconds(40));
        Assert.Empty(rec.Events.OfType<Unhealthy>());
        Assert.Single(rec.Events.OfType<Spawned>());
        Assert.True(unit.Snapshot.Gauges.TryGetValue("cpu_percent", out var cpu), "no cpu_percent gauge");
        Assert.InRange(cpu, 0, 90);
    }

    // ---- the judgement, without processes ----

    private static TimeSpan S(double s) => TimeSpan.FromSeconds(s);

    [Fact]
    public void The_window_is_full_only_once_samples_reach_back_a_whole_window()
    {
        var w = new CpuWindow(S(2));
        Assert.Equal(100, w.Add(S(0), S(0.5), 0.5));
        Assert.False(w.Full);
        w.Add(S(0.5), S(1), 0.5);
        w.Add(S(1), S(1.5), 0.5);
        Assert.False(w.Full);
        w.Add(S(1.5), S(2), 0.5);
        Assert.True(w.Full);
        Assert.Equal(100, w.Average, 3);
    }

    [Fact]
    public void The_window_slides_so_a_burst_counts_only_while_it_is_in_the_last_window()
    {
        var w = new CpuWindow(S(2));
        for (int i = 0; i < 4; i++) w.Add(S(i * 0.5), S(i * 0.5 + 0.5), i == 1 ? 0.5 : 0); // 100% in [0.5, 1], idle otherwise
        Assert.Equal(25, w.Average, 3);
        w.Add(S(2), S(2.5), 0); // the window is now [0.5, 2.5]: still holds the burst
        Assert.Equal(25, w.Average, 3);
        w.Add(S(2.5), S(3), 0); // [1, 3]: the burst is gone
        Assert.Equal(0, w.Average, 3);
    }

    [Fact]
    public void The_window_total_is_judged_so_light_work_in_coarse_ticks_is_not_stuck()
    {
        var w = new CpuWindow(S(2));
        // 2% of a core measured in 10 ms ticks at 500 ms samples: 0, 0, 0.01, 0, 0.01 … most samples read zero.
        double[] cpu = [0, 0, 0.01, 0, 0.01, 0];
        for (int i = 0; i < cpu.Length; i++) w.Add(S(i * 0.5), S(i * 0.5 + 0.5), cpu[i]);
        Assert.True(w.Full);
        Assert.InRange(w.Average, 0.9, 1.1); // 20 ms over 2 s: 1%
    }

    [Fact]
    public void Tree_cpu_counts_members_born_since_and_reaped_children_once()
    {
        var before = new Dictionary<(int, ulong), TreeCpu.Times>
        {
            [(10, 1)] = new(1, Own: 100, Children: 0),    // the main process
            [(11, 2)] = new(10, Own: 40, Children: 0),    // a child that is reaped by 10 before the next sample
            [(12, 3)] = new(10, Own: 5, Children: 0),     // a child that keeps running
        };
        var after = new Dictionary<(int, ulong), TreeCpu.Times>
        {
            [(10, 1)] = new(1, Own: 110, Children: 50),   // +10 own; child 11 ended at 50 ticks in all
            [(12, 3)] = new(10, Own: 8, Children: 0),     // +3
            [(13, 4)] = new(10, Own: 2, Children: 0),     // born since: +2
        };
        // 10 + 3 + 2, plus the 10 ticks child 11 used after the first sample (50 - the 40 already counted).
        Assert.Equal(25, TreeCpu.Delta(before, after));
    }

    [Fact]
    public void Tree_cpu_of_a_member_that_left_without_being_reaped_in_the_tree_is_not_subtracted()
    {
        var before = new Dictionary<(int, ulong), TreeCpu.Times> { [(10, 1)] = new(1, 100, 0), [(11, 2)] = new(10, 40, 0) };
        var after = new Dictionary<(int, ulong), TreeCpu.Times> { [(10, 1)] = new(1, 130, 0) };
        Assert.Equal(30, TreeCpu.Delta(before, after));
    }
}
