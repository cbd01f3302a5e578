using System.Collections.Concurrent;
using System.Threading.Channels;
using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Health;

/// <summary>
/// Unit: the probe runner's thresholds, initial delay, startup gate, readiness and deadlines on a fake clock with
/// scripted probes. Determinism: the runner calls its <c>Waiting</c> hook right after it armed a period timer, so a
/// test waits for "every loop is idle" before it advances the clock, and each advance fires exactly the timers due.
/// </summary>
public sealed class ProbeRunnerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static TimeSpan S(double s) => TimeSpan.FromSeconds(s);

    /// <summary>A probe that answers from a script (true = pass), recording the fake time of every check.</summary>
    private sealed class ScriptedProbe(FakeTimeProvider time, Func<int, ProbeResult?> script) : IProbe
    {
        public ConcurrentQueue<TimeSpan> Checks { get; } = new();
        public async ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
        {
            Checks.Enqueue(time.Elapsed);
            var r = script(Checks.Count);
            if (r is { } result) return result;
            await Task.Delay(Timeout.Infinite, CancellationToken.None); // hung, ignoring its token
            throw new InvalidOperationException("unreachable");
        }
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A check that honours its token and then needs a moment to clean up, as an exec probe kills its group.</summary>
    private sealed class CleaningProbe : IProbe
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource MayFinish { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource CleanedUp { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
        {
            Started.TrySetResult();
            try { await Task.Delay(Timeout.Infinite, cancel); }
            catch (OperationCanceledException)
            {
                Cancelled.TrySetResult();
                await MayFinish.Task;
                CleanedUp.TrySetResult();
            }
            return ProbeResult.Fail("cancelled");
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class Harness : IAsyncDisposable
    {
        public FakeTimeProvider Time { get; } = new();
        public Channel<ProbeReport> Reports { get; } = Channel.CreateUnbounded<ProbeReport>();
        public List<(ProbeReport Report, TimeSpan At)> Seen { get; } = [];
        private readonly Channel<string> _idle = Channel.CreateUnbounded<string>();
        private ProbeRunner? _runner;
        private readonly OsLauncher _launcher = new(subreaper: false); // as before: a probe test does not make the test host a subreaper

        public ProbeRunner Start(params (ProbeSpec Spec, IProbe Probe)[] probes)
        {
            var provider = new ListProvider(probes);
            _runner = ProbeRunner.Create([.. probes.Select(p => p.Spec)], "unit", [provider], new Dictionary<string, string>(), 1, Time,
                r => Reports.Writer.TryWrite(r))!;
            _runner.Waiting = spec => _idle.Writer.TryWrite(spec.Name);
            _runner.Start(spec => new ProbeTarget
            {
                UnitName = "unit", Pid = 1, Session = 1, Spec = spec, Time = Time, StartedAt = Time.GetTimestamp(),
                WorkingDirectory = "/", LastOutputAt = () => null, Launcher = _launcher,
            });
            return _runner;
        }

        /// <summary>Waits until <paramref name="loops"/> probe loops have gone idle (armed their next period).</summary>
        public async Task Idle(int loops = 1)
        {
            for (int i = 0; i < loops; i++) await _idle.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        }

        /// <summary>Advances to the next due timer and waits until the loop that woke is idle again.</summary>
        public async Task Step(int loops = 1)
        {
            Assert.NotNull(Time.UntilNextTimer);
            Time.Advance(Time.UntilNextTimer!.Value);
            await Idle(loops);
        }

        public List<ProbeReport> Drain()
        {
            var list = new List<ProbeReport>();
            while (Reports.Reader.TryRead(out var r)) list.Add(r);
            return list;
        }

        public async Task<ProbeReport> NextReport() => await Reports.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        public async ValueTask DisposeAsync()
        {
            if (_runner is not null) await _runner.DisposeAsync();
            _launcher.Dispose();
        }

        private sealed class ListProvider((ProbeSpec Spec, IProbe Probe)[] probes) : IProbeProvider
        {
            public IProbe? Create(ProbeSpec spec, string unitName, IDictionary<string, string> environment) =>
                probes.First(p => ReferenceEquals(p.Spec, spec)).Probe;
        }
    }

    private static ProbeSpec Spec(string name, ProbeRole role = ProbeRole.Liveness, double period = 1, int fail = 3, int pass = 1, double initialDelay = 0, double timeout = 0.5) =>
        new(new CustomCheck(name, () => throw new InvalidOperationException("not used")))
        {
            Name = name, Role = role, Period = S(period), FailureThreshold = fail, SuccessThreshold = pass, InitialDelay = S(initialDelay), Timeout = S(timeout),
        };

    [Fact]
    public async Task A_check_given_up_on_before_its_deadline_timer_fired_is_still_cancelled_and_its_token_is_not_reused()
    {
        // Under load the wait's own timer (deadline + grace) can run before the deadline's: two clocks make that
        // order certain. The deadline's clock never moves; the check's wait gives up on the target's clock.
        var deadlineClock = new FakeTimeProvider();
        var waitClock = new FakeTimeProvider();
        using var stop = new CancellationTokenSource();
        using var deadlines = new ProbeRunner.Deadline(deadlineClock, stop.Token);
        using var launcher = new OsLauncher(subreaper: false);
        var spec = Spec("exec", timeout: 0.4);
        var target = new ProbeTarget
        {
            UnitName = "unit", Pid = 1, Session = 1, Spec = spec, Time = waitClock, StartedAt = 0,
            WorkingDirectory = "/", LastOutputAt = () => null, Launcher = launcher,
        };
        var first = new CleaningProbe();
        var checking = ProbeRunner.CheckOnceAsync(spec, first, target, deadlines, stop.Token);
        await first.Started.Task.WaitAsync(Wait);
        Assert.True(await Procs.Eventually(() => waitClock.UntilNextTimer is not null), "the check's wait armed no timer");
        waitClock.Advance(spec.CheckDeadline + ProbeRunner.CancelGrace);
        var result = await checking.WaitAsync(Wait);
        Assert.StartsWith("exec check timed out after 400ms", result.Detail);
        // The abandoned check learns it was given up on, so it can kill what it started.
        await first.Cancelled.Task.WaitAsync(Wait);

        // The next check gets a token of its own, and the first one's cleanup still runs to its end.
        var second = new CleaningProbe();
        var next = ProbeRunner.CheckOnceAsync(spec, second, target, deadlines, stop.Token);
        await second.Started.Task.WaitAsync(Wait);
        Assert.False(second.Cancelled.Task.IsCompleted, "the second check's token came cancelled");
        first.MayFinish.TrySetResult();
        await first.CleanedUp.Task.WaitAsync(Wait);
        stop.Cancel();
        await second.Cancelled.Task.WaitAsync(Wait);
        second.MayFinish.TrySetResult();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next.WaitAsync(Wait));
    }

    [Fact]
    public async Task Stopping_the_runner_cancels_the_check_in_flight_and_ends_only_after_it_has_cleaned_up()
    {
        var h = new Harness();
        var probe = new CleaningProbe();
        h.Start((Spec("exec", timeout: 60), probe));
        await probe.Started.Task.WaitAsync(Wait);
        var disposing = h.DisposeAsync().AsTask();
        // The stop itself cancels the check's token: the fake clock never reaches its deadline.
        await probe.Cancelled.Task.WaitAsync(Wait);
        Assert.False(disposing.IsCompleted, "the runner was disposed while its abandoned check was still cleaning up");
        probe.MayFinish.TrySetResult();
        await disposing.WaitAsync(Wait);
        Assert.True(probe.CleanedUp.Task.IsCompleted);
        Assert.Equal(TimeSpan.Zero, h.Time.Elapsed);
    }

    [Fact]
    public async Task Liveness_fails_after_failureThreshold_consecutive_failures_and_a_pass_resets_the_count()
    {
        await using var h = new Harness();
        // pass, fail, fail, pass, fail, fail, fail → the 7th check (at 6 s) is the third failure in a row.
        bool[] script = [true, false, false, true, false, false, false, true];
        var probe = new ScriptedProbe(h.Time, n => script[Math.Min(n, script.Length) - 1] ? ProbeResult.Ok() : ProbeResult.Fail($"bad {n}"));
        h.Start((Spec("live", fail: 3), probe));
        await h.Idle();
        for (int i = 0; i < 5; i++) await h.Step();
        Assert.Empty(h.Drain()); // six checks, never three failures in a row
        await h.Step();
        var r = Assert.Single(h.Drain());
        Assert.Equal(ProbeReportKind.Failed, r.Kind);
        Assert.Equal("bad 7", r.Detail);
        Assert.Equal(3, r.FailedChecks);
        Assert.Equal([S(0), S(1), S(2), S(3), S(4), S(5), S(6)], probe.Checks.ToArray());
    }

    [Fact]
    public async Task Inconclusive_checks_do_not_count_pause_the_probe_once_and_counting_starts_afresh_when_it_resumes()
    {
        await using var h = new Harness();
        // fail, ?, ?, fail, fail, fail (? = inconclusive): without the fresh start the 5th check would be the third failure.
        char[] script = ['F', '?', '?', 'F', 'F', 'F'];
        var probe = new ScriptedProbe(h.Time, n => script[Math.Min(n, script.Length) - 1] switch
        {
            '?' => ProbeResult.Inconclusive($"broker down {n}"),
            _ => ProbeResult.Fail($"bad {n}"),
        });
        h.Start((Spec("live", fail: 3), probe));
        await h.Idle();
        Assert.Empty(h.Drain());
        await h.Step();
        var paused = Assert.Single(h.Drain());
        Assert.Equal((ProbeReportKind.Paused, "broker down 2"), (paused.Kind, paused.Detail));
        await h.Step();
        Assert.Empty(h.Drain()); // paused once, not per check
        await h.Step();
        var resumed = Assert.Single(h.Drain());
        Assert.Equal((ProbeReportKind.Resumed, "bad 4"), (resumed.Kind, resumed.Detail));
        await h.Step();
        Assert.Empty(h.Drain());
        await h.Step();
        var failed = Assert.Single(h.Drain());
        Assert.Equal((ProbeReportKind.Failed, "bad 6", 3), (failed.Kind, failed.Detail, failed.FailedChecks));
        Assert.True(ProbeResult.Inconclusive("x").IsInconclusive);
        Assert.False(ProbeResult.Inconclusive("x").Healthy);
    }

    [Fact]
    public async Task A_failed_liveness_probe_reports_recovery_after_successThreshold_passes()
    {
        await using var h = new Harness();
        bool[] script = [false, true, true, true];
        var probe = new ScriptedProbe(h.Time, n => script[Math.Min(n, script.Length) - 1] ? ProbeResult.Ok("fine") : ProbeResult.Fail("bad"));
        h.Start((Spec("live", fail: 1, pass: 2), probe));
        await h.Idle();
        Assert.Equal(ProbeReportKind.Failed, Assert.Single(h.Drain()).Kind);
        await h.Step();
        Assert.Empty(h.Drain()); // one pass is not enough
        await h.Step();
        var r = Assert.Single(h.Drain());
        Assert.Equal(ProbeReportKind.Recovered, r.Kind);
        await h.Step();
        Assert.Empty(h.Drain()); // reported once
    }

    [Fact]
    public async Task InitialDelay_holds_the_first_check_back()
    {
        await using var h = new Harness();
        var probe = new ScriptedProbe(h.Time, _ => ProbeResult.Ok());
        h.Start((Spec("live", initialDelay: 5, period: 2), probe));
        Assert.True(await Procs.Eventually(() => h.Time.PendingTimers == 1, Wait), "the initial delay timer is armed");
        Assert.Equal(0, h.Time.Advance(S(5) - TimeSpan.FromMilliseconds(1)));
        Assert.Empty(probe.Checks);
        h.Time.Advance(TimeSpan.FromMilliseconds(1));
        await h.Idle();
        await h.Step();
        Assert.Equal([S(5), S(7)], probe.Checks.ToArray());
    }

    [Fact]
    public async Task A_startup_probe_gates_liveness_and_readiness_until_it_passes()
    {
        await using var h = new Harness();
        var startup = new ScriptedProbe(h.Time, n => n >= 3 ? ProbeResult.Ok("up") : ProbeResult.Fail("not yet"));
        var live = new ScriptedProbe(h.Time, _ => ProbeResult.Fail("would fail at once"));
        var ready = new ScriptedProbe(h.Time, _ => ProbeResult.Ok("ready"));
        h.Start((Spec("startup", ProbeRole.Startup, fail: 5), startup), (Spec("live", fail: 1), live), (Spec("ready", ProbeRole.Readiness), ready));
        await h.Idle();
        await h.Step();
        Assert.Empty(live.Checks);
        Assert.Empty(ready.Checks);
        Assert.Empty(h.Drain());
        // Third startup check passes at 2 s: the gate opens, both gated loops check at once and go idle.
        h.Time.Advance(h.Time.UntilNextTimer!.Value);
        await h.Idle(2);
        var reports = h.Drain();
        Assert.Contains(reports, r => r.Kind == ProbeReportKind.StartupPassed && r.Probe.Name == "startup");
        Assert.Contains(reports, r => r.Kind == ProbeReportKind.Failed && r.Probe.Name == "live");
        Assert.Contains(reports, r => r.Kind == ProbeReportKind.Ready && r.Probe.Name == "ready");
        Assert.Equal(S(2), Assert.Single(live.Checks));
        Assert.Equal(3, startup.Checks.Count); // a startup probe stops once it passed
    }

    [Fact]
    public async Task A_startup_probe_that_never_passes_fails_as_liveness_after_its_threshold()
    {
        await using var h = new Harness();
        var startup = new ScriptedProbe(h.Time, _ => ProbeResult.Fail("port closed"));
        var live = new ScriptedProbe(h.Time, _ => ProbeResult.Ok());
        h.Start((Spec("startup", ProbeRole.Startup, fail: 3), startup), (Spec("live"), live));
        await h.Idle();
        await h.Step();
        h.Time.Advance(h.Time.UntilNextTimer!.Value);
        var r = await h.NextReport();
        Assert.Equal(ProbeReportKind.Failed, r.Kind);
        Assert.Equal("startup: port closed", r.Detail);
        Assert.Empty(live.Checks);
    }

    [Fact]
    public async Task Readiness_starts_not_ready_then_follows_its_thresholds()
    {
        await using var h = new Harness();
        bool[] script = [false, true, true, false, false, true];
        var probe = new ScriptedProbe(h.Time, n => script[Math.Min(n, script.Length) - 1] ? ProbeResult.Ok("up") : ProbeResult.Fail("down"));
        h.Start((Spec("ready", ProbeRole.Readiness, fail: 2, pass: 2), probe));
        await h.Idle();
        Assert.Empty(h.Drain()); // one failure of two
        await h.Step();
        Assert.Empty(h.Drain());
        await h.Step();
        Assert.Equal(ProbeReportKind.Ready, Assert.Single(h.Drain()).Kind);
        await h.Step();
        Assert.Empty(h.Drain());
        await h.Step();
        Assert.Equal(ProbeReportKind.NotReady, Assert.Single(h.Drain()).Kind);
    }

    [Fact]
    public async Task A_hung_probe_is_abandoned_at_its_deadline_and_counted_as_a_failure()
    {
        await using var h = new Harness();
        var probe = new ScriptedProbe(h.Time, n => n == 1 ? null : ProbeResult.Ok());
        h.Start((Spec("live", fail: 1, timeout: 0.5, period: 2), probe));
        // Three timers: the loop's period, the check's deadline, and the abandon timer (armed once the check is seen
        // to be pending). Advancing before the third is armed would arm it later, on the advanced clock, out of reach.
        Assert.True(await Procs.Eventually(() => probe.Checks.Count == 1 && h.Time.PendingTimers >= 3, Wait), "the period, deadline and abandon timers are armed");
        Assert.Equal(1, h.Time.Advance(TimeSpan.FromMilliseconds(500))); // the deadline cancels the token: ignored
        Assert.Equal(2, h.Time.PendingTimers);
        h.Time.Advance(ProbeRunner.CancelGrace); // and shortly after it the check is abandoned
        var r = await h.NextReport();
        Assert.Equal(ProbeReportKind.Failed, r.Kind);
        Assert.Contains("timed out after 500ms", r.Detail);
        await h.Idle();
        await h.Step(); // the loop goes on: next check one period after the first began
        Assert.Equal([S(0), S(2)], probe.Checks.ToArray());
        Assert.Contains("timed out after 500ms", r.Detail);
        Assert.Equal(ProbeReportKind.Recovered, Assert.Single(h.Drain()).Kind);
    }

    [Fact]
    public async Task A_probe_that_throws_is_a_failed_check_with_the_message()
    {
        await using var h = new Harness();
        h.Start((Spec("live", fail: 1), new ThrowingProbe()));
        var r = await h.NextReport();
        Assert.Equal(ProbeReportKind.Failed, r.Kind);
        Assert.Equal("probe error: boom", r.Detail);
    }

    [Fact]
    public async Task Gauges_of_a_check_are_reported()
    {
        await using var h = new Harness();
        var probe = new ScriptedProbe(h.Time, n => ProbeResult.Ok("ok", new Dictionary<string, double> { ["fps"] = 60 + n }));
        h.Start((Spec("live"), probe));
        var r = await h.NextReport();
        Assert.Equal(ProbeReportKind.Gauges, r.Kind);
        Assert.Equal(61, r.Gauges!["fps"]);
    }

    private sealed class ThrowingProbe : IProbe
    {
        public ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel) => throw new InvalidOperationException("boom");
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
