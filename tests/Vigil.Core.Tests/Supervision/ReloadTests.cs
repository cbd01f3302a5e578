using System.Collections.Immutable;
using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Supervision;

/// <summary>Integration: Define, RemoveAsync and ReconcileAsync (the reload) with real fixture processes.</summary>
[Collection("processes")]
public sealed class ReloadTests : IAsyncLifetime
{
    // Every process of a test carries this word (printed by its first step), so the test can find all it started,
    // wherever they were reparented, and prove none is left.
    private readonly string _token = "reload-" + Procs.UniqueSleep();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        var left = await Procs.LeftWithArg(_token);
        Procs.KillAll(left);
        Assert.True(left.Count == 0, "processes left running: " + string.Join(", ", left));
        Assert.True(await Procs.Eventually(() => Procs.OurZombies().Count == 0), "zombies left: " + string.Join(",", Procs.OurZombies()));
    }

    /// <summary>A fixture that prints the test's token, says <paramref name="marker"/> and hangs.</summary>
    private ProcessSpec Hang(string name, string marker, params string[] before) =>
        Fixture.Spec(name, ["print", _token, .. before, "marker", marker, "hang"]).WithStop(TimeSpan.FromSeconds(5));

    [Fact]
    public async Task Define_registers_a_unit_that_runs_only_when_started()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var defined = sup.Define(Hang("later", "later-up"));
        Assert.Equal(UnitState.Initial, defined.State);
        Assert.Null(defined.Pid);
        Assert.Same(defined, Assert.Single(sup.Find("later")));
        // Another unit starts and runs meanwhile: the defined one has not spawned by then.
        sup.Start(Hang("now", "now-up"));
        await rec.Marker("now-up");
        Assert.DoesNotContain(rec.Events, e => e is Spawned && e.UnitId == defined.Id);
        Assert.Equal(UnitState.Initial, defined.State);

        await defined.StartAsync();
        var up = await rec.Marker("later-up");
        Assert.Equal(defined.Pid, up.Pid);
        Assert.Equal(UnitState.Running, defined.State);

        var e = Assert.Throws<ArgumentException>(() => sup.Define(new ProcessSpec { Name = "bad", Command = ["x"], Stop = new StopSpec { Signal = 99 } }));
        Assert.Contains("stop.signal", e.Message);
        Assert.Equal(2, sup.Units.Count);
    }

    [Fact]
    public async Task Remove_stops_the_whole_tree_forgets_the_unit_closes_its_log_and_says_so()
    {
        using var dir = new TempDir();
        var log = Path.Combine(dir.Path, "gone.log");
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var keep = sup.Start(Hang("keep", "keep-up"));
        var unit = sup.Start(Hang("gone", "gone-up", "grandchild") with { Log = new LogSpec { File = log } });
        var up = await rec.Marker("gone-up");
        var grandchild = Procs.ParsePid((await rec.Line(l => l.Text.StartsWith("GRANDCHILD pid="), "grandchild")).Text, "pid=");
        await rec.Marker("keep-up");
        Assert.True(OpenByUs(log), "the log file should be open while the unit runs");

        var result = await sup.RemoveAsync(unit);

        Assert.Equal(up.Pid, result.Pid);
        Assert.Empty(result.Survivors);
        Assert.False(Procs.Alive(up.Pid));
        Assert.False(Procs.Alive(grandchild), "the grandchild outlived its unit's removal");
        Assert.Equal([keep], sup.Units);
        Assert.Empty(sup.Find("gone"));
        var removed = await rec.Event<Removed>();
        Assert.Equal((unit.Id, "gone", up.Pid, "removed"), (removed.UnitId, removed.Name, removed.Pid, removed.Kind));
        Assert.Equal(UnitState.Stopped, removed.State);
        // The stop came first, with the unit's own escalation and a reason.
        Assert.Contains(rec.Events, e => e is StopRequested s && s.UnitId == unit.Id && s.Why == "removed");
        Assert.True(IndexOf(rec, e => e is Stopped && e.UnitId == unit.Id) < IndexOf(rec, e => e is Removed));
        // Its log holds its last lines and is closed; the other unit is untouched.
        Assert.Contains("MARKER gone-up", await File.ReadAllTextAsync(log));
        Assert.False(OpenByUs(log), "the removed unit's log file is still open");
        Assert.Equal(UnitState.Running, keep.State);

        var twice = await Assert.ThrowsAsync<InvalidOperationException>(() => sup.RemoveAsync(unit));
        Assert.Contains("already removed", twice.Message);
        await using var other = new Supervisor();
        var foreign = other.Define(Hang("foreign", "x"));
        Assert.Contains("not a unit of this supervisor", (await Assert.ThrowsAsync<ArgumentException>(() => sup.RemoveAsync(foreign))).Message);
    }

    [Theory]
    [InlineData("defined")] [InlineData("running")] [InlineData("stopped")] [InlineData("probed")]
    public async Task Nothing_in_the_supervisor_holds_a_removed_unit(string how)
    {
        await using var sup = new Supervisor(new SupervisorOptions { StatusInterval = TimeSpan.FromMilliseconds(20) });
        using var rec = new Recorder(sup);
        var gone = await RunAndRemove(sup, rec);
        // The reactor thread keeps the handler of the last fd it dropped in a stack slot until it drops another (found
        // with dotnet-dump gcroot; one object, not a leak): another run's end moves it on, so that only a real
        // reference can keep the removed unit alive below.
        sup.Start(Fixture.Spec("other", "print", _token, "marker", "other-up", "exit", "0").WithSchedule(0));
        await rec.Event<NotRestarting>(e => e.Name == "other");
        // Polled: the removed unit's last callbacks (its stop task, its pipes' end) may still be finishing.
        var collected = await Procs.Eventually(() =>
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            return !gone.IsAlive;
        });
        Assert.True(collected, "the removed unit is still reachable (status watcher, event or output plumbing)");

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        async Task<WeakReference> RunAndRemove(Supervisor s, Recorder r)
        {
            var spec = Hang("weak", "weak-up");
            if (how == "probed") spec = spec with { Health = [new ProbeSpec(new OutputStallCheck()) { Timeout = TimeSpan.FromMinutes(1) }] };
            var unit = how == "defined" ? s.Define(spec) : s.Start(spec);
            if (how != "defined") await r.Marker("weak-up");
            if (how == "stopped") await unit.StopAndWaitAsync();
            await s.RemoveAsync(unit);
            return new WeakReference(unit);
        }
    }

    [Fact]
    public async Task Removing_a_unit_twice_at_once_fails_the_second_and_escalation_still_applies()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Hang("stubborn", "up", "ignore-term").WithStop(TimeSpan.FromMilliseconds(500)));
        var up = await rec.Marker("up");
        var first = sup.RemoveAsync(unit);
        var second = await Assert.ThrowsAsync<InvalidOperationException>(() => sup.RemoveAsync(unit));
        Assert.Contains("is already being removed", second.Message);
        var result = await first;
        Assert.Contains(up.Pid, result.Killed); // it ignored SIGTERM: SIGKILL after the grace
        Assert.Empty(sup.Units);
        Assert.Equal(unit.Id, (await rec.Event<Removed>()).UnitId);
        Assert.Single(rec.Events.OfType<StopRequested>()); // the refused second removal did nothing
    }

    [Fact]
    public async Task Reload_keeps_unchanged_units_replaces_changed_ones_starts_added_and_removes_the_rest()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var a = sup.Start(Hang("a", "a1"));
        var b = sup.Start(Hang("b", "b1"));
        var c = sup.Start(Hang("c", "c1"));
        var (a1, b1, c1) = (await rec.Marker("a1"), await rec.Marker("b1"), await rec.Marker("c1"));

        // A reloaded config: built anew (equal content, new collections), b's command changed, c gone, d new.
        var changes = await sup.ReconcileAsync([Hang("a", "a1"), Hang("d", "d1"), Hang("b", "b2")]);

        Assert.Equal(["a:Unchanged:", "d:Added:", "b:Changed:command", "c:Removed:"], changes.Select(Show));
        // Unchanged: the same unit, the same process, never signalled.
        Assert.Same(a, sup.Find("a").Single());
        Assert.Equal(a1.Pid, a.Pid);
        Assert.True(Procs.Alive(a1.Pid));
        Assert.DoesNotContain(rec.Events, e => e.UnitId == a.Id && e is StopRequested);
        // Changed: the old process is gone, a new unit runs the new command.
        var b2 = await rec.Marker("b2");
        var newB = sup.Find("b").Single();
        Assert.NotSame(b, newB);
        Assert.Equal(newB.Pid, b2.Pid);
        Assert.False(Procs.Alive(b1.Pid));
        Assert.Contains("b2", newB.Arguments);
        // Removed and added.
        Assert.False(Procs.Alive(c1.Pid));
        Assert.Empty(sup.Find("c"));
        var d1 = await rec.Marker("d1");
        Assert.Equal(sup.Find("d").Single().Pid, d1.Pid);
        // The registry follows the config's order; one event per change.
        Assert.Equal(["a", "d", "b"], sup.Units.Select(u => u.Name));
        var changed = await rec.Event<ReloadChanged>();
        Assert.Equal((newB.Id, b.Id, "reload-changed"), (changed.UnitId, changed.ReplacedUnitId, changed.Kind));
        Assert.Equal(["command"], changed.Fields);
        Assert.Equal(c.Id, (await rec.Event<ReloadRemoved>()).UnitId);
        Assert.Equal("d", (await rec.Event<ReloadAdded>()).Name);
        Assert.DoesNotContain(rec.Events, e => e is Removed); // a reload's removal is its own event
        // The old b was stopped before the new one spawned (it may hold a port the new one needs).
        Assert.True(IndexOf(rec, e => e is Stopped && e.UnitId == b.Id) < IndexOf(rec, e => e is Spawned && e.UnitId == newB.Id));
    }

    [Fact]
    public async Task A_dry_run_reports_the_same_changes_and_changes_nothing()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var a = sup.Start(Hang("a", "a1"));
        var b = sup.Start(Hang("b", "b1") with { Env = ImmutableDictionary<string, string?>.Empty.Add("X", "1") });
        var (a1, b1) = (await rec.Marker("a1"), await rec.Marker("b1"));
        var next = new[] { Hang("b", "b1") with { Env = ImmutableDictionary<string, string?>.Empty.Add("X", "2") }, Hang("new", "n1") };

        var dry = await sup.ReconcileAsync(next, dryRun: true);

        Assert.Equal(["b:Changed:env", "new:Added:", "a:Removed:"], dry.Select(Show));
        Assert.Equal([a, b], sup.Units);
        Assert.Equal((a1.Pid, b1.Pid), (a.Pid, b.Pid));
        Assert.True(Procs.Alive(a1.Pid) && Procs.Alive(b1.Pid));
        Assert.DoesNotContain(rec.Events, e => e is ReloadAdded or ReloadChanged or ReloadRemoved or StopRequested);

        var real = await sup.ReconcileAsync(next);
        Assert.Equal(dry.Select(Show), real.Select(Show));
        Assert.False(Procs.Alive(a1.Pid));
    }

    [Fact]
    public async Task Units_of_one_name_are_matched_in_order()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var w1 = sup.Start(Hang("w", "w1"));
        var w2 = sup.Start(Hang("w", "w2"));
        var (p1, p2) = (await rec.Marker("w1"), await rec.Marker("w2"));

        var grow = await sup.ReconcileAsync([Hang("w", "w1"), Hang("w", "w2") with { Args = ["--x"] }, Hang("w", "w3")]);
        Assert.Equal(["w:Unchanged:", "w:Changed:args", "w:Added:"], grow.Select(Show));
        await rec.Marker("w3");
        Assert.Equal(p1.Pid, w1.Pid);
        Assert.False(Procs.Alive(p2.Pid));
        Assert.Equal(3, sup.Find("w").Count);

        var shrink = await sup.ReconcileAsync([Hang("w", "w1")]);
        Assert.Equal(["w:Unchanged:", "w:Removed:", "w:Removed:"], shrink.Select(Show));
        Assert.Equal([w1], sup.Units);
        Assert.True(Procs.Alive(p1.Pid));
        Assert.DoesNotContain(w2, sup.Units);
    }

    [Fact]
    public async Task Units_added_outside_the_config_are_removed_by_a_reload_and_a_stopped_unit_stays_stopped()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var cfg = sup.Start(Hang("cfg", "cfg1"));
        var idle = sup.Start(Hang("idle", "idle1"));
        await rec.Marker("idle1");
        await idle.StopAndWaitAsync();
        var added = sup.Define(Hang("added", "added1")); // vigil add, never started
        var pid = (await rec.Marker("cfg1")).Pid;

        var changes = await sup.ReconcileAsync([Hang("cfg", "cfg1"), Hang("idle", "idle1")]);

        Assert.Equal(["cfg:Unchanged:", "idle:Unchanged:", "added:Removed:"], changes.Select(Show));
        Assert.Equal([cfg, idle], sup.Units);
        Assert.Equal(UnitState.Stopped, idle.State); // unchanged means untouched: not started either
        Assert.Equal(pid, cfg.Pid);
        Assert.Equal(added.Id, (await rec.Event<ReloadRemoved>()).UnitId);
    }

    [Fact]
    public async Task An_invalid_spec_refuses_the_whole_reload_and_changes_nothing()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var a = sup.Start(Hang("a", "a1"));
        var pid = (await rec.Marker("a1")).Pid;

        var e = await Assert.ThrowsAsync<ArgumentException>(() => sup.ReconcileAsync(
            [Hang("b", "b1"), new ProcessSpec { Name = "bad", Command = ["x"], Restart = RestartSpec.Default with { ResetAfter = TimeSpan.Zero } }]));

        Assert.Contains("[1] (bad): restart.resetAfter", e.Message);
        Assert.Equal([a], sup.Units);
        Assert.Equal(pid, a.Pid);
        Assert.DoesNotContain(rec.Events, ev => ev is ReloadAdded or ReloadRemoved or StopRequested);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sup.ReconcileAsync([], cancel: cancelled.Token));
        Assert.Equal([a], sup.Units);
    }

    [Fact]
    public async Task A_reload_that_removes_a_unit_being_removed_leaves_it_to_that_removal()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var slow = sup.Start(Hang("slow", "s1", "ignore-term").WithStop(TimeSpan.FromSeconds(1)));
        var keep = sup.Start(Hang("keep", "k1"));
        await rec.Marker("s1");
        await rec.Marker("k1");
        var removing = sup.RemoveAsync(slow);
        await rec.Event<StopRequested>(e => e.UnitId == slow.Id);

        // The config still names it: it is leaving already, so the reload starts a new one in its place.
        var changes = await sup.ReconcileAsync([Hang("keep", "k1"), Hang("slow", "s2")]);
        Assert.Equal(["keep:Unchanged:", "slow:Added:"], changes.Select(Show));
        await removing;
        await rec.Marker("s2");
        Assert.Equal(["keep", "slow"], sup.Units.Select(u => u.Name));
        Assert.NotSame(slow, sup.Find("slow").Single());
    }

    private static string Show(SpecChange c) => $"{c.Name}:{c.Kind}:{string.Join(",", c.Fields)}";

    private static int IndexOf(Recorder rec, Func<UnitEvent, bool> match)
    {
        var events = rec.Events;
        for (int i = 0; i < events.Count; i++) if (match(events[i])) return i;
        return int.MaxValue;
    }

    /// <summary>True when this process holds <paramref name="path"/> open (one of /proc/self/fd points at it).</summary>
    private static bool OpenByUs(string path) =>
        Directory.EnumerateFileSystemEntries("/proc/self/fd").Any(fd =>
        {
            try { return new FileInfo(fd).LinkTarget == path; }
            catch (IOException) { return false; } // closed while we looked
        });

    private sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("vigil-reload-").FullName;
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
