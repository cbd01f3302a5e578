using System.Globalization;
using System.Net;
using Vigil.Config;
using Vigil.Specs;

namespace Vigil.Telemetry;

/// <summary>
/// The top-level <c>telemetry:</c> section: which exporters publish the engine's meter. Each is off unless its key is
/// given. <see cref="AddTelemetry"/> registers it on a program's <see cref="ConfigExtensions"/>; <see cref="TelemetryHost"/>
/// starts what it says.
/// </summary>
public static class TelemetryConfig
{
    /// <summary><c>otlp: { endpoint, protocol, interval }</c>.</summary>
    public static ConfigSection<OtlpSettings> Otlp { get; } = new("otlp", OtlpSettings.Default,
        ConfigKey.String<OtlpSettings>("endpoint", s => s.Endpoint, (s, v) => s with { Endpoint = v! }),
        ConfigKey.Choice<OtlpSettings, OtlpProtocol>("protocol", [("http/protobuf", OtlpProtocol.HttpProtobuf), ("grpc", OtlpProtocol.Grpc)],
            s => s.Protocol, (s, v) => s with { Protocol = v }),
        ConfigKey.Duration<OtlpSettings>("interval", s => s.Interval, (s, v) => s with { Interval = v }))
    {
        Validate = s => OtlpProblems(s),
    };

    /// <summary><c>dogstatsd: { host, port, prefix, tags, interval }</c>.</summary>
    public static ConfigSection<DogStatsDSettings> DogStatsD { get; } = new("dogstatsd", DogStatsDSettings.Default,
        ConfigKey.String<DogStatsDSettings>("host", s => s.Host, (s, v) => s with { Host = v }, nullable: true),
        ConfigKey.Port<DogStatsDSettings>("port", s => s.Port, (s, v) => s with { Port = v }),
        ConfigKey.String<DogStatsDSettings>("prefix", s => s.Prefix, (s, v) => s with { Prefix = v ?? "" }, allowEmpty: true),
        ConfigKey.Strings<DogStatsDSettings>("tags", s => s.Tags, (s, v) => s with { Tags = v }),
        ConfigKey.Duration<DogStatsDSettings>("interval", s => s.Interval, (s, v) => s with { Interval = v }))
    {
        Validate = s => IntervalProblems(s.Interval),
    };

    /// <summary>The top-level <c>telemetry:</c> section.</summary>
    public static ConfigSection<TelemetrySettings> Section { get; } = new("telemetry", TelemetrySettings.Default,
        ConfigKey.Parsed<TelemetrySettings, ListenAddress>("prometheus", ListenAddress.Parse, ListenAddress.Expected, a => a.ToString(),
            s => s.Prometheus, (s, v) => s with { Prometheus = v }),
        ConfigKey.Mapping<TelemetrySettings, OtlpSettings>(Otlp, s => s.Otlp, (s, v) => s with { Otlp = v with { Enabled = true } }),
        ConfigKey.Mapping<TelemetrySettings, DogStatsDSettings>(DogStatsD, s => s.DogStatsD, (s, v) => s with { DogStatsD = v with { Enabled = true } }));

    /// <summary>Registers the <c>telemetry:</c> section; returns <paramref name="extensions"/>.</summary>
    public static ConfigExtensions AddTelemetry(this ConfigExtensions extensions)
    {
        ArgumentNullException.ThrowIfNull(extensions);
        return extensions.Add(Section);
    }

    private static IEnumerable<(string Key, string Message)> OtlpProblems(OtlpSettings s)
    {
        if (!Uri.TryCreate(s.Endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
            yield return ("endpoint", $"expected an http:// or https:// URL such as http://127.0.0.1:4318, got '{s.Endpoint}'");
        foreach (var p in IntervalProblems(s.Interval)) yield return p;
    }

    private static IEnumerable<(string Key, string Message)> IntervalProblems(TimeSpan interval)
    {
        if (interval < TimeSpan.FromMilliseconds(100)) yield return ("interval", "must be at least 100ms");
        else if (Limits.TimerWait(interval, "interval") is { } tooLong) yield return (tooLong.KeyPath, tooLong.Message);
    }
}

/// <summary>What the <c>telemetry:</c> section says; every exporter is off by default.</summary>
public sealed record TelemetrySettings
{
    public static TelemetrySettings Default { get; } = new();
    /// <summary><c>prometheus</c>: where <c>/metrics</c> is served; <see cref="ListenAddress.IsSet"/> false = off.</summary>
    public ListenAddress Prometheus { get; init; }
    /// <summary><c>otlp</c>: pushed to a collector; off unless the key is given.</summary>
    public OtlpSettings Otlp { get; init; } = OtlpSettings.Default;
    /// <summary><c>dogstatsd</c>: sent to a Datadog agent; off unless the key is given.</summary>
    public DogStatsDSettings DogStatsD { get; init; } = DogStatsDSettings.Default;

    /// <summary>Whether any exporter is on.</summary>
    public bool Any => Prometheus.IsSet || Otlp.Enabled || DogStatsD.Enabled;

    /// <summary>Whether <paramref name="other"/> says the same (tags compared item by item): a reload that changes
    /// the section needs a restart of Vigil, and says so.</summary>
    public bool SameAs(TelemetrySettings other) =>
        Prometheus == other.Prometheus && Otlp == other.Otlp && DogStatsD.Tags.SequenceEqual(other.DogStatsD.Tags)
        && DogStatsD == other.DogStatsD with { Tags = DogStatsD.Tags };
}

/// <summary>An address and port to listen on. <c>9464</c> alone means 127.0.0.1:9464: a metrics endpoint is reachable
/// from elsewhere only when the address is written out (<c>0.0.0.0:9464</c>).</summary>
public readonly record struct ListenAddress(string Host, int Port)
{
    internal const string Expected = "a port (9464, on 127.0.0.1) or an IP address and port (127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464)";

    /// <summary>False for the default (off).</summary>
    public bool IsSet => Port != 0;

    /// <summary>The address to bind (<c>localhost</c> is 127.0.0.1).</summary>
    public IPAddress Address => Host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(Host);

    /// <summary><c>PORT</c>, <c>IPV4:PORT</c>, <c>[IPV6]:PORT</c> or <c>localhost:PORT</c>; null for anything else (a host
    /// name alone, a port out of range).</summary>
    public static ListenAddress? Parse(string text)
    {
        text = text.Trim();
        if (ParsePort(text) is { } alone) return new ListenAddress("127.0.0.1", alone);
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || ParsePort(text[(colon + 1)..]) is not { } port) return null;
        var host = text[..colon];
        if (host == "localhost") return new ListenAddress(host, port);
        bool bracketed = host.StartsWith('[') && host.EndsWith(']');
        if (bracketed) host = host[1..^1];
        if (!IPAddress.TryParse(host, out var ip)) return null;
        // An IPv6 address must be bracketed (::1:9464 would be ambiguous); an IPv4 one must not be.
        if (bracketed != (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)) return null;
        return new ListenAddress(ip.ToString(), port);
    }

    private static int? ParsePort(string s) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int p) && p is >= 1 and <= 65535 ? p : null;

    /// <summary><c>127.0.0.1:9464</c>, <c>[::1]:9464</c>: how the config writes it back.</summary>
    public override string ToString() => IsSet ? (Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}") : "";
}

/// <summary>The OTLP transport.</summary>
public enum OtlpProtocol { HttpProtobuf, Grpc }

/// <summary><c>otlp:</c> — metrics pushed to an OpenTelemetry collector every <see cref="Interval"/>.</summary>
public sealed record OtlpSettings
{
    public static OtlpSettings Default { get; } = new();
    /// <summary>The key was given.</summary>
    public bool Enabled { get; init; }
    /// <summary>The collector's base URL (http/protobuf: <c>/v1/metrics</c> is added when the URL has no path).</summary>
    public string Endpoint { get; init; } = "http://127.0.0.1:4318";
    public OtlpProtocol Protocol { get; init; } = OtlpProtocol.HttpProtobuf;
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary><c>dogstatsd:</c> — metrics sent to a Datadog agent over UDP every <see cref="Interval"/> (counts as they
/// grow, gauges at each interval), with the Tether pinger's names where they overlap.</summary>
public sealed record DogStatsDSettings
{
    public static DogStatsDSettings Default { get; } = new();
    /// <summary>The key was given.</summary>
    public bool Enabled { get; init; }
    /// <summary>The agent's host; null: <c>DD_AGENT_HOST</c>, else localhost.</summary>
    public string? Host { get; init; }
    /// <summary>The agent's UDP port; 0: <c>DD_DOGSTATSD_PORT</c>, else 8125.</summary>
    public int Port { get; init; }
    /// <summary>Put before every metric name (none by default, so <c>ping</c> and <c>heartbeat</c> are the pinger's names).</summary>
    public string Prefix { get; init; } = "";
    /// <summary>Tags on every metric (<c>site:lab</c>).</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);
}
