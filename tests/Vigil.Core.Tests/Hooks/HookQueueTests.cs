using System.Runtime.CompilerServices;
using Vigil.Hooks;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Hooks;

/// <summary>The runner's bounds: a full queue drops runs and says how many once there is room, and every event kind
/// the engine publishes can be named in <c>hooks:</c>.</summary>
public sealed class HookQueueTests
{
    [Fact]
    public async Task When_the_queue_is_full_runs_are_dropped_and_counted_in_a_hooks_dropped_event()
    {
        using var receiver = new HookReceiver();
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var hooks = new HookSet
        {
            MinInterval = TimeSpan.Zero,
            Bindings = [new("exited", [new WebhookHook(new Uri(receiver.Url("/hang"))) { Timeout = TimeSpan.FromSeconds(2) }])],
        };
        await using var runner = new HookRunner(sup, new HookRunnerOptions { Hooks = hooks, QueueCapacity = 2, Concurrency = 1, ShutdownGrace = TimeSpan.FromMilliseconds(100) });
        void Crash(int pid) => sup.Announce(new Exited(DateTimeOffset.UtcNow, 1, "busy", pid, UnitState.Backoff, ExitStatus.Exited(1), TimeSpan.Zero, false));

        Crash(1);
        await receiver.WaitFor("/hang"); // the one worker is held by it now
        for (int pid = 2; pid <= 10; pid++) Crash(pid); // 2 wait, 7 are dropped
        Assert.True(await Procs.Eventually(() => runner.Dropped == 7), $"dropped: {runner.Dropped}");
        Assert.Empty(rec.Events.OfType<HooksDropped>()); // said once there is room again

        await rec.Count<HookFailed>(2, timeout: TimeSpan.FromSeconds(30)); // the first two time out; the queue has room
        Crash(11);
        var dropped = await rec.Event<HooksDropped>();
        Assert.Equal(7, dropped.Dropped);
        Assert.Equal("7 hook run(s) dropped: 2 were waiting already (the hooks are slower than the events)", dropped.Reason);
        Assert.Equal(7, runner.Dropped);
    }

    [Fact]
    public void Every_event_kind_of_the_engine_can_be_bound_and_hook_events_cannot()
    {
        var kinds = typeof(UnitEvent).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(UnitEvent)) && !t.IsAbstract)
            .Select(t => ((UnitEvent)RuntimeHelpers.GetUninitializedObject(t)).Kind)
            .ToHashSet();
        kinds.Add("killed"); // Exited's other kind (a signal), not seen on an uninitialized instance
        Assert.Contains("exited", kinds);
        Assert.Contains("health-action", kinds);
        foreach (var kind in kinds.Where(k => !HookEvents.NeverHooked(k)))
            Assert.True(HookEvents.IsKnown(kind), $"event kind '{kind}' is missing from HookEvents.Kinds");
        Assert.Contains(HookEvents.HookFailed, kinds);
        Assert.Contains(HookEvents.HooksDropped, kinds);
        Assert.False(HookEvents.IsKnown(HookEvents.HookFailed));
    }
}
