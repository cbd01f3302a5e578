using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Supervision;

[Collection("processes")]
public sealed class StopTests
{
    [Fact]
    public async Task Child_that_obeys_SIGTERM_stops_without_escalation()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("obey", "marker", "up", "hang"));
        var up = await rec.Marker("up");
        var result = await unit.StopAndWaitAsync();
        Assert.Empty(result.Killed);
        Assert.Empty(result.Survivors);
        Assert.Equal(15, result.Exit?.Signal);
        Assert.False(Procs.Alive(up.Pid));
        Assert.Equal(UnitState.Stopped, unit.State);
        Assert.DoesNotContain(rec.Events, e => e is StopEscalated);
        Assert.DoesNotContain(rec.Events, e => e is Spawned s && s.Pid != up.Pid); // no restart after a requested stop
    }

    [Fact]
    public async Task Child_ignoring_SIGTERM_gets_SIGKILL_after_the_grace_period()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("stubborn", "ignore-term", "marker", "up", "hang").WithStop(TimeSpan.FromMilliseconds(800)));
        var up = await rec.Marker("up");
        var started = DateTime.UtcNow;
        var result = await unit.StopAndWaitAsync();
        var took = DateTime.UtcNow - started;
        Assert.Equal(9, result.Exit?.Signal);
        Assert.Contains(up.Pid, result.Killed);
        Assert.Empty(result.Survivors);
        Assert.True(took >= TimeSpan.FromMilliseconds(750), $"stopped after {took}, before the grace period");
        var esc = await rec.Event<StopEscalated>();
        Assert.Contains(up.Pid, esc.Killed);
        Assert.False(Procs.Alive(up.Pid));
    }

    [Fact]
    public async Task Grandchildren_in_the_group_and_setsid_ones_are_gone_after_stop()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("tree", "grandchild", "grandchild-setsid", "marker", "up", "hang").WithStop(TimeSpan.FromMilliseconds(1500)));
        await rec.Marker("up");
        var gc = Procs.ParsePid((await rec.Line(l => l.Text.StartsWith("GRANDCHILD pid="), "grandchild")).Text, "pid=");
        var gs = Procs.ParsePid((await rec.Line(l => l.Text.StartsWith("GRANDCHILD-SETSID pid="), "setsid grandchild")).Text, "pid=");
        // Both grandchildren ignore SIGTERM; wait until they have said so.
        await rec.WaitFor((_, lines) => lines.Count(l => l.Text.StartsWith("MARKER grandchild-up")) >= 2 ? "ok" : null, "grandchildren up");
        Assert.True(ProcFs.TryReadStat(gs, out var st) && st.Session == gs, "setsid grandchild has its own session");
        var result = await unit.StopAndWaitAsync();
        Assert.False(Procs.Alive(gc), "same-group grandchild survived");
        Assert.False(Procs.Alive(gs), "setsid grandchild survived");
        Assert.Contains(gc, result.Killed);
        Assert.Contains(gs, result.Killed);
        Assert.Empty(result.Survivors);
        Assert.True(await Procs.Eventually(() => Procs.OurZombies().Count == 0), "zombies left: " + string.Join(",", Procs.OurZombies()));
    }

    [Fact]
    public async Task A_SIGSTOPped_child_still_acts_on_the_stop_signal()
    {
        await using var sup = new Supervisor(new SupervisorOptions { StatusInterval = TimeSpan.FromMilliseconds(50) });
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("frozen", "marker", "up", "stop-self", "hang").WithStop(TimeSpan.FromSeconds(20)));
        await rec.Event<StatusChanged>(e => e.To == ProcessStatus.Stopped, "status stopped");
        Assert.Equal(ProcessStatus.Stopped, unit.Status);
        var started = DateTime.UtcNow;
        var result = await unit.StopAndWaitAsync();
        Assert.Equal(15, result.Exit?.Signal); // TERM was delivered (thanks to SIGCONT), no SIGKILL needed
        Assert.Empty(result.Killed);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task Stop_and_restart_by_name_apply_to_every_unit_with_that_name()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var a = sup.Start(Fixture.Spec("twin", "marker", "up", "hang"));
        var b = sup.Start(Fixture.Spec("twin", "marker", "up", "hang"));
        var other = sup.Start(Fixture.Spec("other", "marker", "up", "hang"));
        await rec.Count<Spawned>(3);
        await rec.WaitFor((_, l) => l.Count(x => x.Text.StartsWith("MARKER up")) >= 3 ? "ok" : null, "3 markers");
        var firstPids = new[] { a.Pid, b.Pid };
        Assert.Equal(2, await sup.Restart("twin"));
        await rec.Count<Spawned>(5);
        Assert.NotEqual(firstPids[0], a.Pid);
        Assert.NotEqual(firstPids[1], b.Pid);
        Assert.Equal(1, rec.Events.OfType<Spawned>().Count(s => s.Name == "other"));
        Assert.Equal(2, await sup.SignalAsync("twin", 0));
        var results = await sup.Stop("twin");
        Assert.Equal(2, results.Count);
        Assert.All(new[] { a, b }, u => Assert.Equal(UnitState.Stopped, u.State));
        Assert.Equal(UnitState.Running, other.State);
        var all = await sup.StopAll();
        Assert.Equal(3, all.Count);
        Assert.Equal(UnitState.Stopped, other.State);
    }

    [Fact]
    public async Task StopAll_stops_in_parallel_within_one_grace_period()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        for (int i = 0; i < 10; i++) sup.Start(Fixture.Spec($"s{i}", "ignore-term", "marker", "up", "hang").WithStop(TimeSpan.FromSeconds(1)));
        await rec.WaitFor((_, l) => l.Count(x => x.Text.StartsWith("MARKER up")) >= 10 ? "ok" : null, "10 markers");
        var started = DateTime.UtcNow;
        var results = await sup.StopAll();
        var took = DateTime.UtcNow - started;
        Assert.All(results, r => Assert.Empty(r.Survivors));
        Assert.All(results, r => Assert.Equal(9, r.Exit?.Signal));
        // Sequential stops would take 10 × 1 s; parallel ones take about one grace period.
        Assert.True(took < TimeSpan.FromSeconds(6), $"took {took}");
    }

    [Fact]
    public async Task Kill_sends_SIGKILL_to_the_tree_at_once()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("k", "ignore-term", "grandchild", "marker", "up", "hang").WithStop(TimeSpan.FromMinutes(5)));
        await rec.Marker("up");
        var gc = Procs.ParsePid((await rec.Line(l => l.Text.StartsWith("GRANDCHILD pid="), "grandchild")).Text, "pid=");
        var result = await unit.Kill().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(9, result.Exit?.Signal);
        Assert.False(Procs.Alive(gc));
        Assert.Equal(UnitState.Stopped, unit.State);
    }

    [Fact]
    public async Task Disposing_the_supervisor_stops_children_but_not_detached_ones()
    {
        int normalPid, detachedPid;
        var sup = new Supervisor();
        using var rec = new Recorder(sup);
        await using (sup)
        {
            var normal = sup.Start(Fixture.Spec("normal", "marker", "up", "hang"));
            var detached = sup.Start(Fixture.Spec("detached", "hang") with { Detach = true });
            await rec.Marker("up");
            await rec.Count<Spawned>(2);
            normalPid = normal.Pid!.Value;
            detachedPid = detached.Pid!.Value;
        }
        Assert.False(Procs.Alive(normalPid));
        Assert.True(Procs.Alive(detachedPid), "detached child did not survive");
        // Clean up the detached one ourselves: the supervisor is gone, so nothing may restart it.
        ProcessIdentity.Of(detachedPid)!.Value.Signal(9);
        Assert.True(await Procs.Eventually(() => !Procs.Alive(detachedPid)));
        var detachedUnit = sup.Find("detached").Single();
        Assert.Equal(9, (await detachedUnit.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10))).Signal);
        Assert.Equal(UnitState.Exited, detachedUnit.State);
        Assert.Single(rec.Events.OfType<Spawned>(), e => e.Name == "detached");
    }
}
