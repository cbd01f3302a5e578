namespace Vigil.Telemetry.DogStatsD;

/// <summary>
/// Metrics, events and service checks for a DogStatsD agent: formats each with <see cref="DogStatsDFormat"/>, the
/// global tags first, and hands it to a sink. Never blocks or throws on a bad value or a failed send: a value that is
/// not finite (the agent cannot parse NaN) is skipped and counted in <see cref="Skipped"/>. Thread-safe.
/// </summary>
public sealed class DogStatsDWriter(IDogStatsDSink sink, IEnumerable<string>? globalTags = null, Func<double>? random = null)
{
    private readonly string[] _globalTags = globalTags?.ToArray() ?? [];
    private readonly Func<double> _random = random ?? Random.Shared.NextDouble;
    private long _skipped;

    /// <summary>A writer over UDP to the agent in <paramref name="options"/>, with its global tags.</summary>
    public DogStatsDWriter(DogStatsDOptions options) : this(new UdpDogStatsDSink(options), options.GlobalTags) { }

    /// <summary>The sink datagrams go to.</summary>
    public IDogStatsDSink Sink => sink;

    /// <summary>Metrics not sent because their value was NaN or infinite.</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    /// <summary>A count (<c>name:value|c</c>). With a sample rate below 1, sent only that fraction of the time, marked
    /// <c>|@rate</c> so the agent scales it back up.</summary>
    public void Count(string name, double value = 1, double sampleRate = 1, params IEnumerable<string> tags) =>
        Metric(name, value, MetricKind.Count, sampleRate, tags);

    /// <summary>A gauge (<c>name:value|g</c>): the latest value wins.</summary>
    public void Gauge(string name, double value, params IEnumerable<string> tags) =>
        Metric(name, value, MetricKind.Gauge, 1, tags);

    /// <summary>A histogram sample (<c>name:value|h</c>), optionally sampled like <see cref="Count"/>.</summary>
    public void Histogram(string name, double value, double sampleRate = 1, params IEnumerable<string> tags) =>
        Metric(name, value, MetricKind.Histogram, sampleRate, tags);

    /// <summary>An event (<c>_e{…}</c>).</summary>
    public void Event(DogStatsDEvent e) => sink.Send(DogStatsDFormat.Event(e, [.. _globalTags, .. e.Tags]));

    /// <summary>A service check (<c>_sc|…</c>).</summary>
    public void ServiceCheck(DogStatsDServiceCheck check) =>
        sink.Send(DogStatsDFormat.ServiceCheck(check, [.. _globalTags, .. check.Tags]));

    private void Metric(string name, double value, MetricKind kind, double sampleRate, IEnumerable<string> tags)
    {
        if (!double.IsFinite(value)) { Interlocked.Increment(ref _skipped); return; }
        if (sampleRate < 1 && _random() >= sampleRate) return;
        sink.Send(DogStatsDFormat.Metric(name, value, kind, sampleRate, [.. _globalTags, .. tags]));
    }
}
