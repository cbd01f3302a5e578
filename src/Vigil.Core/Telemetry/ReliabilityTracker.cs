using Vigil.Supervision;

namespace Vigil.Telemetry;

/// <summary>Why a unit was restarted: the <c>reason</c> attribute of <c>vigil.unit.restarts</c>.</summary>
public static class RestartReasons
{
    /// <summary>The process exited by itself (any code; <c>policy: always</c> restarts a clean exit too).</summary>
    public const string Exit = "exit";
    /// <summary>A signal ended it (not the OOM killer's).</summary>
    public const string Signal = "signal";
    /// <summary>The kernel's OOM killer ended it (<see cref="Launching.ExitStatus.OomKilled"/>).</summary>
    public const string Oom = "oom";
    /// <summary>It could not be started.</summary>
    public const string SpawnFailed = "spawn-failed";
    /// <summary>A restart was asked for (<c>vigil restart</c>, the API).</summary>
    public const string Manual = "manual";

    /// <summary><c>unhealthy:&lt;probe&gt;</c>: a liveness (or startup) probe failed with action restart or kill.</summary>
    public static string Unhealthy(string probe) => "unhealthy:" + probe;

    /// <summary>The reason an unexpected exit gives.</summary>
    public static string Of(Launching.ExitStatus status) => status.OomKilled ? Oom : status.Signal is not null ? Signal : Exit;
}

/// <summary>One time to recover: from the failure to running again (<see cref="ToReady"/> false), or to ready again.</summary>
public readonly record struct Recovery(string Unit, TimeSpan Duration, bool ToReady);

/// <summary>
/// The reliability figures of every unit, derived from its events alone (event in, counters out; no clock but the
/// one asked for the open downtime): restarts by reason, total downtime, and the times to recover. Keyed by unit
/// name, so a unit a reload replaces (a new unit of the same name) carries its counters on, as a Prometheus counter
/// must; the open intervals are per unit, since several units may share a name. Thread-safe.
/// </summary>
/// <remarks>
/// A restart is counted when Vigil decides it (<see cref="BackingOff"/>, <see cref="SlowRetrying"/>), or when a
/// restart is asked for, with the reason of the failure before it, so a unit that fails to spawn over and over counts
/// every attempt. Downtime runs from a failure (an unexpected exit, a spawn failure, a probe failure that stops the
/// process) or a restart request until the unit runs again, or until nobody wants it running (stopped, exited for
/// good); a unit that gave up stays down. Time to recover runs from the first failure of an outage until the unit
/// runs again, and until it is ready again (only units whose probes say when they are ready report that).
/// </remarks>
public sealed class ReliabilityTracker
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Totals> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<int, Open> _byUnit = [];

    private sealed class Totals
    {
        public readonly Dictionary<string, long> Restarts = new(StringComparer.Ordinal);
        public TimeSpan Downtime;
    }

    /// <summary>What is under way for one unit: the outage, the reason of the next restart, the last state.</summary>
    private sealed class Open
    {
        public string Name = "";
        public UnitState State = UnitState.Initial;
        public DateTimeOffset? DownSince;
        public DateTimeOffset? FailedAt;       // first failure not yet recovered by running again
        public DateTimeOffset? NotReadySince;  // first failure not yet recovered by being ready again
        public string? Reason;
    }

    /// <summary>Takes one event into account; returns the recoveries it completes (none, usually).</summary>
    public IReadOnlyList<Recovery> Observe(UnitEvent ev)
    {
        ArgumentNullException.ThrowIfNull(ev);
        if (ev.UnitId == 0) return []; // not a unit's own event (a previous run's leftovers)
        lock (_gate)
        {
            if (!_byUnit.TryGetValue(ev.UnitId, out var open)) _byUnit[ev.UnitId] = open = new Open();
            open.Name = ev.Name;
            var totals = TotalsOf(ev.Name);
            List<Recovery>? recovered = null;
            switch (ev)
            {
                case Exited { Expected: false } e:
                    Fail(open, e.Time, RestartReasons.Of(e.Status));
                    break;
                case SpawnFailed f:
                    Fail(open, f.Time, RestartReasons.SpawnFailed);
                    break;
                case Unhealthy { Action: Specs.ProbeAction.Restart or Specs.ProbeAction.Kill } u:
                    Fail(open, u.Time, RestartReasons.Unhealthy(u.Probe));
                    break;
                case StopRequested { State: UnitState.Restarting } r when open.State != UnitState.Restarting:
                    open.DownSince ??= r.Time;
                    Count(totals, RestartReasons.Manual);
                    open.Reason = null;
                    break;
                case BackingOff or SlowRetrying:
                    Count(totals, open.Reason ?? RestartReasons.Exit);
                    open.Reason = null;
                    break;
                case Spawned s:
                    if (open.FailedAt is { } failed) (recovered ??= []).Add(new Recovery(ev.Name, s.Time - failed, false));
                    open.FailedAt = null;
                    break;
                case ReadinessChanged { Ready: true } ready:
                    if (open.NotReadySince is { } since) (recovered ??= []).Add(new Recovery(ev.Name, ready.Time - since, true));
                    open.NotReadySince = null;
                    break;
            }
            // Running again, or nobody wants it running: the outage is over.
            if (ev.State is UnitState.Running or UnitState.Stopped or UnitState.Exited or UnitState.Initial or UnitState.Released)
            {
                if (open.DownSince is { } down) totals.Downtime += Positive(ev.Time - down);
                open.DownSince = null;
                if (ev.State != UnitState.Running) open.FailedAt = open.NotReadySince = null;
            }
            open.State = ev.State;
            return (IReadOnlyList<Recovery>?)recovered ?? [];
        }
    }

    /// <summary>Restarts of the units named <paramref name="unit"/>, by reason.</summary>
    public IReadOnlyDictionary<string, long> Restarts(string unit)
    {
        lock (_gate) return _byName.TryGetValue(unit, out var t) ? new Dictionary<string, long>(t.Restarts, StringComparer.Ordinal) : [];
    }

    /// <summary>Total downtime of the units named <paramref name="unit"/> up to <paramref name="now"/> (an outage under way counts until then).</summary>
    public TimeSpan Downtime(string unit, DateTimeOffset now)
    {
        lock (_gate)
        {
            var total = _byName.TryGetValue(unit, out var t) ? t.Downtime : TimeSpan.Zero;
            foreach (var open in _byUnit.Values)
                if (open.Name == unit && open.DownSince is { } down) total += Positive(now - down);
            return total;
        }
    }

    /// <summary>Every unit name seen so far.</summary>
    public IReadOnlyList<string> Units()
    {
        lock (_gate) return [.. _byName.Keys];
    }

    private Totals TotalsOf(string name)
    {
        if (!_byName.TryGetValue(name, out var t)) _byName[name] = t = new Totals();
        return t;
    }

    private static void Fail(Open open, DateTimeOffset at, string reason)
    {
        open.Reason = reason;
        open.DownSince ??= at;
        open.FailedAt ??= at;
        open.NotReadySince ??= at;
    }

    private static void Count(Totals totals, string reason) =>
        totals.Restarts[reason] = totals.Restarts.GetValueOrDefault(reason) + 1;

    private static TimeSpan Positive(TimeSpan t) => t > TimeSpan.Zero ? t : TimeSpan.Zero;
}
