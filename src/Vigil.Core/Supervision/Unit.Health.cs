using System.Collections.Immutable;
using System.Globalization;
using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;

namespace Vigil.Supervision;

// The health half of a unit: a ProbeRunner per run, whose reports arrive as messages to the unit's one loop. A
// failed liveness probe takes the same path as a crash: stop escalation (or SIGKILL for action kill) in state
// StoppingUnhealthy, then the restart policy with a failed run, so it counts against the crash-loop limit like any
// other failure.
public sealed partial class Unit
{
    private ProbeRunner? _probes;      // written by the loop, read by ProbeStatuses from any thread
    private int _run;
    private TimeSpan _lastRan;
    private bool _startupPassed;
    private ImmutableHashSet<string> _notReady = [];
    private ImmutableDictionary<string, double> _gauges = ImmutableDictionary<string, double>.Empty;

    internal sealed record ProbeMsg(ProbeReport Report) : Message;

    private bool HasProbes => !Spec.Health.IsDefaultOrEmpty;

    /// <summary>Each probe of the current run and its last result (empty when the unit has no probes or no run).</summary>
    public IReadOnlyList<ProbeStatus> ProbeStatuses => Volatile.Read(ref _probes)?.Statuses ?? [];

    /// <summary>Before a spawn: a fresh runner for the coming run; returns what the probes add to the environment.</summary>
    private Dictionary<string, string>? PrepareProbes()
    {
        StopProbes();
        int run = ++_run;
        _startupPassed = !Spec.Health.Any(p => p.Role == ProbeRole.Startup);
        _notReady = Spec.Health.Where(GivesReadiness).Select(p => p.Name).ToImmutableHashSet();
        if (!HasProbes) return null;
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        IProbeProvider[] providers = [.. _owner.Options.ProbeProviders, _owner.BuiltInProbes];
        Volatile.Write(ref _probes, ProbeRunner.Create(Spec.Health, Name, providers, env, run, _time, r => Post(new ProbeMsg(r)), _owner.HealthLog,
            _owner.Metrics.CheckEnded(Name)));
        return env;
    }

    /// <summary>After the spawn (or attach): starts the probe loops against the new process.</summary>
    private void StartProbes(IProcessHandle p, Func<long?> lastOutputAt, string cwd)
    {
        int run = _run;
        _probes?.Start(spec => new ProbeTarget
        {
            UnitName = Name, Pid = p.Pid, Session = p.Session, Spec = spec, Time = _time, StartedAt = _runStartedAt,
            WorkingDirectory = cwd, LastOutputAt = lastOutputAt, Launcher = _launcher,
            ReportReady = (ready, why) => Post(new ProbeMsg(new ProbeReport(run, spec, ready ? ProbeReportKind.Ready : ProbeReportKind.NotReady, why, 0))),
        });
    }

    private Task _probesDisposed = Task.CompletedTask;

    /// <summary>Completes when the probes of every ended run are disposed (sd-notify's socket file removed).</summary>
    internal Task ProbesDisposed => Volatile.Read(ref _probesDisposed);

    private void StopProbes()
    {
        if (_probes is { } r)
        {
            Volatile.Write(ref _probes, null);
            var disposing = r.DisposeAsync().AsTask();
            var earlier = _probesDisposed;
            Volatile.Write(ref _probesDisposed, earlier.IsCompleted ? disposing : Task.WhenAll(earlier, disposing));
        }
    }

    /// <summary>Probes whose verdict is the unit's readiness: readiness probes, and an sd-notify probe in any role
    /// (systemd's Type=notify: not ready until READY=1, which the probe reports as it arrives).</summary>
    private static bool GivesReadiness(ProbeSpec p) => p.Role == ProbeRole.Readiness || p.Check is SdNotifyCheck;

    private bool? Readiness => HasProbes && Spec.Health.Any(p => GivesReadiness(p) || p.Role == ProbeRole.Startup)
        ? _process is not null && _state == UnitState.Running && _startupPassed && _notReady.IsEmpty
        : null;

    /// <summary>A report of the current run's probes that does not stop the tree (the table sends a failure that does
    /// to <see cref="BeginStop"/>); only while running.</summary>
    private void OnProbe(ProbeReport r)
    {
        var p = _process!;
        switch (r.Kind)
        {
            case ProbeReportKind.Gauges:
                foreach (var (k, v) in r.Gauges!) _gauges = _gauges.SetItem(k, v);
                _snapshot = BuildSnapshot();
                break;
            case ProbeReportKind.StartupPassed:
                _startupPassed = true;
                Note(new ReadinessChanged(Now, Id, Name, p.Pid, _state, r.Probe.Name, Readiness ?? true, r.Detail, Startup: true));
                break;
            case ProbeReportKind.Ready or ProbeReportKind.NotReady:
            {
                bool ready = r.Kind == ProbeReportKind.Ready;
                var before = _notReady;
                _notReady = ready ? _notReady.Remove(r.Probe.Name) : _notReady.Add(r.Probe.Name); // same instance when unchanged
                // The runner's first "not ready" verdict is news even though the probe started out not ready.
                bool firstVerdict = !ready && r.FailedChecks == r.Probe.FailureThreshold;
                if (ReferenceEquals(before, _notReady) && !firstVerdict) break;
                Note(new ReadinessChanged(Now, Id, Name, p.Pid, _state, r.Probe.Name, ready, r.Detail));
                break;
            }
            case ProbeReportKind.Recovered:
                Note(new Recovered(Now, Id, Name, p.Pid, _state, r.Probe.Name, r.Detail));
                break;
            case ProbeReportKind.Paused:
                Note(new ProbesPaused(Now, Id, Name, p.Pid, _state, r.Probe.Name, r.Detail));
                break;
            case ProbeReportKind.Resumed:
                Note(new ProbesResumed(Now, Id, Name, p.Pid, _state, r.Probe.Name, r.Detail));
                break;
            case ProbeReportKind.Notice:
                Note(new ProbeNotice(Now, Id, Name, p.Pid, _state, r.Probe.Name, r.Detail));
                break;
            case ProbeReportKind.Failed: // action notify or exec: the process keeps running
                Note(new Unhealthy(Now, Id, Name, p.Pid, _state, r.Probe.Name, r.Detail, r.FailedChecks, r.Probe.Action));
                if (r.Probe.Action == ProbeAction.Exec) _ = RunHealthActionAsync(r, p.Pid);
                break;
        }
    }

    // Action commands are not tied to the run or to the check that failed: `systemctl restart legacy` or a paging
    // script must finish even though the unit is being restarted meanwhile. They are bounded by their own limit
    // (the probe's timeout, at least 30 s) and by Vigil's life: shutdown cancels them, which kills each command's
    // process group and descendants like an abandoned probe, so none outlives Vigil (DESIGN.md: no orphans).
    private readonly CancellationTokenSource _actionsStop = new();
    private readonly HashSet<Task> _actions = [];

    /// <summary>Runs a probe's <c>action: exec</c> command with the event in its environment, bounded like a probe.</summary>
    private Task RunHealthActionAsync(ProbeReport r, int pid)
    {
        var running = RunActionAsync(r, pid);
        lock (_actions)
        {
            if (!running.IsCompleted) _actions.Add(running);
        }
        _ = running.ContinueWith(t => { lock (_actions) _actions.Remove(t); }, TaskScheduler.Default);
        return running;
    }

    private async Task RunActionAsync(ProbeReport r, int pid)
    {
        var env = new Dictionary<string, string?>
        {
            ["VIGIL_EVENT"] = "unhealthy", ["VIGIL_UNIT"] = Name, ["VIGIL_PID"] = pid.ToString(CultureInfo.InvariantCulture),
            ["VIGIL_PROBE"] = r.Probe.Name, ["VIGIL_REASON"] = r.Detail,
        };
        var limit = r.Probe.Timeout > TimeSpan.FromSeconds(30) ? r.Probe.Timeout : TimeSpan.FromSeconds(30);
        using var cts = new CancellationTokenSource(limit, _time);
        CancellationTokenRegistration onShutdown;
        try { onShutdown = _actionsStop.Token.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), cts); }
        catch (ObjectDisposedException) { return; }
        using (onShutdown)
        {
            var outcome = await CommandRunner.RunAsync(_launcher, r.Probe.ActionCommand, CommandResolver.WorkingDirectory(Spec), env, _time, cts.Token).ConfigureAwait(false);
            Post(new ActionRanMsg(pid, r.Probe.Name, string.Join(' ', r.Probe.ActionCommand), outcome));
        }
    }

    private sealed record ActionRanMsg(int Pid, string Probe, string Command, CommandOutcome Outcome) : NewsMsg(UnitMessage.ActionRan)
    {
        public override UnitEvent Make(Unit u) => new HealthActionRan(u.Now, u.Id, u.Name, Pid, u._state, Probe, Command, Outcome);
    }

    /// <summary>At Vigil's shutdown: kills the action commands still running (each with its process group and
    /// descendants) and waits for that, at most <paramref name="bound"/>.</summary>
    internal async Task StopActionsAsync(TimeSpan bound)
    {
        _actionsStop.Cancel();
        Task[] running;
        lock (_actions) running = [.. _actions];
        try { await Task.WhenAll(running).WaitAsync(bound).ConfigureAwait(false); }
        catch (Exception) { /* an action that does not end in time is left; CommandRunner already sent SIGKILL */ }
    }
}

/// <summary>The <c>action: exec</c> command of a failed probe ran.</summary>
public sealed record HealthActionRan(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, string Probe, string Command, CommandOutcome Outcome)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => "health-action";
    public override string Reason => $"{Command}: " + (Outcome.Exit is { } e ? e.ToString() : Outcome.Error) +
        (Outcome.Output.Length > 0 ? $": {Outcome.FirstLines()}" : "");
}

/// <summary>A probe saw something worth telling whatever its verdict (COPS: the process answers with a new PID).</summary>
public sealed record ProbeNotice(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, string Probe, string Detail)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => "probe-notice";
    public override string Reason => $"{Probe}: {Detail}";
}
