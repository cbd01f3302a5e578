using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Telemetry;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Telemetry;

/// <summary>The reliability figures from events alone, on the fake clock, with exact figures.</summary>
public sealed class ReliabilityTrackerTests
{
    readonly FakeTimeProvider _time = new();
    readonly ReliabilityTracker _tracker = new();
    readonly List<Recovery> _recoveries = [];

    DateTimeOffset Now => _time.GetUtcNow();

    void See(UnitEvent ev) => _recoveries.AddRange(_tracker.Observe(ev));

    void After(double seconds) => _time.Advance(TimeSpan.FromSeconds(seconds));

    void Spawn(int id = 1, string name = "w", int restart = 0) => See(new Spawned(Now, id, name, 100 + restart, "w", restart));

    void Crash(ExitStatus status, int id = 1, string name = "w")
    {
        See(new Exited(Now, id, name, 100, UnitState.Backoff, status, TimeSpan.FromSeconds(1), Expected: false));
        See(new BackingOff(Now, id, name, TimeSpan.FromSeconds(1), 1));
    }

    [Fact]
    public void Three_crashes_are_three_restarts_with_the_downtime_and_recoveries_between_failure_and_spawn()
    {
        Spawn();
        for (int i = 1; i <= 3; i++)
        {
            After(10);
            Crash(ExitStatus.Exited(3));
            After(0.5 * i); // 0.5 s, 1 s, 1.5 s down
            Spawn(restart: i);
        }

        Assert.Equal(new Dictionary<string, long> { ["exit"] = 3 }, _tracker.Restarts("w"));
        Assert.Equal(TimeSpan.FromSeconds(3), _tracker.Downtime("w", Now));
        Assert.Equal([0.5, 1.0, 1.5], _recoveries.Select(r => r.Duration.TotalSeconds));
        Assert.All(_recoveries, r => Assert.False(r.ToReady));
        Assert.All(_recoveries, r => Assert.Equal("w", r.Unit));
    }

    [Fact]
    public void Restarts_are_told_apart_by_signal_oom_spawn_failure_probe_and_request()
    {
        Spawn();
        Crash(ExitStatus.Killed(Signals.SIGSEGV));
        Spawn(restart: 1);
        Crash(ExitStatus.Killed(Signals.SIGKILL) with { OomKilled = true });
        Spawn(restart: 2);
        // A liveness probe fails: the unhealthy event, the stop, the exit it caused (expected), then the policy.
        See(new Unhealthy(Now, 1, "w", 102, UnitState.Running, "http", "hung", 3, ProbeAction.Restart));
        See(new StopRequested(Now, 1, "w", 102, "hung", Signals.SIGTERM, UnitState.StoppingUnhealthy));
        See(new Exited(Now, 1, "w", 102, UnitState.StoppingUnhealthy, ExitStatus.Killed(Signals.SIGTERM), TimeSpan.FromSeconds(1), Expected: true) { Why = "unhealthy: hung" });
        See(new BackingOff(Now, 1, "w", TimeSpan.FromSeconds(1), 3));
        // The next start fails, and is retried.
        See(new SpawnFailed(Now, 1, "w", UnitState.Backoff, new SpawnFailure(SpawnErrorKind.NotFound, "no such file")));
        See(new BackingOff(Now, 1, "w", TimeSpan.FromSeconds(1), 4));
        Spawn(restart: 3);
        // vigil restart: the stop is requested once, even if asked again while it is under way.
        See(new StopRequested(Now, 1, "w", 103, "restart requested", Signals.SIGTERM, UnitState.Restarting));
        See(new StopRequested(Now, 1, "w", 103, "restart requested", null, UnitState.Restarting));
        See(new Exited(Now, 1, "w", 103, UnitState.Restarting, ExitStatus.Killed(Signals.SIGTERM), TimeSpan.FromSeconds(1), Expected: true));
        See(new Stopped(Now, 1, "w", 103, [], UnitState.Restarting));
        Spawn(restart: 4);

        Assert.Equal(new Dictionary<string, long>
        {
            ["signal"] = 1, ["oom"] = 1, ["unhealthy:http"] = 1, ["spawn-failed"] = 1, ["manual"] = 1,
        }, _tracker.Restarts("w"));
    }

    [Fact]
    public void A_probe_failure_that_only_notifies_is_no_failure()
    {
        Spawn();
        See(new Unhealthy(Now, 1, "w", 100, UnitState.Running, "http", "slow", 3, ProbeAction.Notify));
        After(60);

        Assert.Empty(_tracker.Restarts("w"));
        Assert.Equal(TimeSpan.Zero, _tracker.Downtime("w", Now));
    }

    [Fact]
    public void An_outage_under_way_counts_until_now_and_a_unit_that_gave_up_stays_down()
    {
        Spawn();
        After(5);
        See(new Exited(Now, 1, "w", 100, UnitState.Failed, ExitStatus.Exited(1), TimeSpan.FromSeconds(5), Expected: false));
        See(new GaveUp(Now, 1, "w", "too many restarts"));
        After(30);
        Assert.Equal(TimeSpan.FromSeconds(30), _tracker.Downtime("w", Now));
        After(30);
        Assert.Equal(TimeSpan.FromSeconds(60), _tracker.Downtime("w", Now));
        Assert.Empty(_tracker.Restarts("w")); // it gave up: no restart was made
    }

    [Fact]
    public void A_stop_ends_the_outage_and_a_clean_stop_is_no_downtime()
    {
        Spawn();
        After(1);
        Crash(ExitStatus.Exited(1));
        After(4);
        See(new Stopped(Now, 1, "w", null, [])); // vigil stop during the backoff: nobody wants it running
        After(100);
        Spawn();
        After(10);
        See(new StopRequested(Now, 1, "w", 100, "stop requested", Signals.SIGTERM));
        See(new Exited(Now, 1, "w", 100, UnitState.Stopping, ExitStatus.Exited(0), TimeSpan.FromSeconds(10), Expected: true));
        See(new Stopped(Now, 1, "w", 100, []));
        After(100);

        Assert.Equal(TimeSpan.FromSeconds(4), _tracker.Downtime("w", Now));
        Assert.Empty(_recoveries); // stopped before it ran again: no recovery to time
    }

    [Fact]
    public void Time_to_ready_runs_from_the_first_failure_through_failed_starts_to_the_readiness_probe_passing()
    {
        Spawn();
        See(new ReadinessChanged(Now, 1, "w", 100, UnitState.Running, "http", true, "200"));
        After(10);
        Crash(ExitStatus.Exited(1));
        After(1);
        Spawn(restart: 1);
        After(2);
        Crash(ExitStatus.Exited(1)); // crashed again before it was ready
        After(1);
        Spawn(restart: 2);
        After(3);
        See(new ReadinessChanged(Now, 1, "w", 102, UnitState.Running, "http", true, "200"));

        Assert.Equal([(1.0, false), (1.0, false), (7.0, true)], _recoveries.Select(r => (r.Duration.TotalSeconds, r.ToReady)));
        Assert.Equal(TimeSpan.FromSeconds(2), _tracker.Downtime("w", Now));
    }

    [Fact]
    public void A_unit_a_reload_replaces_carries_its_counters_on_and_units_are_kept_apart_by_name()
    {
        Spawn(id: 1);
        Crash(ExitStatus.Exited(1), id: 1);
        Spawn(id: 1, restart: 1);
        Spawn(id: 2, name: "other");
        // Reload: unit 1 is stopped and replaced by unit 3 of the same name.
        See(new Stopped(Now, 1, "w", 101, []));
        Spawn(id: 3);
        After(2);
        Crash(ExitStatus.Exited(1), id: 3);
        After(2);

        Assert.Equal(2, _tracker.Restarts("w")["exit"]);
        Assert.Empty(_tracker.Restarts("other"));
        Assert.Equal(TimeSpan.FromSeconds(2), _tracker.Downtime("w", Now));
        Assert.Equal(TimeSpan.Zero, _tracker.Downtime("other", Now));
        Assert.Equal(["w", "other"], _tracker.Units());
    }
}
