using Vigil.Hooks;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Hooks;

/// <summary>Integration: a reload that changes only a unit's hooks applies them to the running unit (same unit, same
/// PID, no restart), and the next event runs the new hooks, not the old.</summary>
[Collection("processes")]
public sealed class HookReloadTests
{
    [Fact]
    public async Task A_reload_changing_only_hooks_keeps_the_process_and_the_next_event_runs_the_new_hooks()
    {
        using var receiver = new HookReceiver();
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        await using var runner = new HookRunner(sup);
        HookSet On(string path) => new() { Bindings = [new("stop-requested", [new WebhookHook(new Uri(receiver.Url(path)))])] };
        var spec = Fixture.Spec("steady", "marker", "up", "hang") with { Hooks = On("/old") };
        var unit = sup.Start(spec);
        await rec.Marker("up");
        var pid = unit.Pid;

        var changes = await sup.ReconcileAsync([spec with { Hooks = On("/new") }]);
        var change = Assert.Single(changes);
        Assert.Equal(SpecChangeKind.Changed, change.Kind);
        Assert.Equal(["hooks"], change.Fields);
        Assert.Same(unit, Assert.Single(sup.Units));
        Assert.Equal(pid, unit.Pid);
        Assert.Equal(UnitState.Running, unit.State);
        var ev = await rec.Event<ReloadChanged>();
        Assert.Equal(ev.UnitId, ev.ReplacedUnitId);
        Assert.Equal("config changed (hooks); applied to the running unit, no restart", ev.Reason);
        Assert.Empty(rec.Events.OfType<StopRequested>());

        await unit.StopAndWaitAsync();
        var got = Assert.Single(await receiver.WaitFor("/new"));
        Assert.Equal(pid, got.Json.GetProperty("pid").GetInt32());
        Assert.Empty(receiver.On("/old"));
    }
}
