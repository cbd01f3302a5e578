using Vigil.Launching;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Launching;

/// <summary>Integration: what a supervisor owns is its own (reactor, /proc cache); only the per-process side is shared.</summary>
[Collection("processes")]
public sealed class ProcessHostTests
{
    [Fact]
    public async Task Two_supervisors_have_their_own_reactors_and_disposing_one_leaves_the_others_children_captured_and_reaped()
    {
        var a = new Supervisor();
        await using var b = new Supervisor();
        var osA = Assert.IsType<OsLauncher>(a.Launcher);
        var osB = Assert.IsType<OsLauncher>(b.Launcher);
        Assert.NotSame(osA.Reactor, osB.Reactor);
        Assert.NotSame(osA.Scans, osB.Scans);
        Assert.Same(ProcessHost.Default, osA.Host); // the per-process side (subreaper, orphan reaping) is one, in the open
        Assert.Same(osA.Host, osB.Host);

        using var recA = new Recorder(a);
        using var recB = new Recorder(b);
        a.Start(Fixture.Spec("a", "marker", "up", "hang"));
        b.Start(Fixture.Spec("b", "marker", "up", "tick", "20", "0"));
        var upA = await recA.Marker("up");
        var upB = await recB.Marker("up");
        await recB.Line(l => l.Text == "tick 1", "b's first tick");

        await a.DisposeAsync();
        Assert.False(Procs.Alive(upA.Pid));
        Assert.True(await Procs.Eventually(() => osA.Reactor.Ended), "a's reactor thread did not end with it");
        Assert.False(osB.Reactor.Ended);

        // b still reads its child's pipe: lines written after a is gone arrive.
        int seen = recB.Lines.Count(l => l.Text.StartsWith("tick ", StringComparison.Ordinal));
        var later = $"tick {seen + 3}";
        await recB.Line(l => l.Text == later, later);
        // … and still reaps its child with the exact status, then restarts it.
        Assert.True(ProcessIdentity.Of(upB.Pid)!.Value.Signal(Signals.SIGKILL));
        var exited = await recB.Event<Exited>(e => e.Pid == upB.Pid);
        Assert.Equal(Signals.SIGKILL, exited.Status.Signal);
        var again = await recB.Event<Spawned>(e => e.Pid != upB.Pid, "b's restart");
        Assert.True(Procs.Alive(again.Pid!.Value));
        Assert.DoesNotContain(upB.Pid, Procs.OurZombies());
    }

    [Fact]
    public async Task A_supervisor_given_a_launcher_uses_it_and_leaves_it_running_after_its_end()
    {
        using var launcher = new OsLauncher();
        var sup = new Supervisor(new SupervisorOptions { Launcher = launcher });
        using var rec = new Recorder(sup);
        Assert.Same(launcher, sup.Launcher);
        sup.Start(Fixture.Spec("given", "marker", "up", "hang"));
        var up = await rec.Marker("up");
        await sup.DisposeAsync();
        Assert.False(Procs.Alive(up.Pid));
        // Not the supervisor's to end: the launcher still spawns and reaps.
        var env = CommandResolver.Environment(new Vigil.Specs.ProcessSpec());
        var child = launcher.Spawn(new LaunchRequest([Fixture.Path, "exit", "3"], Directory.GetCurrentDirectory(), env) { Output = OutputMode.Null }).Child!;
        Assert.Equal(3, (await child.Exited.WaitAsync(Recorder.DefaultTimeout)).Code);
        Assert.False(launcher.Reactor.Ended);
    }
}
