using System.Diagnostics.Metrics;
using Vigil.Logs;
using Vigil.Specs;
using Vigil.Supervision;

namespace Vigil.Telemetry;

// Overview
// --------
// The engine's measurements, on one Meter named "Vigil" per supervisor (no process-wide singleton: a listener sees
// every meter of that name, and the meter goes with its supervisor). Almost everything is an observable instrument
// read when a collection asks (a Prometheus scrape, an OTLP or DogStatsD export): unit snapshots, the reliability
// tracker's counters, the output log's plain counters and the process tree's resources, so Vigil does no work for
// metrics nobody reads. Only what happens at a moment is recorded as it happens: a probe check (counter and duration)
// and a recovery (histogram), both no-ops without a listener. Names follow OpenTelemetry's conventions (dotted,
// units in UCUM: s, By); the Prometheus exporter turns them into vigil_unit_restarts_total, vigil_unit_uptime_seconds.
//
// The unit's state is one gauge series per unit, labelled with the current state and valued 1 (kube-state-metrics'
// style, but only the current state's series): `vigil_unit_state{state="backoff"} == 1` and
// `count by (state) (vigil_unit_state)` read without knowing an enum's numbers, and 100 units make 100 series, not 1200.

/// <summary>The engine's <see cref="Meter"/> (named <see cref="MeterName"/>) and its instruments, fed by one supervisor.</summary>
public sealed class EngineMetrics : IDisposable
{
    /// <summary>The name of every engine meter: what an exporter listens to.</summary>
    public const string MeterName = "Vigil";

    private readonly Supervisor _owner;
    private readonly Counter<long> _checks;
    private readonly Histogram<double> _checkDuration;
    private readonly Histogram<double> _recovery;
    private readonly ResourceSampler _resources;

    /// <summary>The restarts, downtime and recoveries of the supervisor's units, from their events.</summary>
    public ReliabilityTracker Reliability { get; } = new();

    /// <summary>The meter; exporters listen to it by <see cref="MeterName"/> (or match this instance).</summary>
    public Meter Meter { get; }

    internal EngineMetrics(Supervisor owner)
    {
        _owner = owner;
        _resources = new ResourceSampler(owner.Time, owner.Launcher);
        Meter = new Meter(MeterName, typeof(EngineMetrics).Assembly.GetName().Version?.ToString(3));
        var m = Meter;

        m.CreateObservableGauge("vigil.unit.state", () => Each<int>(u => Measure(1, u.Snapshot.Name, "state", States.Name(u.Snapshot.State))),
            description: "1 for the unit's current state (attribute state)");
        m.CreateObservableGauge("vigil.unit.up", () => Each<int>(u => Measure(u.Snapshot.State == UnitState.Running ? 1 : 0, u.Name)),
            description: "1 while the unit's process runs");
        m.CreateObservableGauge("vigil.unit.ready", () => Each<int>(u => u.Snapshot.Ready is { } r ? Measure(r ? 1 : 0, u.Name) : null),
            description: "1 while the unit's readiness probes pass (units with a readiness or startup probe only)");
        m.CreateObservableGauge("vigil.unit.uptime", () => Each<double>(u => Measure(u.Snapshot.UptimeAt(owner.Time.GetUtcNow()).TotalSeconds, u.Name)),
            unit: "s", description: "Time since the unit's current process started; 0 when none runs");
        m.CreateObservableCounter("vigil.unit.restarts", Restarts, unit: "{restart}",
            description: "Restarts, by reason: exit, signal, oom, unhealthy:<probe>, spawn-failed, manual");
        m.CreateObservableCounter("vigil.unit.downtime", () => Names(n => Measure(Reliability.Downtime(n, owner.Time.GetUtcNow()).TotalSeconds, n)),
            unit: "s", description: "Time the unit was not running while it should have been");
        _recovery = m.CreateHistogram("vigil.unit.recovery.duration", unit: "s",
            description: "Time from a failure to running again (to=running), and to ready again (to=ready)",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] });

        _checks = m.CreateCounter<long>("vigil.probe.checks", unit: "{check}", description: "Probe checks, by result: ok, failed, unknown (and the probe's kind)");
        _checkDuration = m.CreateHistogram("vigil.probe.check.duration", unit: "s", description: "How long a probe check took",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        m.CreateObservableGauge("vigil.probe.consecutive_failures", ConsecutiveFailures, unit: "{check}",
            description: "Failed checks in a row of each probe of the current run");
        m.CreateObservableGauge("vigil.probe.value", ProbeGauges,
            description: "Numbers the probes observed, by name (tether: ping_ms and the pong's fields; cpu: cpu_percent)");

        m.CreateObservableCounter("vigil.process.cpu.time", () => Each<double>(u => _resources.Of(u) is { } s ? Measure(s.CpuSeconds, u.Name) : null),
            unit: "s", description: "CPU time of the unit's process tree (its cgroup's, or the tree's in /proc)");
        m.CreateObservableGauge("vigil.process.memory.usage", () => Each<long>(u => _resources.Of(u) is { Running: true } s ? Measure(s.RssBytes, u.Name) : null),
            unit: "By", description: "Memory of the unit's process tree (its cgroup's memory.current, or the tree's RSS)");
        m.CreateObservableGauge("vigil.process.open_fds", () => Each<int>(u => _resources.Of(u) is { Running: true } s ? Measure(s.OpenFds, u.Name) : null),
            unit: "{file_descriptor}", description: "Open file descriptors of the unit's main process");

        m.CreateObservableCounter("vigil.output.lines", () => Output(static (c, s) => c.Lines(s)), unit: "{line}",
            description: "Lines the unit wrote, by stream");
        m.CreateObservableCounter("vigil.output.bytes", () => Output(static (c, s) => c.Bytes(s)), unit: "By",
            description: "Bytes the unit wrote, by stream");
        m.CreateObservableGauge("vigil.output.idle", OutputIdle, unit: "s", description: "Time since the unit last wrote output");
        m.CreateObservableCounter("vigil.log.dropped_lines", () => Each<long>(u => Measure(u.DroppedLogLines, u.Name)), unit: "{line}",
            description: "Lines that could not be written to the unit's log files");
    }

    /// <summary>One event of the supervisor (called as it is published): the reliability figures follow it.</summary>
    internal void Observe(UnitEvent ev)
    {
        foreach (var r in Reliability.Observe(ev))
            _recovery.Record(r.Duration.TotalSeconds, new("unit", r.Unit), new("to", r.ToReady ? "ready" : "running"));
    }

    /// <summary>What a unit's probe runner calls at the end of every check: a probe check counted and timed.</summary>
    internal Action<ProbeSpec, bool?, TimeSpan> CheckEnded(string unit) => (spec, passed, took) =>
    {
        if (_checks.Enabled)
            _checks.Add(1, new System.Diagnostics.TagList
            {
                { "unit", unit }, { "probe", spec.Name }, { "kind", spec.Check.Kind },
                { "result", passed switch { true => "ok", false => "failed", null => "unknown" } },
            });
        if (_checkDuration.Enabled) _checkDuration.Record(took.TotalSeconds, new("unit", unit), new("probe", spec.Name));
    };

    private IEnumerable<Measurement<T>> Each<T>(Func<Unit, Measurement<T>?> measure) where T : struct
    {
        foreach (var u in _owner.Units)
            if (measure(u) is { } m) yield return m;
    }

    /// <summary>One measurement per unit name (a reliability figure covers every unit of the name).</summary>
    private IEnumerable<Measurement<T>> Names<T>(Func<string, Measurement<T>> measure) where T : struct =>
        _owner.Units.Select(u => u.Name).Distinct(StringComparer.Ordinal).Select(measure);

    /// <summary>Reasons every unit reports from the start, at 0: a counter series that first appears at 1 loses that
    /// first restart to Prometheus' increase() and rate().</summary>
    private static readonly string[] FixedReasons =
        [RestartReasons.Exit, RestartReasons.Signal, RestartReasons.Oom, RestartReasons.SpawnFailed, RestartReasons.Manual];

    private IEnumerable<Measurement<long>> Restarts()
    {
        foreach (var units in _owner.Units.GroupBy(u => u.Name, StringComparer.Ordinal))
        {
            var counts = Reliability.Restarts(units.Key);
            // The unhealthy:<probe> reasons this name can have: its probes whose failure stops the process.
            var probes = units.SelectMany(u => u.Spec.Health)
                .Where(p => p.Role != ProbeRole.Readiness && p.Action is ProbeAction.Restart or ProbeAction.Kill)
                .Select(p => RestartReasons.Unhealthy(p.Name));
            foreach (var reason in FixedReasons.Concat(probes).Concat(counts.Keys).Distinct(StringComparer.Ordinal))
                yield return Measure(counts.GetValueOrDefault(reason), units.Key, "reason", reason);
        }
    }

    private IEnumerable<Measurement<int>> ConsecutiveFailures()
    {
        foreach (var u in _owner.Units)
            foreach (var p in u.ProbeStatuses)
                yield return Measure(p.ConsecutiveFailures, u.Name, "probe", p.Name);
    }

    private IEnumerable<Measurement<double>> ProbeGauges()
    {
        foreach (var u in _owner.Units)
            foreach (var (name, value) in u.Snapshot.Gauges)
                yield return Measure(value, u.Name, "name", name);
    }

    private IEnumerable<Measurement<long>> Output(Func<OutputCounters, Launching.StreamKind, long> read)
    {
        foreach (var u in _owner.Units)
        {
            var c = u.Log.Counters;
            yield return Measure(read(c, Launching.StreamKind.Stdout), u.Name, "stream", "stdout");
            yield return Measure(read(c, Launching.StreamKind.Stderr), u.Name, "stream", "stderr");
        }
    }

    private IEnumerable<Measurement<double>> OutputIdle()
    {
        var now = _owner.Time.GetUtcNow();
        foreach (var u in _owner.Units)
            if (u.Log.Counters.LastOutputAt is { } at)
                yield return Measure(Math.Max(0, (now - at).TotalSeconds), u.Name);
    }

    private static Measurement<T> Measure<T>(T value, string unit) where T : struct => new(value, new KeyValuePair<string, object?>("unit", unit));

    private static Measurement<T> Measure<T>(T value, string unit, string key, string attribute) where T : struct =>
        new(value, new KeyValuePair<string, object?>("unit", unit), new KeyValuePair<string, object?>(key, attribute));

    /// <summary>Ends every instrument: listeners stop hearing from this supervisor.</summary>
    public void Dispose() => Meter.Dispose();

    /// <summary>Lower-case state names for the <c>state</c> attribute, made once.</summary>
    private static class States
    {
        private static readonly string[] Names = [.. Enum.GetValues<UnitState>().Select(s => s.ToString().ToLowerInvariant())];

        public static string Name(UnitState s) => (int)s >= 0 && (int)s < Names.Length ? Names[(int)s] : s.ToString().ToLowerInvariant();
    }
}
