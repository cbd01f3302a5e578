using System.Collections.Immutable;

namespace Vigil.Specs;

/// <summary>
/// The <c>hooks:</c> of a config (top level) or of one process: which hooks run on which event kinds, and how often at
/// most. Plain data; the runner is <c>Vigil.Hooks.HookRunner</c>.
/// </summary>
public sealed record HookSet
{
    /// <summary>No hooks, and the default interval.</summary>
    public static readonly HookSet Empty = new();

    /// <summary>The rate limit when neither the top level nor the unit sets one: at most one run per event kind per
    /// unit per minute.</summary>
    public static readonly TimeSpan DefaultMinInterval = TimeSpan.FromMinutes(1);

    /// <summary>One entry per event kind, in the order written (<c>any</c> stands for every kind).</summary>
    public ImmutableArray<HookBinding> Bindings { get; init; } = [];

    /// <summary><c>minInterval</c>: at most one run per event kind per unit within it; null = the top level's (or the
    /// default). Zero: no limit.</summary>
    public TimeSpan? MinInterval { get; init; }

    /// <summary>True when no event runs a hook.</summary>
    public bool IsEmpty => Bindings.IsDefaultOrEmpty;

    /// <summary>The hooks an event of <paramref name="kind"/> runs: those of its own key, then those of <c>any</c>.</summary>
    public IEnumerable<HookAction> For(string kind)
    {
        if (Bindings.IsDefaultOrEmpty || HookEvents.NeverHooked(kind)) yield break;
        foreach (var b in Bindings)
            if (b.Event == kind)
                foreach (var a in b.Actions) yield return a;
        foreach (var b in Bindings)
            if (b.Event == HookEvents.Any)
                foreach (var a in b.Actions) yield return a;
    }

    /// <summary>Problems, each under its event key (<c>gave-up[1].timeout</c>); empty when valid.</summary>
    public IEnumerable<SpecError> Validate()
    {
        if (MinInterval is { } m)
        {
            if (m < TimeSpan.Zero) yield return new("minInterval", "must not be negative");
            else if (Limits.TimerWait(m, "minInterval") is { } tooLong) yield return tooLong;
        }
        if (Bindings.IsDefaultOrEmpty) yield break;
        foreach (var b in Bindings)
        {
            if (!HookEvents.IsKnown(b.Event)) yield return new(b.Event, HookEvents.UnknownMessage(b.Event));
            for (int i = 0; i < b.Actions.Length; i++)
            {
                var prefix = b.Actions.Length == 1 ? b.Event : $"{b.Event}[{i}]";
                foreach (var e in b.Actions[i].Validate()) yield return e.Under(prefix);
            }
        }
    }
}

/// <summary>The hooks of one event kind (or of <c>any</c>).</summary>
public sealed record HookBinding(string Event, ImmutableArray<HookAction> Actions);

/// <summary>What a hook does with an event: run a command (<see cref="ExecHook"/>), POST it (<see cref="WebhookHook"/>)
/// or publish it on MQTT (<see cref="MqttHook"/>).</summary>
public abstract record HookAction
{
    /// <summary>How long one run may take before it is killed (its process tree) or abandoned (a request).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>Names the hook in a hook-failed event: <c>exec notify-send</c>, <c>webhook http://…/alert</c>.</summary>
    public abstract string Describe();

    public virtual IEnumerable<SpecError> Validate()
    {
        if (Timeout <= TimeSpan.Zero) yield return new("timeout", "must be a positive duration");
        else if (Limits.TimerWait(Timeout, "timeout") is { } tooLong) yield return tooLong;
    }
}

/// <summary><c>exec: [cmd, args…]</c> (no shell) or <c>shell: "…"</c> (<c>sh -c</c>): the event is in VIGIL_EVENT,
/// VIGIL_UNIT, VIGIL_PID, VIGIL_REASON, VIGIL_TIME, VIGIL_SUPPRESSED and, as one JSON object, on stdin.</summary>
/// <param name="Command">The argv (for <c>shell:</c>, <c>sh -c LINE</c>).</param>
public sealed record ExecHook(ImmutableArray<string> Command) : HookAction
{
    /// <summary>The line of <c>shell:</c> (then <see cref="Command"/> is <c>sh -c</c> it); null for <c>exec:</c>.</summary>
    public string? Shell { get; init; }

    /// <summary>Working folder; null = the unit's (for a top-level hook, Vigil's current folder).</summary>
    public string? Cwd { get; init; }

    /// <summary>Variables on top of Vigil's environment and the VIGIL_* ones; a null value removes one.</summary>
    public ImmutableDictionary<string, string?> Env { get; init; } = ImmutableDictionary<string, string?>.Empty;

    /// <summary>A hook running <c>sh -c LINE</c>.</summary>
    public static ExecHook ShellLine(string line) => new(["sh", "-c", line]) { Shell = line };

    public override string Describe() => Shell is { } s ? $"shell '{Short(s)}'" : $"exec {(Command.IsDefaultOrEmpty ? "?" : Command[0])}";

    private static string Short(string s) => s.Length <= 40 ? s : s[..40] + "…";

    public override IEnumerable<SpecError> Validate()
    {
        foreach (var e in base.Validate()) yield return e;
        string key = Shell is null ? "exec" : "shell";
        if (Command.IsDefaultOrEmpty || string.IsNullOrWhiteSpace(Command[0])) yield return new(key, "must not be empty (give the program and its arguments)");
        else foreach (var e in Limits.NulIn(Command, key)) yield return e;
        if (Limits.HasNul(Cwd)) yield return new("cwd", Limits.NulMessage);
        foreach (var (k, v) in Env)
        {
            if (k.Length == 0 || k.Contains('=') || k.Contains('\0')) yield return new("env", $"'{k.Replace("\0", "\\0")}' is not a valid variable name");
            else if (Limits.HasNul(v)) yield return new($"env.{k}", Limits.NulMessage);
        }
    }
}

/// <summary>How a webhook's body looks.</summary>
public enum WebhookFormat
{
    /// <summary>The event as a JSON object (the same one exec hooks get on stdin).</summary>
    Json,
    /// <summary><c>{"text": "…"}</c>: a Slack (or Mattermost, Discord <c>/slack</c>) incoming webhook.</summary>
    Slack,
}

/// <summary><c>webhook: URL</c> or <c>webhook: { url, method, headers, slack, timeout }</c>: the event is sent as JSON;
/// a status outside 2xx, a refused connection or the timeout is a failure.</summary>
public sealed record WebhookHook(Uri Url) : HookAction
{
    public string Method { get; init; } = "POST";
    public ImmutableDictionary<string, string> Headers { get; init; } = ImmutableDictionary<string, string>.Empty;
    public WebhookFormat Format { get; init; } = WebhookFormat.Json;

    public override string Describe() => $"webhook {Shown}";

    /// <summary>The URL as events and messages show it: scheme, host, port and the first path segment. A chat webhook's
    /// secret is the rest of its path (<c>https://hooks.slack.com/services/T…/B…/XXXX</c>), a password can be in the
    /// user part and a token in the query; none of them belongs in a log.</summary>
    public string Shown
    {
        get
        {
            if (!Url.IsAbsoluteUri) return Url.OriginalString;
            var segments = Url.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
            var path = segments.Length switch { 0 => "/", 1 => "/" + segments[0], _ => "/" + segments[0] + "/…" };
            return $"{Url.Scheme}://{Url.Host}{(Url.IsDefaultPort ? "" : ":" + Url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture))}{path}";
        }
    }

    public override IEnumerable<SpecError> Validate()
    {
        foreach (var e in base.Validate()) yield return e;
        if (!Url.IsAbsoluteUri || Url.Scheme is not ("http" or "https")) yield return new("webhook", $"expected an http:// or https:// URL, got '{Url.OriginalString}'");
        if (Method.Length == 0 || !Method.All(c => char.IsAsciiLetterUpper(c) || c == '-'))
            yield return new("webhook.method", $"expected an HTTP method in capitals (POST, PUT), got '{Method}'");
        foreach (var (k, v) in Headers)
        {
            if (k.Length == 0 || k.Any(c => c <= ' ' || c >= 127 || c == ':')) yield return new("webhook.headers", $"'{k}' is not a valid header name");
            else if (v.Any(c => c is '\r' or '\n' or '\0')) yield return new($"webhook.headers.{k}", "must not hold a line break or NUL");
        }
    }
}

/// <summary><c>mqtt: { topic, qos }</c>: the event JSON is published on the topic through the connection of the
/// config's broker section (a program registers which, see <c>ConfigExtensions.Add(HookTransport)</c>).</summary>
public sealed record MqttHook(string Topic) : HookAction
{
    /// <summary>0 (at most once, dropped while offline) or 1 (at least once, the default).</summary>
    public int Qos { get; init; } = 1;
    public bool Retain { get; init; }

    public override string Describe() => $"mqtt {Topic}";

    public override IEnumerable<SpecError> Validate()
    {
        foreach (var e in base.Validate()) yield return e;
        // MQTT 3.1.1 §4.7: a topic name is non-empty, holds no wildcard and no U+0000.
        if (Topic.Length == 0) yield return new("mqtt.topic", "must not be empty");
        else if (Topic.AsSpan().IndexOfAny("+#\0") >= 0) yield return new("mqtt.topic", $"a topic to publish on cannot hold '+', '#' or NUL, got '{Topic.Replace("\0", "\\0")}'");
        if (Qos is not (0 or 1)) yield return new("mqtt.qos", $"expected 0 or 1, got {Qos}");
    }
}

/// <summary>The event kinds a hook can be bound to.</summary>
public static class HookEvents
{
    /// <summary>The key that binds hooks to every event kind (also written <c>*</c>).</summary>
    public const string Any = "any";

    /// <summary>A failed hook's own event: it never runs hooks (a failing alert would call itself forever).</summary>
    public const string HookFailed = "hook-failed";

    /// <summary>Hook runs dropped because the queue was full: no hooks either, for the same reason.</summary>
    public const string HooksDropped = "hooks-dropped";

    /// <summary>Every kind of event Vigil publishes that hooks may follow, in the order the README lists them.</summary>
    public static readonly ImmutableArray<string> Kinds =
    [
        "unhealthy", "healthy", "gave-up", "exited", "killed", "spawn-failed", "log-failed", "log-resumed", "log-reopened",
        "slow-retry", "backoff", "not-restarting", "spawned", "started", "ready", "not-ready", "stop-requested",
        "stop-escalated", "stopped", "status-changed", "leftovers", "previous-run-leftovers", "released", "probes-paused",
        "probes-resumed", "health-action", "internal-error", "removed", "reload-added", "reload-changed", "reload-removed", "reloaded",
        "reload-refused", "control-refused", "history-failed", "history-resumed", "waiting", "reattached", "probe-notice",
    ];

    /// <summary>True for a key <c>hooks:</c> accepts: a kind of <see cref="Kinds"/> or <see cref="Any"/>.</summary>
    public static bool IsKnown(string kind) => kind == Any || Kinds.Contains(kind);

    /// <summary>Events that never run hooks, whatever the config says.</summary>
    public static bool NeverHooked(string kind) => kind is HookFailed or HooksDropped;

    /// <summary>Why <paramref name="kind"/> cannot be a key of <c>hooks:</c>.</summary>
    public static string UnknownMessage(string kind) => NeverHooked(kind)
        ? $"{kind} events run no hooks (a failing hook would call itself)"
        : $"unknown event kind '{kind}'";
}
