using System.Collections.Immutable;
using Vigil.Hooks;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Hooks;

/// <summary>Unit, on the fake clock: at most one hook run per event kind per unit per minInterval, and the next run
/// carries the count of the suppressed ones, exactly.</summary>
public sealed class HookRateLimitTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    [Fact]
    public void One_run_per_kind_per_unit_per_interval_and_the_next_carries_the_suppressed_count()
    {
        var time = new FakeTimeProvider();
        var limiter = new HookRateLimiter();
        (bool, int) At(string unit, string kind, TimeSpan interval) => limiter.Decide(1, unit, kind, interval, time.GetUtcNow());

        Assert.Equal((true, 0), At("web", "exited", Minute));
        for (int i = 0; i < 5; i++)
        {
            time.Advance(TimeSpan.FromSeconds(10));
            Assert.Equal((false, 0), At("web", "exited", Minute)); // 10 s … 50 s
        }
        // Other kinds and other units have their own interval.
        Assert.Equal((true, 0), At("web", "gave-up", Minute));
        Assert.Equal((true, 0), At("db", "exited", Minute));
        time.Advance(TimeSpan.FromSeconds(9.999));
        Assert.Equal((false, 0), At("web", "exited", Minute)); // 59.999 s: still within
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal((true, 6), At("web", "exited", Minute)); // 60 s: runs, with the six held back
        Assert.Equal((false, 0), At("web", "exited", Minute));
        time.Advance(Minute);
        Assert.Equal((true, 1), At("web", "exited", Minute));
        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal((true, 0), At("web", "exited", Minute));
    }

    [Fact]
    public void A_clock_set_back_runs_at_once_and_restarts_the_interval()
    {
        var limiter = new HookRateLimiter();
        var t0 = new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal((true, 0), limiter.Decide(1, "web", "exited", Minute, t0));
        Assert.Equal((false, 0), limiter.Decide(1, "web", "exited", Minute, t0.AddSeconds(1)));
        Assert.Equal((true, 1), limiter.Decide(1, "web", "exited", Minute, t0.AddHours(-1)));
        Assert.Equal((false, 0), limiter.Decide(1, "web", "exited", Minute, t0.AddHours(-1).AddSeconds(59)));
    }

    [Fact]
    public void A_zero_interval_never_suppresses()
    {
        var time = new FakeTimeProvider();
        var limiter = new HookRateLimiter();
        for (int i = 0; i < 100; i++) Assert.Equal((true, 0), limiter.Decide(1, "web", "exited", TimeSpan.Zero, time.GetUtcNow()));
    }

    [Fact]
    public async Task The_runner_sends_one_webhook_per_interval_for_a_flapping_unit_with_the_suppressed_count()
    {
        var time = new FakeTimeProvider();
        using var receiver = new HookReceiver();
        await using var sup = new Supervisor(new SupervisorOptions { Time = time, Launcher = new FakeLauncher(time) });
        var hooks = new HookSet
        {
            MinInterval = TimeSpan.FromSeconds(30),
            Bindings = [new("exited", [new WebhookHook(new Uri(receiver.Url("/exited")))]), new("gave-up", [new WebhookHook(new Uri(receiver.Url("/gave-up")))])],
        };
        await using var runner = new HookRunner(sup, new HookRunnerOptions { Hooks = hooks, Host = "test-host" });
        int pid = 100;
        void Crash(string unit = "flappy") =>
            sup.Announce(new Exited(time.GetUtcNow(), 7, unit, pid++, UnitState.Backoff, ExitStatus.Exited(3), TimeSpan.FromMilliseconds(10), false));

        Crash();
        var first = Assert.Single(await receiver.WaitFor("/exited"));
        Assert.Equal(0, first.Json.GetProperty("suppressed").GetInt32());
        // The receiver records a post before it answers: the run ends a moment later. Advancing the clock before
        // then would fire the hook's timeout (on this same clock) and turn the run into a failure.
        Assert.True(await Procs.Eventually(() => runner.Runs == 1), $"runs: {runner.Runs}");
        for (int i = 0; i < 9; i++)
        {
            time.Advance(TimeSpan.FromSeconds(3)); // 3 s … 27 s
            Crash();
        }
        sup.Announce(new GaveUp(time.GetUtcNow(), 7, "flappy", "too many restarts"));
        await receiver.WaitFor("/gave-up"); // its own kind: not held back by the exits
        Assert.True(await Procs.Eventually(() => runner.Runs == 2), $"runs: {runner.Runs}");
        Assert.True(await Procs.Eventually(() => runner.Suppressed == 9), $"suppressed: {runner.Suppressed}");
        Assert.Single(receiver.On("/exited"));

        time.Advance(TimeSpan.FromSeconds(3)); // 30 s after the first run
        Crash();
        var runs = await receiver.WaitFor("/exited", 2);
        var second = runs[1].Json;
        Assert.Equal(9, second.GetProperty("suppressed").GetInt32());
        Assert.Equal(110, second.GetProperty("pid").GetInt32()); // the 11th exit
        Assert.Equal("2025-01-01T12:00:30.000Z", second.GetProperty("time").GetString());
        Assert.Equal(2, receiver.On("/exited").Count);
        Assert.True(await Procs.Eventually(() => runner.Runs == 3), $"runs: {runner.Runs}");
        Assert.Equal(0, runner.Failures);
    }
}
