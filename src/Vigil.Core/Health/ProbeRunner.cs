using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Specs;

namespace Vigil.Health;

/// <summary>What a probe loop tells its unit. The unit's loop turns these into events and actions.</summary>
public enum ProbeReportKind
{
    /// <summary>A liveness probe reached its failure threshold, or a startup probe did.</summary>
    Failed,
    /// <summary>A liveness probe that had failed (with action notify or exec) passed successThreshold checks again.</summary>
    Recovered,
    Ready,
    NotReady,
    StartupPassed,
    /// <summary>Only numbers to publish (no change of verdict).</summary>
    Gauges,
    /// <summary>A check was inconclusive (<see cref="ProbeResult.IsInconclusive"/>): the probe's checks stop counting.</summary>
    Paused,
    /// <summary>The first conclusive check after <see cref="Paused"/>; counting starts afresh.</summary>
    Resumed,
    /// <summary>A check saw something worth an event whatever its verdict (<see cref="ProbeResult.Notice"/>).</summary>
    Notice,
}

public sealed record ProbeReport(int Run, ProbeSpec Probe, ProbeReportKind Kind, string Detail, int FailedChecks,
    IReadOnlyDictionary<string, double>? Gauges = null);

// Overview
// --------
// A runner owns the probes of one run of one unit. It is made before the spawn (so a probe can add to the child's
// environment: sd-notify's NOTIFY_SOCKET), started with the run's target after it, and disposed when the run ends.
// Each probe has its own loop: initial delay, then (unless it is the startup probe) wait for the startup gate,
// then check every period. A check runs under a deadline on the injected clock; a probe that ignores its
// cancellation token is abandoned shortly after the deadline (CancelGrace) and counted as a failure, so a hung
// target or a hung probe never holds anything up. Thresholds are counted here, not in the probes (Kubernetes semantics: failureThreshold
// consecutive failures fail the probe, successThreshold consecutive passes recover it); only changes of verdict are
// reported, through a callback that posts to the unit's loop. Nothing here touches the unit's state.
internal sealed class ProbeRunner : IAsyncDisposable
{
    private readonly ImmutableArray<(ProbeSpec Spec, IProbe Probe)> _probes;
    private readonly int _run;
    private readonly TimeProvider _time;
    private readonly Action<ProbeReport> _report;
    private readonly Action<ProbeSpec, bool?, TimeSpan>? _checked;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource? _startupGate;
    private readonly List<Task> _loops = [];
    // One slot per probe, replaced by its loop after every check and read by Statuses from any thread: the one
    // allocation a check adds is that small immutable record.
    private readonly Supervision.ProbeStatus[] _statuses;

    /// <summary>An sd_notify message the run's main process sent on its IPC channel: to the sd-notify probes, as from it.</summary>
    internal void NotifyFromChannel(string state)
    {
        foreach (var (_, probe) in _probes)
            if (probe is SdNotifyProbe notify) notify.FromChannel(state);
    }

        /// <summary>Test hook: a probe loop armed its period timer and is about to wait on it.</summary>
    internal Action<ProbeSpec>? Waiting { get; set; }

    private readonly ILogger _log;

    private ProbeRunner(ImmutableArray<(ProbeSpec, IProbe)> probes, int run, TimeProvider time, Action<ProbeReport> report, ILogger log,
        Action<ProbeSpec, bool?, TimeSpan>? checkEnded)
    {
        _log = log;
        _checked = checkEnded;
        _probes = probes;
        _run = run;
        _time = time;
        _report = report;
        if (probes.Any(p => p.Item1.Role == ProbeRole.Startup))
            _startupGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _statuses = [.. probes.Select(p => new Supervision.ProbeStatus(p.Item1.Name, p.Item1.Check.Kind, p.Item1.Role, p.Item1.Action,
            Supervision.ProbeOutcome.Unknown, null, null, null, 0))];
    }

    /// <summary>Each probe's last result, in the spec's order (Unknown before its first check).</summary>
    public IReadOnlyList<Supervision.ProbeStatus> Statuses
    {
        get
        {
            var copy = new Supervision.ProbeStatus[_statuses.Length];
            for (int i = 0; i < copy.Length; i++) copy[i] = Volatile.Read(ref _statuses[i]);
            return copy;
        }
    }

    private void Record(int index, ProbeSpec spec, Supervision.ProbeOutcome result, string? lastFailure, TimeSpan latency, int fails) =>
        Volatile.Write(ref _statuses[index], new Supervision.ProbeStatus(spec.Name, spec.Check.Kind, spec.Role, spec.Action, result,
            lastFailure, latency, _time.GetUtcNow(), fails));

    /// <summary>Creates the probes of a run; null when the unit has none. <paramref name="environment"/> collects
    /// the variables probes need in the child's environment. <paramref name="checkEnded"/> hears of every check (passed:
    /// true, failed: false, inconclusive: null) and how long it took, on the probe's loop (metrics: must be quick).</summary>
    public static ProbeRunner? Create(IReadOnlyList<ProbeSpec> specs, string unitName, IReadOnlyList<IProbeProvider> providers,
        IDictionary<string, string> environment, int run, TimeProvider time, Action<ProbeReport> report, ILogger? log = null,
        Action<ProbeSpec, bool?, TimeSpan>? checkEnded = null)
    {
        if (specs.Count == 0) return null;
        var probes = ImmutableArray.CreateBuilder<(ProbeSpec, IProbe)>(specs.Count);
        foreach (var spec in specs)
        {
            IProbe? probe = null;
            foreach (var provider in providers)
                if ((probe = provider.Create(spec, unitName, environment)) is not null) break;
            probes.Add((spec, probe ?? new UnavailableProbe($"no probe provider for kind '{spec.Check.Kind}' (is its transport registered?)")));
        }
        return new ProbeRunner(probes.MoveToImmutable(), run, time, report, log ?? NullLogger.Instance, checkEnded);
    }

    /// <summary>Starts every probe loop against the run's target.</summary>
    public void Start(Func<ProbeSpec, ProbeTarget> target)
    {
        for (int i = 0; i < _probes.Length; i++)
        {
            var (spec, probe) = _probes[i];
            var t = target(spec);
            if (probe is IRunBoundProbe bound) bound.RunStarted(t);
            int index = i;
            _loops.Add(Task.Run(() => LoopAsync(index, spec, probe, t, _stop.Token)));
        }
    }

    private async Task LoopAsync(int index, ProbeSpec spec, IProbe probe, ProbeTarget target, CancellationToken stop)
    {
        using var deadlines = new Deadline(_time, stop);
        try
        {
            if (spec.InitialDelay > TimeSpan.Zero) await Task.Delay(spec.InitialDelay, _time, stop).ConfigureAwait(false);
            if (spec.Role != ProbeRole.Startup && _startupGate is not null) await _startupGate.Task.WaitAsync(stop).ConfigureAwait(false);

            int fails = 0, passes = 0;
            bool failed = false, ready = false, paused = false;
            string? lastFailure = null;
            // One timer for the loop's life, ticking every period from the first check (a check that overruns its
            // period is followed by the next at once): no timer created and queued per check.
            using var ticks = new PeriodicTimer(spec.Period, _time);
            while (!stop.IsCancellationRequested)
            {
                long began = _time.GetTimestamp();
                var r = await CheckOnceAsync(spec, probe, target, deadlines, stop).ConfigureAwait(false);
                var latency = _time.GetElapsedTime(began);
                if (stop.IsCancellationRequested) break;
                _checked?.Invoke(spec, r.IsInconclusive ? null : r.Healthy, latency);
                if (r.Gauges is { Count: > 0 }) Report(spec, ProbeReportKind.Gauges, r.Detail, 0, r.Gauges);
                if (r.Notice is { } notice) Report(spec, ProbeReportKind.Notice, notice, 0);
                if (r.IsInconclusive)
                {
                    // Says nothing about the target (its broker is down): neither a failure nor a pass, and a pause
                    // breaks a streak, so counting starts afresh once a check tells again.
                    int before = fails;
                    fails = passes = 0;
                    lastFailure = r.Detail;
                    Record(index, spec, Supervision.ProbeOutcome.Unknown, lastFailure, latency, 0);
                    if (!paused) Report(spec, ProbeReportKind.Paused, r.Detail, before);
                    paused = true;
                    if (!await NextTickAsync().ConfigureAwait(false)) break;
                    continue;
                }
                if (r.Healthy) { fails = 0; passes++; }
                else { passes = 0; fails++; lastFailure = r.Detail; }
                // Recorded before the reports go out, so a reader reacting to one sees the check that caused it. A
                // failed liveness probe stays failed until successThreshold passes recover it.
                bool stillFailed = spec.Role == ProbeRole.Liveness && failed && !(r.Healthy && passes >= spec.SuccessThreshold);
                Record(index, spec, r.Healthy ? (stillFailed ? Supervision.ProbeOutcome.Failed : Supervision.ProbeOutcome.Ok)
                    : fails >= spec.FailureThreshold || stillFailed ? Supervision.ProbeOutcome.Failed : Supervision.ProbeOutcome.Failing,
                    lastFailure, latency, fails);
                if (paused)
                {
                    paused = false;
                    Report(spec, ProbeReportKind.Resumed, r.Detail, 0);
                }
                if (r.Healthy)
                {
                    switch (spec.Role)
                    {
                        case ProbeRole.Startup:
                            Report(spec, ProbeReportKind.StartupPassed, r.Detail, 0);
                            _startupGate!.TrySetResult();
                            return; // a startup probe's job is done once it passes
                        case ProbeRole.Readiness when !ready && passes >= spec.SuccessThreshold:
                            ready = true;
                            Report(spec, ProbeReportKind.Ready, r.Detail, 0);
                            break;
                        case ProbeRole.Liveness when failed && passes >= spec.SuccessThreshold:
                            failed = false;
                            Report(spec, ProbeReportKind.Recovered, r.Detail, 0);
                            break;
                    }
                }
                else
                {
                    if (fails >= spec.FailureThreshold)
                    {
                        switch (spec.Role)
                        {
                            case ProbeRole.Startup:
                                Report(spec, ProbeReportKind.Failed, "startup: " + r.Detail, fails);
                                return;
                            case ProbeRole.Readiness when ready || fails == spec.FailureThreshold:
                                // Reported when it was ready, and once at the start (so "not ready yet" is visible).
                                Report(spec, ProbeReportKind.NotReady, r.Detail, fails);
                                ready = false;
                                break;
                            case ProbeRole.Liveness when !failed:
                                failed = true;
                                Report(spec, ProbeReportKind.Failed, r.Detail, fails);
                                break;
                        }
                    }
                }
                if (!await NextTickAsync().ConfigureAwait(false)) break;
            }

            ValueTask<bool> NextTickAsync()
            {
                var next = ticks.WaitForNextTickAsync(stop);
                Waiting?.Invoke(spec); // tests: the period timer is armed, the loop is idle
                return next;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
        finally
        {
            // A check abandoned at the deadline or at the stop may still be killing what it started (an exec probe's
            // process group): the loop, and so the runner's disposal and Vigil's shutdown, ends only after that.
            await deadlines.AbandonedChecks().ConfigureAwait(false);
        }
    }

    /// <summary>How long after its deadline a check's result is still awaited: a probe that honours its token returns
    /// its own detail ("no answer from … within 1s") a moment after the cancellation; one that does not is abandoned.</summary>
    internal static readonly TimeSpan CancelGrace = TimeSpan.FromMilliseconds(500);

    /// <summary>How long a stopping loop waits for its abandoned checks to end (an exec probe's group kill waits at
    /// most 2 s for the processes to go). Real time, not the injected clock: it bounds a wait for the OS.</summary>
    internal static readonly TimeSpan AbandonBound = TimeSpan.FromSeconds(4);

    /// <summary>One check under its deadline. Never throws except for the runner's own stop.</summary>
    internal static async Task<ProbeResult> CheckOnceAsync(ProbeSpec spec, IProbe probe, ProbeTarget target, Deadline deadlines, CancellationToken stop)
    {
        var deadline = spec.CheckDeadline;
        bool immediate = probe is IImmediateProbe; // answers at once: no deadline timer to arm and disarm
        ValueTask<ProbeResult> pending;
        try { pending = probe.CheckAsync(target, immediate ? stop : deadlines.Arm(deadline)); }
        catch (Exception e)
        {
            if (!immediate) deadlines.Disarm();
            return ProbeResult.Fail($"probe error: {e.Message}");
        }
        if (pending.IsCompletedSuccessfully)
        {
            // Most kinds answer at once: no task (and for IImmediateProbe kinds no deadline timer was armed at all).
            // (A check that faulted or was cancelled at once takes the general path below, which maps both.)
            if (!immediate) deadlines.Disarm();
            return pending.Result;
        }
        var check = pending.AsTask();
        try
        {
            // WaitAsync: a probe that ignores its token is abandoned just after the deadline, not awaited forever.
            return await check.WaitAsync(deadline + CancelGrace, target.Time, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The stop cancels the check's token through a registration on the stop token, but that registration can
            // be disposed (with the loop's Deadline) before its callback runs when this continuation runs inline
            // inside the stop's Cancel: the probe would never see the stop and an exec probe's process would run on.
            if (!immediate) deadlines.CancelNow();
            deadlines.Abandon(check);
            throw;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // Cancel its token here rather than trust the deadline timer to have fired: under load the wait's own
            // timer can run first, and the Disarm below would then stop the deadline for good. The check would never
            // learn it was given up on (an exec probe's processes would run on), and the next Arm would reset and
            // reuse the source, which drops the abandoned check's registration with it.
            if (!immediate) deadlines.CancelNow();
            deadlines.Abandon(check); // what it started is being killed
            return ProbeResult.Fail($"{spec.Check.Kind} check timed out after {Specs.Durations.Format(deadline)}");
        }
        catch (Exception e)
        {
            return ProbeResult.Fail($"probe error: {e.Message}");
        }
        finally
        {
            deadlines.Disarm();
        }
    }

    /// <summary>
    /// The deadline token of one probe loop, re-armed for every check, so a check allocates no token source and no
    /// timer (100 units probed every second measured 1–3 % of a core with one of each per check). Cancelled also
    /// when the runner stops. A source whose deadline fired cannot be reset and is replaced.
    /// </summary>
    internal sealed class Deadline(TimeProvider time, CancellationToken stop) : IDisposable
    {
        private CancellationTokenSource? _cts;
        private CancellationTokenRegistration _onStop;

        public CancellationToken Arm(TimeSpan after)
        {
            if (_cts is null || !_cts.TryReset())
            {
                _onStop.Dispose();
                _cts?.Dispose();
                _cts = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
                _onStop = stop.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _cts);
            }
            _cts.CancelAfter(after);
            return _cts.Token;
        }

        public void Disarm()
        {
            try { _cts?.CancelAfter(Timeout.InfiniteTimeSpan); }
            catch (ObjectDisposedException) { }
        }

        /// <summary>Cancels the armed check's token now (the runner stops).</summary>
        public void CancelNow()
        {
            try { _cts?.Cancel(); }
            catch (ObjectDisposedException) { }
        }

        private readonly List<Task> _abandoned = [];
        private const int MaxAbandoned = 16;

        /// <summary>Keeps a check that was given up on (its token cancelled) until it ends: it may still be killing
        /// the processes it started. Its fault, if any, is observed here.</summary>
        public void Abandon(Task check)
        {
            _ = check.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default); // observe a late fault
            lock (_abandoned)
            {
                _abandoned.RemoveAll(static t => t.IsCompleted);
                // A probe that never honours its token leaves one check behind per period, forever: keep only the
                // latest few, so the list stays bounded (the stop waits at most AbandonBound for them anyway).
                if (_abandoned.Count >= MaxAbandoned) _abandoned.RemoveAt(0);
                _abandoned.Add(check);
            }
        }

        /// <summary>Completes when every abandoned check has ended, or after <see cref="AbandonBound"/> (a probe that
        /// ignores its token is not waited for beyond that). Never throws.</summary>
        public async Task AbandonedChecks()
        {
            Task[] pending;
            lock (_abandoned) pending = [.. _abandoned.Where(static t => !t.IsCompleted)];
            if (pending.Length == 0) return;
            try { await Task.WhenAll(pending).WaitAsync(AbandonBound).ConfigureAwait(false); }
            catch (Exception) { /* faults are observed in Abandon; a check still running after the bound is left */ }
        }

        public void Dispose()
        {
            _onStop.Dispose();
            _cts?.Dispose();
        }
    }

    private void Report(ProbeSpec spec, ProbeReportKind kind, string detail, int fails, IReadOnlyDictionary<string, double>? gauges = null) =>
        _report(new ProbeReport(_run, spec, kind, detail, fails, gauges));

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); }
        catch (Exception) { /* a loop that does not end within 5 s is abandoned; its probe is still disposed */ }
        foreach (var (_, probe) in _probes)
        {
            try { await probe.DisposeAsync().ConfigureAwait(false); }
            catch (Exception e) { HealthLog.ProbeDisposeFailed(_log, probe.GetType().Name, e.Message, e); }
        }
        _stop.Dispose();
    }

    /// <summary>Stands in for a probe whose kind nobody provides: fails every check with the reason.</summary>
    private sealed class UnavailableProbe(string why) : IProbe, IImmediateProbe
    {
        public ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel) => ValueTask.FromResult(ProbeResult.Fail(why));
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
