using Vigil.Config;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Ligato;

/// <summary>Integration: Ligato's process API (define, templates, notifications, restart counts, CPU affinity) on real
/// fixture processes under a real supervisor.</summary>
[Collection("processes")]
public sealed class ProcessApiTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("vigil-ligato-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A template-like spec of the fixture with short restart delays (the default schedule's are long).</summary>
    private static ProcessSpec Crasher(string name, int restart) =>
        new LigatoTemplate { Name = name, Cmd = Fixture.Path, Args = ["marker", "up", "exit", "3"], Restart = restart, RunOnStartup = true }
            .ToSpec().WithSchedule(50);

    [Fact]
    public async Task Define_leaves_the_unit_initial_and_its_notifications_follow_start_status_and_stop()
    {
        await using var sup = new Supervisor(new SupervisorOptions { StatusInterval = TimeSpan.FromMilliseconds(100) });
        using var rec = new Recorder(sup);
        var unit = sup.Define(Fixture.Spec("n", "marker", "up", "hang"));
        Assert.Equal(UnitState.Initial, unit.State);
        Assert.Equal(ProcessStatus.Initial, unit.Status);
        Assert.Null(unit.Pid);
        using var notes = unit.Notifications();
        await unit.StartAsync();
        await rec.Marker("up");
        var got = new List<UnitEvent>();
        using var cancel = new CancellationTokenSource(Wait);
        await foreach (var ev in notes.WithCancellation(cancel.Token))
        {
            got.Add(ev);
            // The fixture blocks in a sleep: /proc says sleeping, which the supervisor's stream leaves out by default.
            if (ev is StatusChanged { To: ProcessStatus.Sleeping }) break;
        }
        Assert.IsType<Spawned>(got[0]);
        Assert.DoesNotContain(rec.Events, e => e is StatusChanged { To: ProcessStatus.Sleeping });
        await unit.StopAndWaitAsync();
        var after = new List<UnitEvent>();
        await foreach (var ev in notes.WithCancellation(cancel.Token))
        {
            after.Add(ev);
            if (ev is Stopped) break;
        }
        Assert.Contains(after, e => e is StopRequested);
        Assert.Contains(after, e => e is StatusChanged { To: ProcessStatus.Terminated });
        Assert.Equal(0, notes.Dropped);
    }

    [Fact]
    public async Task A_slow_reader_loses_the_oldest_notifications_and_the_unit_is_not_held_up()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Define(Crasher("slow", 6));
        using var notes = unit.Notifications(capacity: 2);
        await unit.StartAsync();
        await rec.Event<GaveUp>(timeout: Wait);
        Assert.True(notes.Dropped > 0);
        var left = new List<UnitEvent>();
        while (notes.Reader.TryRead(out var ev)) left.Add(ev);
        Assert.Equal(2, left.Count);
        Assert.IsType<GaveUp>(left[^1]);
    }

    [Fact]
    public async Task Notifications_end_when_the_unit_is_removed()
    {
        await using var sup = new Supervisor();
        var unit = sup.Define(Fixture.Spec("r", "hang"));
        using var notes = unit.Notifications();
        await sup.RemoveAsync(unit);
        using var cancel = new CancellationTokenSource(Wait);
        await foreach (var _ in notes.WithCancellation(cancel.Token)) { }
        Assert.True(notes.Reader.Completion.IsCompleted);
    }

    [Fact]
    public async Task Restart_zero_runs_once()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        sup.Start(Crasher("once", 0));
        var why = await rec.Event<NotRestarting>(timeout: Wait);
        Assert.Equal("restart policy is never", why.Why);
        Assert.Single(rec.Events.OfType<Spawned>());
    }

    [Fact]
    public async Task Restart_minus_one_keeps_restarting()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Crasher("always", -1));
        await rec.Count<Spawned>(5, timeout: Wait);
        Assert.DoesNotContain(rec.Events, e => e is GaveUp or NotRestarting);
        await unit.StopAndWaitAsync();
    }

    [Fact]
    public async Task Restart_n_restarts_n_times_then_gives_up_naming_the_cap_and_a_start_runs_once_more()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Crasher("three", 3));
        var gave = await rec.Event<GaveUp>(timeout: Wait);
        Assert.Equal("restart.max: 3 restart(s) in the unit's life, the cap is 3", gave.Why);
        Assert.Equal(4, rec.Events.OfType<Spawned>().Count());
        Assert.Equal(UnitState.Failed, unit.State);
        // The cap is for the unit's life: a start runs it again, and its next crash gives up at once.
        await unit.StartAsync();
        await rec.Count<GaveUp>(2, timeout: Wait);
        Assert.Equal(5, rec.Events.OfType<Spawned>().Count());
    }

    private static string? AllowedList(int pid) =>
        File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))?.Split(':')[1].Trim();

    private static async Task<string?> AllowedListBecomes(int pid, string expected)
    {
        var deadline = DateTime.UtcNow + Wait;
        string? now;
        while ((now = AllowedList(pid)) != expected && DateTime.UtcNow < deadline) await Task.Delay(20);
        return now;
    }

    [Fact]
    public async Task Cpu_affinity_is_set_on_the_child()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("pinned", "marker", "up", "hang") with { CpuAffinity = new CpuAffinity { Cpus = [0] } });
        var up = await rec.Marker("up");
        Assert.Equal("0", AllowedList(up.Pid));
        // Every thread of it (the .NET runtime's too), as taskset -a.
        foreach (var task in Directory.EnumerateDirectories($"/proc/{up.Pid}/task"))
            Assert.Contains("Cpus_allowed_list:\t0", File.ReadAllText(Path.Combine(task, "status")), StringComparison.Ordinal);
        await unit.StopAndWaitAsync();
    }

    [Fact]
    public async Task Cpu_affinity_delay_leaves_the_inherited_cpus_until_it_has_passed()
    {
        if (Environment.ProcessorCount < 2) return; // pinning to CPU 0 changes nothing on one CPU
        var inherited = AllowedList(Environment.ProcessId);
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("later", "marker", "up", "hang") with
        {
            CpuAffinity = new CpuAffinity { Cpus = [0], Delay = TimeSpan.FromSeconds(2) },
        });
        var up = await rec.Marker("up");
        var spawned = await rec.Event<Spawned>();
        // Read before the delay has passed (the check is only made when it has not).
        var early = AllowedList(up.Pid);
        if (DateTimeOffset.UtcNow - spawned.Time < TimeSpan.FromSeconds(1.5)) Assert.Equal(inherited, early);
        Assert.Equal("0", await AllowedListBecomes(up.Pid, "0"));
        await unit.StopAndWaitAsync();
    }

    [Fact]
    public async Task Templates_of_the_folder_are_read_defined_and_written_back()
    {
        File.WriteAllText(Path.Combine(_dir, "a.json"), $$$"""{"name":"a","cmd":"{{{Fixture.Path}}}","p_options":{"args":["marker","a","hang"],"run_on_startup":true}}""");
        await using var sup = new Supervisor(new SupervisorOptions { TemplatesFolder = _dir });
        using var rec = new Recorder(sup);
        Assert.Equal(["a"], sup.GetAllTemplates().Select(t => t.Name));
        Assert.Null(sup.GetTemplate("nope"));
        var unit = sup.FromTemplate(Path.Combine(_dir, "a.json"));
        Assert.Equal(UnitState.Initial, unit.State);
        await unit.StartAsync();
        await rec.Marker("a");
        var (path, lost) = sup.SaveTemplate(sup.Define(Fixture.Spec("b", "hang") with { Restart = RestartSpec.Default with { Max = 2 } }));
        Assert.Equal(Path.Combine(_dir, "b.json"), path);
        Assert.Empty(lost);
        var b = sup.GetTemplate("b")!;
        Assert.Equal((2, Fixture.Path), (b.Restart, b.Cmd));
        await unit.StopAndWaitAsync();
    }
}
