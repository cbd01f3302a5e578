using System.Globalization;
using System.Text;

namespace Vigil.Telemetry.DogStatsD;

/// <summary>Kinds of metric DogStatsD takes: the type letter of a datagram.</summary>
public enum MetricKind { Count, Gauge, Histogram }

/// <summary>Priority of an event (<c>p:</c>).</summary>
public enum EventPriority { Normal, Low }

/// <summary>Alert type of an event (<c>t:</c>).</summary>
public enum EventAlertType { Info, Success, Warning, Error }

/// <summary>Status of a service check, by its wire number.</summary>
public enum ServiceCheckStatus { Ok = 0, Warning = 1, Critical = 2, Unknown = 3 }

/// <summary>An event (<c>_e{…}</c>); only the title and text are required.</summary>
public sealed record DogStatsDEvent(string Title, string Text)
{
    /// <summary><c>d:</c>, when it happened (Unix seconds); the agent's clock when null.</summary>
    public DateTimeOffset? Timestamp { get; init; }
    /// <summary><c>h:</c>, the host it concerns.</summary>
    public string? Hostname { get; init; }
    /// <summary><c>k:</c>, groups related events.</summary>
    public string? AggregationKey { get; init; }
    /// <summary><c>p:</c>.</summary>
    public EventPriority? Priority { get; init; }
    /// <summary><c>s:</c>, the source type name.</summary>
    public string? SourceType { get; init; }
    /// <summary><c>t:</c>.</summary>
    public EventAlertType? AlertType { get; init; }
    /// <summary>Tags of this event, after the writer's global tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];
}

/// <summary>A service check (<c>_sc</c>).</summary>
public sealed record DogStatsDServiceCheck(string Name, ServiceCheckStatus Status)
{
    /// <summary><c>d:</c>, when it was checked (Unix seconds).</summary>
    public DateTimeOffset? Timestamp { get; init; }
    /// <summary><c>h:</c>, the host it concerns.</summary>
    public string? Hostname { get; init; }
    /// <summary><c>m:</c>, always last in the datagram.</summary>
    public string? Message { get; init; }
    /// <summary>Tags of this check, after the writer's global tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];
}

/// <summary>
/// The DogStatsD datagram formats (docs.datadoghq.com/developers/dogstatsd/datagram_shell), as pure functions.
/// Characters that would end a field early are replaced by <c>_</c> (<c>|</c> anywhere; <c>:</c> and <c>@</c> in metric
/// names; <c>,</c> in tags; line breaks in all of these), so a stray character never corrupts a datagram. Event title
/// and text keep <c>|</c> (their byte lengths delimit them) and have newlines escaped as the two characters <c>\n</c>,
/// as do service check messages, where <c>m:</c> is also escaped as <c>m\:</c>, as the official clients do.
/// </summary>
public static class DogStatsDFormat
{
    /// <summary><c>name:value|type[|@rate][|#tags]</c>; the rate is written only when below 1.</summary>
    public static string Metric(string name, double value, MetricKind kind, double sampleRate, IEnumerable<string> tags)
    {
        var sb = new StringBuilder();
        sb.Append(Clean(name, "|:@")).Append(':').Append(Number(value)).Append('|').Append(kind switch
        {
            MetricKind.Count => "c",
            MetricKind.Gauge => "g",
            MetricKind.Histogram => "h",
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        });
        if (sampleRate < 1) sb.Append("|@").Append(Number(sampleRate));
        AppendTags(sb, tags);
        return sb.ToString();
    }

    /// <summary><c>_e{titleBytes,textBytes}:title|text[|d:…][|h:…][|k:…][|p:…][|s:…][|t:…][|#tags]</c>, lengths in UTF-8
    /// bytes of the escaped title and text.</summary>
    public static string Event(DogStatsDEvent e, IEnumerable<string> tags)
    {
        string title = EscapeNewlines(e.Title), text = EscapeNewlines(e.Text);
        var sb = new StringBuilder()
            .Append("_e{").Append(Encoding.UTF8.GetByteCount(title)).Append(',').Append(Encoding.UTF8.GetByteCount(text)).Append("}:")
            .Append(title).Append('|').Append(text);
        if (e.Timestamp is { } at) sb.Append("|d:").Append(at.ToUnixTimeSeconds());
        if (e.Hostname is { } host) sb.Append("|h:").Append(Clean(host, "|"));
        if (e.AggregationKey is { } key) sb.Append("|k:").Append(Clean(key, "|"));
        if (e.Priority is { } priority) sb.Append("|p:").Append(priority == EventPriority.Low ? "low" : "normal");
        if (e.SourceType is { } source) sb.Append("|s:").Append(Clean(source, "|"));
        if (e.AlertType is { } alert) sb.Append("|t:").Append(alert.ToString().ToLowerInvariant());
        AppendTags(sb, tags);
        return sb.ToString();
    }

    /// <summary><c>_sc|name|status[|d:…][|h:…][|#tags][|m:message]</c>.</summary>
    public static string ServiceCheck(DogStatsDServiceCheck check, IEnumerable<string> tags)
    {
        var sb = new StringBuilder("_sc|").Append(Clean(check.Name, "|")).Append('|').Append((int)check.Status);
        if (check.Timestamp is { } at) sb.Append("|d:").Append(at.ToUnixTimeSeconds());
        if (check.Hostname is { } host) sb.Append("|h:").Append(Clean(host, "|"));
        AppendTags(sb, tags);
        if (check.Message is { } message) sb.Append("|m:").Append(EscapeNewlines(message).Replace("m:", "m\\:", StringComparison.Ordinal));
        return sb.ToString();
    }

    private static void AppendTags(StringBuilder sb, IEnumerable<string> tags)
    {
        bool first = true;
        foreach (var tag in tags)
        {
            sb.Append(first ? "|#" : ",").Append(Clean(tag, "|,"));
            first = false;
        }
    }

    /// <summary>Shortest text that parses back to the same double, invariant culture (<c>1</c>, <c>0.5</c>, <c>1E+21</c>).</summary>
    private static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);

    private static string EscapeNewlines(string s) => s.Replace("\r\n", "\\n", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string Clean(string s, string forbidden)
    {
        if (s.AsSpan().IndexOfAny(forbidden) < 0 && s.AsSpan().IndexOfAny('\n', '\r') < 0) return s;
        var chars = s.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
            if (forbidden.Contains(chars[i]) || chars[i] is '\n' or '\r') chars[i] = '_';
        return new string(chars);
    }
}
