using System.Collections.Immutable;
using Vigil.Specs;
using Vigil.Supervision;
using Xunit;

namespace Vigil.Tests.Supervision;

/// <summary>Unit: <see cref="RestartPolicy"/> is a pure function, so these are tables of inputs and decisions.</summary>
public sealed class RestartPolicyTests
{
    private static readonly TimeSpan ShortRun = TimeSpan.FromSeconds(1);
    private static RunOutcome Crash(TimeSpan? ran = null) => new(true, ran ?? ShortRun);
    private static RunOutcome CleanExit(TimeSpan? ran = null) => new(false, ran ?? ShortRun);
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    /// <summary>Feeds <paramref name="outcomes"/> through Decide in order, the clock moving by each delay plus the run; returns every decision.</summary>
    private static List<RestartDecision> Run(RestartSpec spec, IEnumerable<RunOutcome> outcomes, ref RestartHistory history, ref TimeSpan now)
    {
        var decisions = new List<RestartDecision>();
        foreach (var o in outcomes)
        {
            now += o.RunDuration;
            (var d, history) = RestartPolicy.Decide(spec, history, o, now);
            decisions.Add(d);
            now += d.Delay;
        }
        return decisions;
    }

    private static List<RestartDecision> Run(RestartSpec spec, params RunOutcome[] outcomes)
    {
        var h = RestartHistory.Fresh;
        var now = TimeSpan.Zero;
        return Run(spec, outcomes, ref h, ref now);
    }

    // ---- the default schedule ---------------------------------------------------------------------------------

    [Theory]
    [InlineData(1, 100)]
    [InlineData(2, 500)]
    [InlineData(3, 1_000)]
    [InlineData(4, 10_000)]
    [InlineData(5, 30_000)]
    [InlineData(6, 60_000)]
    [InlineData(7, 300_000)]
    [InlineData(8, 900_000)]
    [InlineData(9, 900_000)]
    [InlineData(10, 900_000)]
    [InlineData(50, 900_000)]
    public void Successive_failures_walk_the_default_schedule_and_repeat_its_last_entry(int failures, int expectedMs)
    {
        var decisions = Run(RestartSpec.Default, Enumerable.Repeat(Crash(), failures).ToArray());
        var last = decisions[^1];
        Assert.Equal(RestartAction.Restart, last.Action);
        Assert.Equal(Ms(expectedMs), last.Delay);
        Assert.Equal($"restarting in {Durations.Format(Ms(expectedMs))}", last.Reason);
    }

    [Fact]
    public void Default_schedule_is_the_documented_sequence()
    {
        var delays = Run(RestartSpec.Default, Enumerable.Repeat(Crash(), 10).ToArray()).Select(d => d.Delay.TotalMilliseconds);
        Assert.Equal(new double[] { 100, 500, 1_000, 10_000, 30_000, 60_000, 300_000, 900_000, 900_000, 900_000 }, delays);
    }

    [Theory]
    [InlineData(29 * 60_000 + 59_999, 1_000)] // just short of resetAfter (30m): the schedule goes on
    [InlineData(30 * 60_000, 100)]            // exactly resetAfter: starts over
    [InlineData(5 * 3_600_000, 100)]          // far longer: starts over
    public void A_run_of_at_least_resetAfter_starts_the_schedule_over(int thirdRunMs, int expectedMs)
    {
        var d = Run(RestartSpec.Default, Crash(), Crash(), Crash(Ms(thirdRunMs)));
        Assert.Equal(new[] { Ms(100), Ms(500), Ms(expectedMs) }, d.Select(x => x.Delay));
    }

    [Fact]
    public void ResetAfter_is_taken_from_the_spec()
    {
        var spec = RestartSpec.Default with { ResetAfter = TimeSpan.FromSeconds(10) };
        var d = Run(spec, Crash(), Crash(), Crash(TimeSpan.FromSeconds(10)), Crash());
        Assert.Equal(new[] { Ms(100), Ms(500), Ms(100), Ms(500) }, d.Select(x => x.Delay));
    }

    // ---- policy ---------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(RestartPolicyKind.Always, true, RestartAction.Restart)]
    [InlineData(RestartPolicyKind.Always, false, RestartAction.Restart)]
    [InlineData(RestartPolicyKind.OnFailure, true, RestartAction.Restart)]
    [InlineData(RestartPolicyKind.OnFailure, false, RestartAction.None)]
    [InlineData(RestartPolicyKind.Never, true, RestartAction.None)]
    [InlineData(RestartPolicyKind.Never, false, RestartAction.None)]
    public void Policy_decides_whether_an_exit_restarts(RestartPolicyKind policy, bool failed, RestartAction expected)
    {
        var spec = RestartSpec.Default with { Policy = policy };
        var (d, h) = RestartPolicy.Decide(spec, RestartHistory.Fresh, new RunOutcome(failed, ShortRun), TimeSpan.FromMinutes(1));
        Assert.Equal(expected, d.Action);
        if (expected == RestartAction.None)
        {
            Assert.Equal(TimeSpan.Zero, d.Delay);
            Assert.Same(RestartHistory.Fresh, h); // a decision not to restart consumes no schedule entry
        }
        else Assert.Equal(Ms(100), d.Delay);
    }

    [Fact]
    public void Not_restarting_says_why()
    {
        var never = RestartPolicy.Decide(RestartSpec.Default with { Policy = RestartPolicyKind.Never }, RestartHistory.Fresh, Crash(), TimeSpan.Zero).Decision;
        var clean = RestartPolicy.Decide(RestartSpec.Default with { Policy = RestartPolicyKind.OnFailure }, RestartHistory.Fresh, CleanExit(), TimeSpan.Zero).Decision;
        var empty = RestartPolicy.Decide(RestartSpec.Default with { Schedule = [] }, RestartHistory.Fresh, Crash(), TimeSpan.Zero).Decision;
        Assert.Equal("restart policy is never", never.Reason);
        Assert.Equal("exited cleanly and restart policy is on-failure", clean.Reason);
        Assert.Equal("restart schedule is empty (never restart)", empty.Reason);
    }

    public static TheoryData<string, ImmutableArray<TimeSpan>> NeverSchedules => new()
    {
        { "[]", ImmutableArray<TimeSpan>.Empty },
        { "default(ImmutableArray)", default },
        { "[0]", [TimeSpan.Zero] },
    };

    [Theory]
    [MemberData(nameof(NeverSchedules))]
    public void Empty_schedule_and_a_single_zero_never_restart(string label, ImmutableArray<TimeSpan> schedule)
    {
        var spec = RestartSpec.Default with { Schedule = schedule };
        Assert.True(spec.ScheduleMeansNever, label);
        var (d, _) = RestartPolicy.Decide(spec, RestartHistory.Fresh, Crash(), TimeSpan.Zero);
        Assert.Equal(RestartAction.None, d.Action);
    }

    [Fact]
    public void A_zero_followed_by_other_entries_restarts_at_once_then_waits()
    {
        var spec = RestartSpec.Default with { Schedule = [TimeSpan.Zero, Ms(250)] };
        Assert.False(spec.ScheduleMeansNever);
        var d = Run(spec, Crash(), Crash(), Crash());
        Assert.All(d, x => Assert.Equal(RestartAction.Restart, x.Action));
        Assert.Equal(new[] { TimeSpan.Zero, Ms(250), Ms(250) }, d.Select(x => x.Delay));
    }

    [Fact]
    public void A_backoff_overrides_a_never_schedule()
    {
        var spec = RestartSpec.Default with { Schedule = [], Backoff = new BackoffSpec(Ms(200), 2, TimeSpan.FromSeconds(5)) };
        Assert.False(spec.ScheduleMeansNever);
        Assert.Equal(new[] { Ms(200), Ms(400) }, Run(spec, Crash(), Crash()).Select(x => x.Delay));
    }

    // ---- exponential backoff ------------------------------------------------------------------------------------

    [Theory]
    [InlineData(100, 2.0, 10_000, 0, 100)]
    [InlineData(100, 2.0, 10_000, 1, 200)]
    [InlineData(100, 2.0, 10_000, 2, 400)]
    [InlineData(100, 2.0, 10_000, 6, 6_400)]
    [InlineData(100, 2.0, 10_000, 7, 10_000)]   // 12 800 capped at max
    [InlineData(100, 2.0, 10_000, 100, 10_000)]
    [InlineData(100, 2.0, 10_000, 1_023, 10_000)] // 2^1023 is still a finite double
    [InlineData(100, 2.0, 10_000, 1_100, 10_000)] // 2^1100 is +∞
    [InlineData(100, 2.0, 10_000, 10_000, 10_000)]
    [InlineData(100, 2.0, 10_000, int.MaxValue, 10_000)]
    [InlineData(100, 1.5, 10_000, 1, 150)]
    [InlineData(100, 1.5, 10_000, 3, 338)]      // 337.5: Math.Round (to even) gives 338
    [InlineData(250, 1.0, 10_000, 10_000, 250)] // multiplier 1: constant
    [InlineData(0, 2.0, 1_000, 50, 0)]          // initial 0 stays 0
    [InlineData(1_000, 10.0, 1_000, 3, 1_000)]  // max == initial
    public void Backoff_is_initial_times_multiplier_to_the_attempt_capped_at_max(int initialMs, double multiplier, int maxMs, int attempt, int expectedMs)
    {
        var spec = RestartSpec.Default with { Backoff = new BackoffSpec(Ms(initialMs), multiplier, Ms(maxMs)) };
        Assert.Empty(spec.Validate());
        Assert.Equal(Ms(expectedMs), RestartPolicy.NextDelay(spec, attempt));
    }

    [Fact]
    public void Backoff_at_a_huge_attempt_number_gives_max_and_the_attempt_counter_does_not_overflow()
    {
        var spec = RestartSpec.Default with { Backoff = new BackoffSpec(Ms(100), 2, TimeSpan.FromMinutes(2), Jitter: 0.5) };
        var history = new RestartHistory(int.MaxValue, [], false);
        var (d, h) = RestartPolicy.Decide(spec, history, Crash(), TimeSpan.FromDays(3), random: () => 0.5);
        Assert.Equal(RestartAction.Restart, d.Action);
        Assert.Equal(TimeSpan.FromMinutes(2), d.Delay);
        Assert.Equal(int.MaxValue, h.Attempt);
    }

    [Fact]
    public void Successive_failures_advance_the_backoff_exponent()
    {
        var spec = RestartSpec.Default with { Backoff = new BackoffSpec(Ms(100), 3, TimeSpan.FromSeconds(2)) };
        var d = Run(spec, Crash(), Crash(), Crash(), Crash(), Crash());
        Assert.Equal(new[] { Ms(100), Ms(300), Ms(900), Ms(2_000), Ms(2_000) }, d.Select(x => x.Delay));
    }

    [Theory]
    // 1s ± 20%: random 0 → the lower bound, 1 → the upper bound, 0.5 → exactly the delay.
    [InlineData(0, 0.0, 800)]
    [InlineData(0, 1.0, 1_200)]
    [InlineData(0, 0.5, 1_000)]
    [InlineData(0, 0.25, 900)]
    [InlineData(1, 0.0, 1_600)]
    [InlineData(1, 1.0, 2_400)]
    // At the cap the upper bound is the cap itself: jitter never exceeds max.
    [InlineData(10, 0.0, 48_000)]
    [InlineData(10, 0.5, 60_000)]
    [InlineData(10, 1.0, 60_000)]
    [InlineData(10_000, 1.0, 60_000)]
    [InlineData(10_000, 0.0, 48_000)]
    public void Jitter_spreads_the_delay_within_its_bounds(int attempt, double random, int expectedMs)
    {
        var spec = RestartSpec.Default with { Backoff = new BackoffSpec(TimeSpan.FromSeconds(1), 2, TimeSpan.FromMinutes(1), Jitter: 0.2) };
        Assert.Equal(Ms(expectedMs), RestartPolicy.NextDelay(spec, attempt, () => random));
    }

    [Fact]
    public void Full_jitter_can_reach_zero_but_never_goes_negative()
    {
        var spec = RestartSpec.Default with { Backoff = new BackoffSpec(TimeSpan.FromSeconds(1), 2, TimeSpan.FromMinutes(1), Jitter: 1) };
        Assert.Equal(TimeSpan.Zero, RestartPolicy.NextDelay(spec, 0, () => 0));
        Assert.Equal(Ms(2_000), RestartPolicy.NextDelay(spec, 0, () => 1));
    }

    [Fact]
    public void Jitter_with_the_shared_random_stays_within_bounds()
    {
        var spec = RestartSpec.Default with { Backoff = new BackoffSpec(TimeSpan.FromSeconds(1), 2, TimeSpan.FromMinutes(1), Jitter: 0.2) };
        for (int i = 0; i < 1_000; i++)
        {
            var d = RestartPolicy.NextDelay(spec, 0);
            Assert.InRange(d, Ms(800), Ms(1_200));
        }
    }

    [Fact]
    public void The_random_source_is_not_consulted_without_jitter()
    {
        var spec = RestartSpec.Default with { Backoff = new BackoffSpec(Ms(100), 2, TimeSpan.FromMinutes(1)) };
        Assert.Equal(Ms(400), RestartPolicy.NextDelay(spec, 2, () => throw new InvalidOperationException("random used without jitter")));
        Assert.Equal(Ms(500), RestartPolicy.NextDelay(RestartSpec.Default, 1, () => throw new InvalidOperationException("random used for a schedule")));
    }

    // ---- crash-loop limit ---------------------------------------------------------------------------------------

    private static RestartSpec Limited(int restarts, TimeSpan within, LimitAction then = LimitAction.SlowRetry, TimeSpan? retryEvery = null) =>
        RestartSpec.Default with { Schedule = [Ms(100)], Limit = new CrashLoopLimit(restarts, within, then, retryEvery) };

    /// <summary>Decides failures at the given absolute times (seconds), each run short; returns the decisions.</summary>
    private static List<RestartDecision> FailuresAt(RestartSpec spec, params double[] seconds) => FailuresAt(spec, out _, seconds);

    private static List<RestartDecision> FailuresAt(RestartSpec spec, out RestartHistory history, params double[] seconds)
    {
        history = RestartHistory.Fresh;
        var list = new List<RestartDecision>();
        foreach (var s in seconds)
        {
            (var d, history) = RestartPolicy.Decide(spec, history, Crash(Ms(10)), TimeSpan.FromSeconds(s));
            list.Add(d);
        }
        return list;
    }

    [Fact]
    public void Restarts_inside_the_window_are_counted()
    {
        var d = FailuresAt(Limited(5, TimeSpan.FromMinutes(1)), 0, 1, 2, 3);
        Assert.All(d, x => Assert.Equal(RestartAction.Restart, x.Action));
        Assert.Equal(new[] { 1, 2, 3, 4 }, d.Select(x => x.RestartsInWindow));
    }

    [Fact]
    public void Without_a_limit_no_restart_times_are_kept()
    {
        var h = RestartHistory.Fresh;
        for (int i = 0; i < 100; i++) (_, h) = RestartPolicy.Decide(RestartSpec.Default, h, Crash(), TimeSpan.FromSeconds(i));
        Assert.Empty(h.RecentRestarts);
        Assert.False(h.SlowRetry);
    }

    [Fact]
    public void Hitting_the_limit_goes_to_slow_retry_with_the_default_interval_and_a_reason()
    {
        var d = FailuresAt(Limited(3, TimeSpan.FromMinutes(1)), out var h, 0, 1, 2, 3);
        Assert.Equal(new[] { RestartAction.Restart, RestartAction.Restart, RestartAction.Restart, RestartAction.SlowRetry }, d.Select(x => x.Action));
        var slow = d[3];
        Assert.Equal(CrashLoopLimit.DefaultRetryEvery, slow.Delay);
        Assert.Equal(TimeSpan.FromMinutes(5), slow.Delay);
        Assert.Equal(3, slow.RestartsInWindow);
        Assert.Equal("crash loop: 3 restarts within 1m (limit 3); retrying every 5m until a run lasts 30m", slow.Reason);
        Assert.True(h.SlowRetry);
    }

    [Fact]
    public void Slow_retry_uses_the_limits_retryEvery()
    {
        var d = FailuresAt(Limited(1, TimeSpan.FromMinutes(1), retryEvery: TimeSpan.FromSeconds(45)), 0, 1);
        Assert.Equal(RestartAction.SlowRetry, d[1].Action);
        Assert.Equal(TimeSpan.FromSeconds(45), d[1].Delay);
        Assert.Contains("retrying every 45s", d[1].Reason);
    }

    [Fact]
    public void A_limit_of_zero_restarts_slows_down_at_the_first_failure()
    {
        var d = FailuresAt(Limited(0, TimeSpan.FromMinutes(1)), 0);
        Assert.Equal(RestartAction.SlowRetry, d[0].Action);
        Assert.Equal(0, d[0].RestartsInWindow);
    }

    [Theory]
    // Three restarts at 0s, 1s, 2s in a 60s window; the fourth failure at t:
    [InlineData(3, RestartAction.SlowRetry, 3)]    // all three still inside
    [InlineData(59.9, RestartAction.SlowRetry, 3)] // the one at 0s is 59.9s old: inside
    [InlineData(60, RestartAction.Restart, 3)]     // exactly the window old: out (two left, plus this one)
    [InlineData(61.5, RestartAction.Restart, 2)]   // 0s and 1s out
    [InlineData(500, RestartAction.Restart, 1)]    // all out
    public void The_window_slides_so_old_restarts_fall_out(double fourthAt, RestartAction expected, int inWindow)
    {
        var d = FailuresAt(Limited(3, TimeSpan.FromMinutes(1)), 0, 1, 2, fourthAt);
        Assert.Equal(expected, d[3].Action);
        Assert.Equal(inWindow, d[3].RestartsInWindow);
    }

    [Fact]
    public void A_sliding_window_allows_a_steady_slow_crash_rate_forever()
    {
        // One crash every 25s with at most 3 restarts per minute: never more than 3 in any window.
        var d = FailuresAt(Limited(3, TimeSpan.FromMinutes(1)), [.. Enumerable.Range(0, 40).Select(i => i * 25.0)]);
        Assert.All(d, x => Assert.Equal(RestartAction.Restart, x.Action));
        Assert.All(d, x => Assert.InRange(x.RestartsInWindow, 1, 3));
    }

    [Fact]
    public void Hitting_the_limit_with_then_stop_gives_up_with_a_reason()
    {
        var d = FailuresAt(Limited(2, TimeSpan.FromSeconds(30), LimitAction.Stop), out var h, 0, 1, 2);
        Assert.Equal(new[] { RestartAction.Restart, RestartAction.Restart, RestartAction.GiveUp }, d.Select(x => x.Action));
        Assert.Equal(TimeSpan.Zero, d[2].Delay);
        Assert.Equal(2, d[2].RestartsInWindow);
        Assert.Equal("crash loop: 2 restarts within 30s (limit 2); stopping as restart.limit.then is stop", d[2].Reason);
        Assert.False(h.SlowRetry);
    }

    [Fact]
    public void Slow_retry_persists_after_the_window_empties_until_a_run_lasts_resetAfter()
    {
        var spec = Limited(2, TimeSpan.FromMinutes(1)) with { ResetAfter = TimeSpan.FromMinutes(10) };
        var (h, now) = (RestartHistory.Fresh, TimeSpan.Zero);
        var first = Run(spec, [Crash(), Crash(), Crash()], ref h, ref now);
        Assert.Equal(RestartAction.SlowRetry, first[2].Action);

        // Slow retries hours later, each run short of resetAfter: still slow, although the window is long empty.
        now += TimeSpan.FromHours(3);
        var later = Run(spec, [Crash(TimeSpan.FromMinutes(9)), Crash(Ms(10)), Crash(TimeSpan.FromMinutes(9.99))], ref h, ref now);
        Assert.All(later, x => Assert.Equal(RestartAction.SlowRetry, x.Action));
        Assert.All(later, x => Assert.Equal(TimeSpan.FromMinutes(5), x.Delay));
        Assert.True(h.SlowRetry);

        // A clean exit under policy always still counts as a run that ended: slow retry is about run length, not exit codes.
        var clean = Run(spec, [CleanExit()], ref h, ref now);
        Assert.Equal(RestartAction.SlowRetry, clean[0].Action);

        // A run of resetAfter: back to the start of the schedule, with a fresh window.
        var healed = Run(spec, [Crash(TimeSpan.FromMinutes(10)), Crash(), Crash()], ref h, ref now);
        Assert.Equal(new[] { RestartAction.Restart, RestartAction.Restart, RestartAction.SlowRetry }, healed.Select(x => x.Action));
        Assert.Equal(Ms(100), healed[0].Delay);
        Assert.Equal(1, healed[0].RestartsInWindow);
    }

    [Fact]
    public void Slow_retry_with_on_failure_policy_still_lets_a_clean_exit_end_the_unit()
    {
        var spec = Limited(1, TimeSpan.FromMinutes(1)) with { Policy = RestartPolicyKind.OnFailure };
        var (h, now) = (RestartHistory.Fresh, TimeSpan.Zero);
        var d = Run(spec, [Crash(), Crash(), CleanExit()], ref h, ref now);
        Assert.Equal(new[] { RestartAction.Restart, RestartAction.SlowRetry, RestartAction.None }, d.Select(x => x.Action));
    }
}
