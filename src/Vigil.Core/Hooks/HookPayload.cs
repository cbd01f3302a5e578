using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Vigil.Supervision;

namespace Vigil.Hooks;

/// <summary>
/// An event as hooks see it: one JSON object (an exec hook's stdin, a webhook's body, an MQTT message), the same
/// fields in VIGIL_* variables, and a one-line text for chat webhooks.
/// </summary>
public sealed record HookPayload
{
    /// <summary>The event kind: exited, gave-up, unhealthy, …</summary>
    public required string Event { get; init; }
    /// <summary>The unit's name (<c>vigil</c> for Vigil's own events).</summary>
    public required string Unit { get; init; }
    /// <summary>The unit's id for this Vigil's life (names may repeat).</summary>
    public int UnitId { get; init; }
    /// <summary>The process the event is about, when there is one.</summary>
    public int? Pid { get; init; }
    /// <summary>The sentence <c>vigil run</c> prints for the event.</summary>
    public required string Reason { get; init; }
    /// <summary>The unit's state after the event: running, backoff, failed, …</summary>
    public required string State { get; init; }
    /// <summary>When the event happened, ISO 8601 UTC with milliseconds.</summary>
    public required string Time { get; init; }
    /// <summary>Events of this kind of this unit not run for because of the rate limit since the last run.</summary>
    public int Suppressed { get; init; }
    /// <summary>The machine's name, for alerts from several hosts in one channel.</summary>
    public required string Host { get; init; }

    /// <summary>The payload of <paramref name="ev"/>, with the count of suppressed runs before it.</summary>
    public static HookPayload From(UnitEvent ev, int suppressed, string host) => new()
    {
        Event = ev.Kind,
        Unit = ev.Name,
        UnitId = ev.UnitId,
        Pid = ev.Pid,
        Reason = ev.Reason,
        State = ev.State.Name(),
        Time = ev.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        Suppressed = suppressed,
        Host = host,
    };

    /// <summary>The JSON object, UTF-8.</summary>
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, HookJson.Default.HookPayload);

    /// <summary>One line for a chat: <c>web1: worker#4121 exited: exited with code 3 after 2s (4 more since the last alert)</c>.</summary>
    public string Text()
    {
        var who = Pid is { } p ? $"{Unit}#{p.ToString(CultureInfo.InvariantCulture)}" : Unit;
        var more = Suppressed > 0 ? $" ({Suppressed.ToString(CultureInfo.InvariantCulture)} more since the last alert)" : "";
        return $"{Host}: {who} {Event}: {Reason}{more}";
    }

    /// <summary><c>{"text": "…"}</c>, the body of a Slack incoming webhook, with Slack's three escapes (&amp;, &lt;, &gt;).</summary>
    public byte[] ToSlackJson()
    {
        var text = Text().Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
        return JsonSerializer.SerializeToUtf8Bytes(new SlackMessage(text), HookJson.Default.SlackMessage);
    }

    /// <summary>The VIGIL_* variables of an exec hook (VIGIL_PID empty when no process is involved).</summary>
    public Dictionary<string, string?> Environment() => new(StringComparer.Ordinal)
    {
        ["VIGIL_EVENT"] = Event,
        ["VIGIL_UNIT"] = Unit,
        ["VIGIL_PID"] = Pid?.ToString(CultureInfo.InvariantCulture) ?? "",
        ["VIGIL_REASON"] = Reason,
        ["VIGIL_STATE"] = State,
        ["VIGIL_TIME"] = Time,
        ["VIGIL_SUPPRESSED"] = Suppressed.ToString(CultureInfo.InvariantCulture),
        ["VIGIL_HOST"] = Host,
    };
}

/// <summary>A Slack incoming webhook's body.</summary>
public sealed record SlackMessage(string Text);

/// <summary>Source-generated (Native AOT): the payload's fields in camelCase, null pid written as null.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(HookPayload))]
[JsonSerializable(typeof(SlackMessage))]
internal sealed partial class HookJson : JsonSerializerContext;
