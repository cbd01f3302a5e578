using Vigil.Config;
using Vigil.Specs;

namespace Vigil.Tether.Cops;

/// <summary>
/// COPS's part of a Vigil config: the <c>kind: cops</c> probe (HybridOS COPS's counter-echo heartbeat, seed 002), with
/// COPS's own words for the common keys (<c>heartbeatFreq</c>, <c>replyToGetDeadline</c>, <c>heartbeatErrorAllowance</c>).
/// It lives beside Tether because its MQTT transport is the <c>tether:</c> broker connection and client; the messages
/// are in docs/cops.md.
/// </summary>
public static class CopsConfig
{
    /// <summary><c>kind: cops</c>: <c>mqtt: /site</c> or <c>http: http://127.0.0.1:8080/site</c>, <c>ourUri</c> (the
    /// reply topic's root) and <c>replyName</c> (its last level; default the unit's name).</summary>
    public static ProbeKind<CopsCheck> Probe { get; } = new(new CopsCheck(),
        ConfigKey.String<CopsCheck>("mqtt", c => c.MqttUri, (c, v) => c with { MqttUri = v }),
        ConfigKey.String<CopsCheck>("http", c => c.HttpUrl, (c, v) => c with { HttpUrl = v }),
        ConfigKey.String<CopsCheck>("ourUri", c => c.OurUri, (c, v) => c with { OurUri = v! }),
        ConfigKey.String<CopsCheck>("replyName", c => c.ReplyName, (c, v) => c with { ReplyName = v }))
    {
        Aliases = new Dictionary<string, string>
        {
            ["heartbeatFreq"] = "period", ["replyToGetDeadline"] = "timeout", ["heartbeatErrorAllowance"] = "failureThreshold",
        },
    };

    /// <summary>Registers <c>kind: cops</c>; returns <paramref name="extensions"/>.</summary>
    public static ConfigExtensions AddCops(this ConfigExtensions extensions)
    {
        ArgumentNullException.ThrowIfNull(extensions);
        return extensions.Add(Probe);
    }
}

/// <summary><c>cops</c>: every period SET the process's heartbeat to a new counter value and GET it back; a reply with
/// the counter within the timeout passes (docs/cops.md). Exactly one transport: <see cref="MqttUri"/> or <see cref="HttpUrl"/>.</summary>
public sealed record CopsCheck : ProbeCheck
{
    public override string Kind => "cops";
    public override TimeSpan DefaultPeriod => TimeSpan.FromSeconds(1);
    public override TimeSpan DefaultTimeout => TimeSpan.FromMilliseconds(900);
    public override int DefaultFailureThreshold => 5;

    /// <summary>The process's COPS URI, over MQTT (the <c>tether:</c> broker): <c>/site</c>.</summary>
    public string? MqttUri { get; init; }
    /// <summary>The process's COPS URI over HTTP, with its host and port: <c>http://127.0.0.1:8080/site</c>.</summary>
    public string? HttpUrl { get; init; }
    /// <summary>COPS's own URI: MQTT replies go to <c>&lt;ourUri without /&gt;/heartbeat/&lt;name&gt;</c>.</summary>
    public string OurUri { get; init; } = "/cops";
    /// <summary>The reply topic's last level; null = the unit's name.</summary>
    public string? ReplyName { get; init; }

    /// <summary>The MQTT topic of a URI: without its leading slash (and any trailing one).</summary>
    public static string Topic(string uri) => uri.Trim('/');

    public override IEnumerable<SpecError> Validate()
    {
        if ((MqttUri is null) == (HttpUrl is null)) yield return new("mqtt/http", "give one transport: mqtt: /site or http: http://127.0.0.1:8080/site");
        if (MqttUri is { } m && (!m.StartsWith('/') || Topic(m).Length == 0 || m.AsSpan().IndexOfAny("+#\0") >= 0))
            yield return new("mqtt", $"expected a COPS URI like /site (a leading slash, no + or #), got '{m.Replace("\0", "\\0")}'");
        if (HttpUrl is { } h && (!Uri.TryCreate(h, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https") || h.Contains('\0')))
            yield return new("http", $"expected an http:// URL with the process's URI, like http://127.0.0.1:8080/site, got '{h.Replace("\0", "\\0")}'");
        if (!OurUri.StartsWith('/') || Topic(OurUri).Length == 0 || OurUri.AsSpan().IndexOfAny("+#\0") >= 0)
            yield return new("ourUri", $"expected a URI like /cops, got '{OurUri.Replace("\0", "\\0")}'");
        if (ReplyName is { } r && (r.Length == 0 || r.AsSpan().IndexOfAny("/+#\0") >= 0)) yield return new("replyName", "must be one topic level (no /, + or #)");
    }
}
