using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Telemetry.History;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Telemetry.History;

/// <summary>The statistics of <see cref="UnitHistory"/>, exact, from scripted events on the fake clock.</summary>
public class ReliabilityTests
{
    private static readonly TimeSpan S = TimeSpan.FromSeconds(1);

    /// <summary>A unit's life told as the engine's own events, stamped by a fake clock, stored as rows of run <see cref="Run"/>.</summary>
    private sealed class Script
    {
        public FakeTimeProvider Clock { get; } = new();
        public DateTimeOffset Start { get; }
        public List<HistoryEvent> Rows { get; } = [];
        public long Run { get; set; } = 1;
        private const int Id = 1;
        private const string Name = "worker";

        public Script()
        {
            Start = Clock.GetUtcNow();
            VigilStarted();
        }

        public DateTimeOffset T(double seconds) => Start + seconds * S;

        public Script At(double seconds)
        {
            Clock.Advance(T(seconds) - Clock.GetUtcNow());
            return this;
        }

        private DateTimeOffset Now => Clock.GetUtcNow();
        private Script Add(UnitEvent e) { Rows.Add(HistoryEvent.From(e, Run)); return this; }

        public Script VigilStarted() { Rows.Add(new HistoryEvent(Now, Run, 0, "vigil", HistoryEvent.VigilStarted, 1, "initial", "started")); return this; }
        public Script VigilStopped() { Rows.Add(new HistoryEvent(Now, Run, 0, "vigil", HistoryEvent.VigilStopped, 1, "initial", "stopped")); return this; }
        public Script Spawned(int restart) => Add(new Spawned(Now, Id, Name, 100 + restart, "work", restart));
        public Script Crashed(ExitStatus status, UnitState next = UnitState.Backoff) =>
            Add(new Exited(Now, Id, Name, 100, next, status, 10 * S, Expected: false)).Add(new BackingOff(Now, Id, Name, S, 1));
        public Script Unhealthy(string why, ProbeAction action) =>
            Add(new Unhealthy(Now, Id, Name, 100, action is ProbeAction.Restart ? UnitState.StoppingUnhealthy : UnitState.Running, "quiet", why, 3, action));
        public Script Healthy() => Add(new Recovered(Now, Id, Name, 100, UnitState.Running, "quiet", "output again"));
        public Script StopRequested(UnitState state = UnitState.Stopping) => Add(new StopRequested(Now, Id, Name, 100, "stop requested", Signals.SIGTERM, state));
        public Script ExitedAsAsked(UnitState state) =>
            Add(new Exited(Now, Id, Name, 100, state, ExitStatus.Killed(Signals.SIGTERM), 10 * S, Expected: true));
        public Script Stopped(UnitState state = UnitState.Stopped) => Add(new Stopped(Now, Id, Name, 100, [], state));
        public Script SpawnFailed(string why) => Add(new SpawnFailed(Now, Id, Name, UnitState.Backoff, new SpawnFailure(SpawnErrorKind.NotFound, why)));
        public Script ExitedCleanly() => Add(new Exited(Now, Id, Name, 100, UnitState.Exited, ExitStatus.Exited(0), 10 * S, Expected: false));

        public UnitHistory Build() => UnitHistory.Build(Rows, Clock.GetUtcNow())["worker"];
    }

    /// <summary>Up at 0; exit 3 at 10 (back at 12), exit 3 at 40 (back at 45), OOM kill at 60 (back at 61); now 100.</summary>
    private static Script ThreeCrashes()
    {
        var s = new Script();
        s.At(0).Spawned(0)
            .At(10).Crashed(ExitStatus.Exited(3)).At(12).Spawned(1)
            .At(40).Crashed(ExitStatus.Exited(3)).At(45).Spawned(2)
            .At(60).Crashed(ExitStatus.Killed(Signals.SIGKILL) with { OomKilled = true }).At(61).Spawned(3)
            .At(100);
        return s;
    }

    [Fact]
    public void Three_crashes_give_exact_restarts_downtime_recovery_and_causes()
    {
        var s = ThreeCrashes();
        var f = s.Build().Over(s.T(100) - TimeSpan.FromHours(1), s.T(100));

        Assert.Equal(3, f.Restarts);
        Assert.Equal(3, f.Failures);
        Assert.Equal(92 * S, f.Up);                      // 10 + 28 + 15 + 39
        Assert.Equal(8 * S, f.Downtime);                 // 2 + 5 + 1
        Assert.Equal(0.92, f.Availability!.Value, 9);
        Assert.Equal(3, f.Recoveries);
        Assert.Equal(TimeSpan.FromTicks(8 * S.Ticks / 3), f.MeanTimeToRecover);
        Assert.Equal(5 * S, f.WorstTimeToRecover);
        Assert.Equal(92 * S / 3, f.MeanTimeBetweenFailures);
        Assert.Equal(
            [new FailureCause("exited with code 3", 2, s.T(10), s.T(40)), new FailureCause("killed by SIGKILL (oom)", 1, s.T(60), s.T(60))],
            f.Causes);
    }

    [Fact]
    public void A_window_counts_what_happened_in_it_and_clips_the_bands()
    {
        var s = ThreeCrashes();
        var f = s.Build().Over(s.T(30), s.T(100));

        Assert.Equal(2, f.Restarts);                     // at 45 and 61
        Assert.Equal(2, f.Failures);                     // at 40 and 60
        Assert.Equal(64 * S, f.Up);                      // 30-40, 45-60, 61-100
        Assert.Equal(6 * S, f.Downtime);
        Assert.Equal(3 * S, f.MeanTimeToRecover);        // (5 + 1) / 2
        Assert.Equal(5 * S, f.WorstTimeToRecover);
        // Once each: the most recent first.
        Assert.Equal(["killed by SIGKILL (oom)", "exited with code 3"], f.Causes.Select(c => c.Cause));
        Assert.Equal(s.T(40), f.Causes[1].First);
    }

    [Fact]
    public void Time_while_vigil_was_not_running_is_neither_up_nor_down_and_counts_continue()
    {
        var s = new Script();
        s.At(0).Spawned(0).At(10).Crashed(ExitStatus.Exited(3)).At(11).Spawned(1)
            .At(20).VigilStopped();                      // vigil#1 was SIGKILLed; its last sign of life was at 20s
        s.Run = 2;
        s.At(50).VigilStarted().Spawned(0)               // a new Vigil's first spawn is no restart
            .At(60).Crashed(ExitStatus.Exited(3)).At(62).Spawned(1)
            .At(70);
        var h = s.Build();
        var f = h.Over(s.T(0), s.T(70));

        Assert.Equal(2, f.Restarts);
        Assert.Equal(2, f.Failures);
        Assert.Equal(37 * S, f.Up);                      // 0-10, 11-20, 50-60, 62-70
        Assert.Equal(3 * S, f.Downtime);
        Assert.Equal(37.0 / 40, f.Availability!.Value, 9);
        Assert.Equal(
            [(s.T(0), s.T(10), BandKind.Up), (s.T(10), s.T(11), BandKind.Down), (s.T(11), s.T(20), BandKind.Up),
             (s.T(50), s.T(60), BandKind.Up), (s.T(60), s.T(62), BandKind.Down), (s.T(62), s.T(70), BandKind.Up)],
            h.Bands.Select(b => (b.From, b.To, b.Kind)));
    }

    [Fact]
    public void An_episode_open_when_vigil_stops_is_no_recovery()
    {
        var s = new Script();
        s.At(0).Spawned(0).At(10).Crashed(ExitStatus.Exited(3)).At(15).VigilStopped();
        s.Run = 2;
        s.At(30).VigilStarted().Spawned(0).At(40);
        var f = s.Build().Over(s.T(0), s.T(40));

        Assert.Equal(1, f.Failures);
        Assert.Equal(0, f.Recoveries);
        Assert.Null(f.MeanTimeToRecover);
        Assert.Equal(5 * S, f.Downtime);                 // 10-15: down until vigil#1 went away
        Assert.Equal(20 * S, f.Up);                      // 0-10, 30-40
    }

    [Fact]
    public void A_hang_that_passes_by_itself_is_unhealthy_time_and_recovers_at_healthy()
    {
        var s = new Script();
        s.At(0).Spawned(0).At(30).Unhealthy("hung: no output for 2m", ProbeAction.Notify).At(50).Healthy().At(60);
        var h = s.Build();
        var f = h.Over(s.T(0), s.T(60));

        Assert.Equal(40 * S, f.Up);
        Assert.Equal(20 * S, f.Downtime);
        Assert.Equal(2.0 / 3, f.Availability!.Value, 9);
        Assert.Equal(20 * S, f.MeanTimeToRecover);
        Assert.Equal(0, f.Restarts);
        Assert.Equal([new FailureCause("hung: no output", 1, s.T(30), s.T(30))], f.Causes);
        Assert.Equal([BandKind.Up, BandKind.Unhealthy, BandKind.Up], h.Bands.Select(b => b.Kind));
    }

    [Fact]
    public void A_hang_that_vigil_restarts_is_one_failure_not_two()
    {
        var s = new Script();
        s.At(0).Spawned(0)
            .At(30).Unhealthy("hung: no output for 2m", ProbeAction.Restart).StopRequested(UnitState.StoppingUnhealthy)
            .At(31).ExitedAsAsked(UnitState.StoppingUnhealthy).Stopped(UnitState.Backoff)
            .At(33).Spawned(1).At(40);
        var f = s.Build().Over(s.T(0), s.T(40));

        Assert.Equal(1, f.Failures);
        Assert.Equal(1, f.Restarts);
        Assert.Equal(3 * S, f.WorstTimeToRecover);       // from the verdict to running again
        Assert.Equal(37 * S, f.Up);
        Assert.Equal(3 * S, f.Downtime);                 // 1s stopping unhealthy + 2s waiting
        Assert.Equal("hung: no output", Assert.Single(f.Causes).Cause);
    }

    [Fact]
    public void Stopped_on_request_is_not_downtime_and_a_clean_exit_is_no_failure()
    {
        var s = new Script();
        s.At(0).Spawned(0).At(10).StopRequested().At(11).ExitedAsAsked(UnitState.Stopping).Stopped()
            .At(20).Spawned(1).At(30).ExitedCleanly().At(50);
        var f = s.Build().Over(s.T(0), s.T(50));

        Assert.Equal(20 * S, f.Up);                      // 0-10 and 20-30; stopping, stopped and done are gaps
        Assert.Equal(TimeSpan.Zero, f.Downtime);
        Assert.Equal(1.0, f.Availability);
        Assert.Equal(0, f.Failures);
        Assert.Null(f.MeanTimeBetweenFailures);
        Assert.Equal(1, f.Restarts);                     // a start after a stop is a restart, as `vigil ls` counts it
    }

    [Fact]
    public void Spawn_errors_are_failures_with_their_message_as_cause()
    {
        var s = new Script();
        s.At(0).SpawnFailed("command 'nope' not found").At(1).SpawnFailed("command 'nope' not found").At(3);
        var f = s.Build().Over(s.T(0), s.T(3));

        Assert.Equal([new FailureCause("spawn failed: command 'nope' not found", 2, s.T(0), s.T(1))], f.Causes);
        Assert.Equal(3 * S, f.Downtime);
        Assert.Equal(0.0, f.Availability);
        Assert.Equal(TimeSpan.Zero, f.MeanTimeBetweenFailures); // no up time at all
    }

    [Fact]
    public void A_window_the_unit_never_ran_in_has_no_availability()
    {
        var s = new Script();
        s.At(0).Spawned(0).At(10).StopRequested().ExitedAsAsked(UnitState.Stopping).Stopped().At(100);
        var f = s.Build().Over(s.T(50), s.T(100));
        Assert.Null(f.Availability);
        Assert.Equal(TimeSpan.Zero, f.Up);
    }

    [Theory]
    [InlineData("hung: no output for 2m", "hung: no output")]
    [InlineData("hung: no progress reading in 5m (wc -l): exit 1", "hung: no progress reading")]
    [InlineData("hung: progress stuck at 42 for 5m (file)", "hung: progress stuck at 42")]
    [InlineData("HTTP 503", "HTTP 503")]
    [InlineData("hung: the process sent WATCHDOG=trigger", "hung: the process sent WATCHDOG=trigger")]
    public void Probe_causes_drop_what_changes_between_failures(string why, string cause) => Assert.Equal(cause, UnitHistory.ProbeCause(why));
}
