using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Vigil.Supervision;
using Vigil.Telemetry.DogStatsD;

namespace Vigil.Telemetry;

/// <summary>An exporter could not start (its port is taken): <see cref="Key"/> names the config key.</summary>
public sealed class TelemetryException(string key, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The key under <c>telemetry.</c> at fault: <c>telemetry.prometheus</c>.</summary>
    public string Key { get; } = key;
}

/// <summary>
/// The exporters a <c>telemetry:</c> section asks for, over one supervisor's meter: Prometheus (<c>/metrics</c>) and
/// OTLP through the OpenTelemetry SDK (one meter provider, one reader each), DogStatsD through a listener of its own
/// (<see cref="DogStatsDExporter"/>). <see cref="Start"/> starts all or none; disposing stops them.
/// </summary>
public sealed class TelemetryHost : IAsyncDisposable
{
    private readonly MeterProvider? _provider;
    private readonly DogStatsDExporter? _dogstatsd;

    private TelemetryHost(MeterProvider? provider, DogStatsDExporter? dogstatsd) => (_provider, _dogstatsd) = (provider, dogstatsd);

    /// <summary>Nothing on (an empty section).</summary>
    public bool IsEmpty => _provider is null && _dogstatsd is null;

    /// <summary>Starts every exporter <paramref name="settings"/> turns on, for <paramref name="supervisor"/>'s meter.</summary>
    /// <exception cref="TelemetryException">One could not start (nothing is left running).</exception>
    public static TelemetryHost Start(TelemetrySettings settings, Supervisor supervisor, string instance = "default")
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(supervisor);
        MeterProvider? provider = null;
        if (settings.Prometheus.IsSet || settings.Otlp.Enabled)
        {
            var builder = Sdk.CreateMeterProviderBuilder()
                .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("vigil", serviceInstanceId: instance))
                .AddMeter(EngineMetrics.MeterName);
            if (settings.Prometheus is { IsSet: true } p)
                builder.AddPrometheusHttpListener(o =>
                {
                    // HttpListener matches a request's Host against the prefix: an any-address is its wildcard.
                    o.Host = p.Address.Equals(System.Net.IPAddress.Any) || p.Address.Equals(System.Net.IPAddress.IPv6Any) ? "*"
                        : p.Host.Contains(':') ? $"[{p.Host}]" : p.Host;
                    o.Port = p.Port;
                    o.ScrapeEndpointPath = "/metrics";
                    o.TargetInfoEnabled = false; // the service is Vigil; a target_info series per scrape adds nothing
                });
            if (settings.Otlp is { Enabled: true } otlp)
                builder.AddOtlpExporter((e, r) =>
                {
                    e.Protocol = otlp.Protocol == OtlpProtocol.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                    e.Endpoint = OtlpEndpoint(otlp);
                    r.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)Math.Min(int.MaxValue, otlp.Interval.TotalMilliseconds);
                });
            try { provider = builder.Build(); }
            catch (Exception e) when (settings.Prometheus.IsSet && e is InvalidOperationException or System.Net.HttpListenerException)
            {
                var why = (e.InnerException ?? e).Message;
                throw new TelemetryException("telemetry.prometheus", $"telemetry.prometheus: cannot serve /metrics on {settings.Prometheus}: {why}", e);
            }
        }
        DogStatsDExporter? dogstatsd = null;
        if (settings.DogStatsD.Enabled)
        {
            try { dogstatsd = new DogStatsDExporter(supervisor.Metrics.Meter, settings.DogStatsD, supervisor.Time); }
            catch
            {
                provider?.Dispose();
                throw;
            }
        }
        return new TelemetryHost(provider, dogstatsd);
    }

    /// <summary>The URL the OTLP exporter posts to: http/protobuf needs the signal's path, which the SDK adds only to a
    /// URL from the environment, so a base URL (<c>http://127.0.0.1:4318</c>) gets <c>/v1/metrics</c> here.</summary>
    internal static Uri OtlpEndpoint(OtlpSettings otlp)
    {
        var uri = new Uri(otlp.Endpoint);
        if (otlp.Protocol == OtlpProtocol.HttpProtobuf && uri.AbsolutePath is "" or "/") uri = new Uri(uri, "/v1/metrics");
        return uri;
    }

    /// <summary>Stops every exporter (OTLP and DogStatsD send what they have first).</summary>
    public ValueTask DisposeAsync()
    {
        _dogstatsd?.Dispose();
        _provider?.Dispose();
        return ValueTask.CompletedTask;
    }
}
