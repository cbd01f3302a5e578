using System.Diagnostics.Metrics;
using System.Text;
using Vigil.Telemetry.DogStatsD;

namespace Vigil.Telemetry;

/// <summary>
/// The engine's meter sent to a DogStatsD agent: what happens at a moment as it happens (a probe check: a count; a
/// recovery or a check's duration: a histogram sample, so the agent computes exact percentiles), and every
/// <see cref="DogStatsDSettings.Interval"/> the observable instruments: gauges as they are, cumulative counters as the
/// count they grew by. The unit is the tag <c>targetApp:NAME</c> and every other attribute a <c>key:value</c> tag.
/// Where the Tether pinger has a name for the same thing, that name is sent too, with the pinger's meaning:
/// <c>heartbeat</c> (a count per passed tether check), <c>ping</c> (the round trip in ms, a gauge), a gauge per numeric
/// pong field by its own name, and <c>restartProcess</c> (a count per restart).
/// </summary>
internal sealed class DogStatsDExporter : IDisposable
{
    private readonly Meter _meter;
    private readonly string _prefix;
    private readonly MeterListener _listener = new();
    private readonly DogStatsDWriter _writer;
    private readonly UdpDogStatsDSink _sink;
    private readonly ITimer _timer;
    private readonly object _flushGate = new();
    private readonly Dictionary<string, double> _last = new(StringComparer.Ordinal); // cumulative value per series
    private int _disposed;

    public DogStatsDExporter(Meter meter, DogStatsDSettings settings, TimeProvider time, Func<string, string?>? environment = null)
    {
        _meter = meter;
        _prefix = settings.Prefix;
        var fromEnv = DogStatsDOptions.FromEnvironment(environment);
        _sink = new UdpDogStatsDSink(settings.Host ?? fromEnv.Host, settings.Port != 0 ? settings.Port : fromEnv.Port);
        _writer = new DogStatsDWriter(_sink, settings.Tags);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, _meter)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => OnMeasurement(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => OnMeasurement(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => OnMeasurement(i, v, tags));
        _listener.Start();
        _timer = time.CreateTimer(static s => ((DogStatsDExporter)s!).Flush(), this, settings.Interval, settings.Interval);
    }

    /// <summary>The UDP sink (sent and failed datagrams).</summary>
    public UdpDogStatsDSink Sink => _sink;

    /// <summary>Reads every observable instrument now (the timer does this every interval).</summary>
    public void Flush()
    {
        lock (_flushGate)
        {
            if (Volatile.Read(ref _disposed) != 0) return;
            _listener.RecordObservableInstruments();
        }
    }

    private void OnMeasurement(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> attributes)
    {
        var tags = Tags(attributes, out string? unit, out string? name, out bool tetherOk);
        switch (instrument)
        {
            case Counter<long>:
                _writer.Count(_prefix + instrument.Name, value, 1, tags);
                if (instrument.Name == "vigil.probe.checks" && tetherOk) _writer.Count(_prefix + "heartbeat", value, 1, Target(unit));
                break;
            case Histogram<double>:
                _writer.Histogram(_prefix + instrument.Name, value, 1, tags);
                break;
            case ObservableCounter<long> or ObservableCounter<double>:
                // Called from Flush, under its lock: the count is what the series grew by since the last interval.
                var key = instrument.Name + "|" + string.Join(',', tags);
                double grown = value - _last.GetValueOrDefault(key);
                _last[key] = value;
                if (grown <= 0) break;
                _writer.Count(_prefix + instrument.Name, grown, 1, tags);
                if (instrument.Name == "vigil.unit.restarts") _writer.Count(_prefix + "restartProcess", grown, 1, Target(unit));
                break;
            default:
                _writer.Gauge(_prefix + instrument.Name, value, tags);
                if (instrument.Name == "vigil.probe.value" && name is not null)
                    _writer.Gauge(_prefix + (name == "ping_ms" ? "ping" : name), value, Target(unit));
                break;
        }
    }

    private static string[] Target(string? unit) => unit is null ? [] : ["targetApp:" + unit];

    /// <summary>Attributes as DogStatsD tags: the unit as <c>targetApp:</c>, the rest as <c>key:value</c>.</summary>
    private static List<string> Tags(ReadOnlySpan<KeyValuePair<string, object?>> attributes, out string? unit, out string? name, out bool tetherOk)
    {
        unit = name = null;
        bool tether = false, ok = false;
        var tags = new List<string>(attributes.Length);
        foreach (var (key, v) in attributes)
        {
            var text = v?.ToString() ?? "";
            switch (key)
            {
                case "unit": unit = text; tags.Add("targetApp:" + text); continue;
                case "name": name = text; break;
                case "kind": tether = text == "tether"; break;
                case "result": ok = text == "ok"; break;
            }
            tags.Add(new StringBuilder(key.Length + 1 + text.Length).Append(key).Append(':').Append(text).ToString());
        }
        tetherOk = tether && ok;
        return tags;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _timer.Dispose();
        lock (_flushGate) _listener.Dispose();
        _sink.Dispose();
    }
}
