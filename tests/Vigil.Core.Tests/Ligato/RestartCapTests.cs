using Vigil.Specs;
using Vigil.Supervision;
using Xunit;

namespace Vigil.Tests.Ligato;

/// <summary>Unit: <c>restart.max</c>, the lifetime cap (Ligato's Restarts: N, Process Watcher's max_restarts), in the pure policy.</summary>
public sealed class RestartCapTests
{
    private static readonly RunOutcome Crash = new(true, TimeSpan.FromSeconds(1));

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void After_max_restarts_the_unit_gives_up_with_a_reason_naming_the_cap(int max)
    {
        var spec = RestartSpec.Default with { Max = max };
        var h = RestartHistory.Fresh;
        for (int i = 0; i < max; i++)
        {
            (var d, h) = RestartPolicy.Decide(spec, h, Crash, TimeSpan.FromMinutes(i));
            Assert.Equal(RestartAction.Restart, d.Action);
        }
        var (last, _) = RestartPolicy.Decide(spec, h, Crash, TimeSpan.FromHours(1));
        Assert.Equal(RestartAction.GiveUp, last.Action);
        Assert.Equal($"restart.max: {max} restart(s) in the unit's life, the cap is {max}", last.Reason);
    }

    [Fact]
    public void Neither_a_long_run_nor_a_requested_restart_resets_the_cap()
    {
        var spec = RestartSpec.Default with { Max = 2 };
        var h = RestartHistory.Fresh;
        (_, h) = RestartPolicy.Decide(spec, h, Crash, TimeSpan.Zero);
        h = h.Reset(); // an operator's restart
        (_, h) = RestartPolicy.Decide(spec, h, new RunOutcome(true, TimeSpan.FromHours(2)), TimeSpan.FromHours(3)); // past resetAfter
        Assert.Equal(2, h.Lifetime);
        Assert.Equal(0, h.Attempt - 1); // the schedule did start over
        var (d, _) = RestartPolicy.Decide(spec, h, Crash, TimeSpan.FromHours(4));
        Assert.Equal(RestartAction.GiveUp, d.Action);
    }

    [Fact]
    public void The_cap_and_the_crash_loop_window_are_separate()
    {
        // The window allows 2 restarts per 10 minutes (then slow retry); the cap allows 3 in all.
        var spec = RestartSpec.Default with { Max = 3, Limit = new CrashLoopLimit(2, TimeSpan.FromMinutes(10)) };
        var h = RestartHistory.Fresh;
        var actions = new List<RestartAction>();
        for (int i = 0; i < 5; i++)
        {
            (var d, h) = RestartPolicy.Decide(spec, h, Crash, TimeSpan.FromSeconds(i));
            actions.Add(d.Action);
        }
        Assert.Equal([RestartAction.Restart, RestartAction.Restart, RestartAction.SlowRetry, RestartAction.GiveUp, RestartAction.GiveUp], actions);
    }

    [Fact]
    public void Never_and_on_failure_still_decide_first()
    {
        var (d, _) = RestartPolicy.Decide(RestartSpec.Default with { Max = 0, Policy = RestartPolicyKind.OnFailure }, RestartHistory.Fresh,
            new RunOutcome(false, TimeSpan.FromSeconds(1)), TimeSpan.Zero);
        Assert.Equal(RestartAction.None, d.Action);
    }

    [Fact]
    public void A_negative_cap_is_refused_by_validation() =>
        Assert.Contains(new SpecError("restart.max", "must be 0 or more (restarts in the unit's life)"), (RestartSpec.Default with { Max = -1 }).Validate());
}
