using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Supervision;

/// <summary>Nothing a unit starts escapes it: double-forked daemons are found (cgroup or marker), stopped with the
/// unit, cleaned up after each crash, and never pile up.</summary>
[Collection("processes")]
public sealed class MembershipTests
{
    private static readonly bool CgroupsHere = Cgroups.WritableParent().Dir is not null;

    public static TheoryData<TrackingMode> Modes() => [TrackingMode.Auto, TrackingMode.Marker];

    private static ProcessSpec Escaper(string token, int exitAfterMs) => new()
    {
        Name = "escaper",
        // The daemon double-forks out of the unit's session (setsid -f), so its parent dies and it is reparented:
        // neither a descendant of the main process nor in its session.
        Command = ["sh", "-c", $"setsid -f sleep {token}; echo started; sleep {exitAfterMs / 1000.0:0.###}; exit 1"],
        Restart = RestartSpec.Default with { Schedule = [TimeSpan.FromMilliseconds(50)] },
        Stop = StopSpec.Default with { Timeout = TimeSpan.FromSeconds(2), KillWait = TimeSpan.FromSeconds(2) },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task A_double_forked_daemon_does_not_pile_up_across_restarts_and_goes_with_the_stop(TrackingMode mode)
    {
        var token = "7771" + Random.Shared.Next(100, 999);
        await using (var sup = new Supervisor(new SupervisorOptions { Tracking = mode }))
        {
            using var rec = new Recorder(sup);
            var unit = sup.Start(Escaper(token, 200));
            // Five crashes: each run's daemon must be stopped as a leftover of that run.
            await rec.Count<Spawned>(6, timeout: TimeSpan.FromSeconds(30));
            var cleaned = await rec.Count<LeftoversCleaned>(4, timeout: TimeSpan.FromSeconds(30));
            Assert.All(cleaned, c => Assert.Empty(c.Survivors));
            // At most the current run's daemon (a run starts only once the previous run's leftovers are gone).
            var daemons = Procs.WithArg(token);
            Assert.True(daemons.Count <= 1, "daemons piled up: " + string.Join("; ", daemons.Select(Describe)) + "\n" + string.Join("\n", rec.Events));
            var result = await unit.StopAndWaitAsync();
            Assert.Empty(result.Survivors);
            var stopped = await rec.Event<Stopped>();
            Assert.Empty(stopped.Survivors);
            // The stop's "no process left" is the truth: nothing of the unit runs anywhere on the machine.
            Assert.Empty(Procs.WithArg(token));
            Assert.Empty(Procs.WithScope(sup.Membership!.Instance + "/"));
        }
        Assert.Empty(await Procs.LeftWithArg(token));
    }

    private static string Describe(int pid)
    {
        try { return $"{pid} ppid={(ProcFs.TryReadStat(pid, out var st) ? st.ParentPid : -1)} {File.ReadLines($"/proc/{pid}/cgroup").First(l => l.StartsWith("0::"))}"; }
        catch (IOException) { return pid + " (gone)"; }
    }

    [Fact]
    public async Task In_cgroup_mode_each_run_has_its_own_cgroup_which_goes_with_the_run()
    {
        if (!CgroupsHere) return; // the marker mode is covered by the theory above; no writable cgroup v2 here
        await using var sup = new Supervisor();
        Assert.True(sup.Membership!.UsesCgroups, sup.Membership.Description);
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("member", "grandchild-setsid", "marker", "up", "hang"));
        var up = await rec.Marker("up");
        var gs = Procs.ParsePid((await rec.Line(l => l.Text.StartsWith("GRANDCHILD-SETSID pid="), "setsid grandchild")).Text, "pid=");
        string CgroupOf(int pid) => File.ReadLines($"/proc/{pid}/cgroup").First(l => l.StartsWith("0::"))[3..];
        var expected = "/vigil-" + sup.Membership.Instance + "/member-";
        Assert.Contains(expected, CgroupOf(up.Pid));
        Assert.Equal(CgroupOf(up.Pid), CgroupOf(gs)); // a setsid'd grandchild is still a member
        var dir = Path.Combine(sup.Membership.CgroupRoot!, Path.GetFileName(CgroupOf(up.Pid)));
        Assert.True(Directory.Exists(dir));
        await unit.StopAndWaitAsync();
        Assert.False(Procs.Alive(gs));
        Assert.False(Directory.Exists(dir), "the run's cgroup is removed once the run is over");
        await sup.DisposeAsync();
        Assert.False(Directory.Exists(sup.Membership.CgroupRoot), "the instance's cgroup folder is removed at shutdown");
    }

    [Fact]
    public async Task Empty_cgroups_of_ended_supervisors_are_removed_and_a_populated_one_is_kept()
    {
        if (!CgroupsHere) return; // nothing to prune without cgroups
        var parent = Cgroups.WritableParent().Dir!;
        int dead = 4_000_000 + Random.Shared.Next(100_000); // a PID no process has (checked below)
        Assert.False(Directory.Exists($"/proc/{dead}"));
        var stale = Path.Combine(parent, $"vigil-lib-{dead}-1");
        Directory.CreateDirectory(Path.Combine(stale, "gone-1"));
        var token = "7776" + Random.Shared.Next(100, 999);
        var busy = Path.Combine(parent, $"vigil-lib-{dead}-2");
        Directory.CreateDirectory(Path.Combine(busy, "alive-1"));
        using var sleeper = System.Diagnostics.Process.Start("sleep", token);
        Assert.Equal(0, Cgroups.AddProcess(Path.Combine(busy, "alive-1"), sleeper.Id));
        try
        {
            await using var sup = new Supervisor();
            Assert.False(Directory.Exists(stale), "an empty cgroup of an ended supervisor is left");
            Assert.True(Directory.Exists(Path.Combine(busy, "alive-1")), "a cgroup that holds a process was removed");
        }
        finally
        {
            sleeper.Kill();
            await sleeper.WaitForExitAsync();
            await Procs.Eventually(() => Cgroups.Populated(Path.Combine(busy, "alive-1")) == false);
            Cgroups.RemoveDir(Path.Combine(busy, "alive-1"));
            Cgroups.RemoveDir(busy);
        }
    }

    [Fact]
    public async Task Every_process_of_a_run_carries_the_runs_marker()
    {
        await using var sup = new Supervisor(new SupervisorOptions { Tracking = TrackingMode.Marker });
        Assert.False(sup.Membership!.UsesCgroups);
        using var rec = new Recorder(sup);
        sup.Start(Fixture.Spec("marked", "grandchild", "marker", "up", "hang"));
        var up = await rec.Marker("up");
        var gc = Procs.ParsePid((await rec.Line(l => l.Text.StartsWith("GRANDCHILD pid="), "grandchild")).Text, "pid=");
        var members = Procs.WithScope(sup.Membership.Instance + "/marked-");
        Assert.Contains(up.Pid, members);
        Assert.Contains(gc, members);
    }

    [Fact]
    public async Task A_killed_supervisors_processes_are_found_and_stopped_by_the_next_one_with_the_same_instance()
    {
        var instance = "test-prev-" + Random.Shared.Next(100000, 999999);
        var token = "7775" + Random.Shared.Next(100, 999);
        var spec = new ProcessSpec { Name = "daemonish", Command = ["sh", "-c", $"setsid -f sleep {token}; exec sleep {token}"] };
        // The first supervisor must not restart what the second one stops (a killed Vigil restarts nothing).
        var first = new Supervisor(new SupervisorOptions { Instance = instance });
        using (var rec = new Recorder(first))
        {
            first.Start(spec with { Restart = RestartSpec.Default with { Policy = RestartPolicyKind.Never } });
            await rec.Event<Spawned>();
            // Both sleeps (the setsid'd one and the one sh execs into); `setsid -f` itself carries the token for a moment.
            Assert.True(await Procs.Eventually(() => Sleeps().Count == 2));
        }
        var before = Sleeps();
        List<int> Sleeps() => [.. Procs.WithArg(token).Where(pid => ProcFs.ReadCmdline(pid) is ["sleep", _])];
        // The first supervisor is abandoned without a stop, as if Vigil had been SIGKILLed: both processes run on.
        await using var second = new Supervisor(new SupervisorOptions { Instance = instance });
        using var rec2 = new Recorder(second);
        int found = await second.StopPreviousLeftoversAsync([spec], previousPid: 4121);
        Assert.Equal(2, found);
        var ev = await rec2.Event<PreviousRunLeftovers>();
        Assert.Equal("daemonish", ev.Name);
        Assert.Equal(before.Order(), ev.Pids.Order());
        Assert.Contains("left by vigil#4121", ev.Reason);
        Assert.Empty(await Procs.LeftWithArg(token));
        // Nothing to find a second time.
        Assert.Equal(0, await second.StopPreviousLeftoversAsync([spec]));
    }
}
