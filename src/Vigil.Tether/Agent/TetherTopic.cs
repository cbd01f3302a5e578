namespace Vigil.Tether.Agent;

/// <summary>
/// The shape of a Tether topic, kept in this one type: Tether 3 (JS agent v3, Rust agent up to 0.14) uses
/// <c>role/id/plug</c>. Tether 4's <c>role/channel[/id]</c> belongs here too when it is added, so that plugs and
/// probes never build or split topics themselves.
/// </summary>
/// <param name="Role">What kind of agent (the JS agent's "agentType").</param>
/// <param name="Id">Which instance or group; <c>any</c> when an agent gives none.</param>
/// <param name="Plug">The plug name.</param>
public readonly record struct TetherTopic(string Role, string Id, string Plug)
{
    /// <summary>The single-level wildcard input plugs use for a part they leave open.</summary>
    public const string Any = "+";

    /// <summary>The id of an agent that was given none (JS: <c>id || "any"</c>).</summary>
    public const string DefaultId = "any";

    /// <summary><c>role/id/plug</c>.</summary>
    public override string ToString() => $"{Role}/{Id}/{Plug}";

    /// <summary>An output plug's topic: <c>role/id/plug</c>, id <c>any</c> when null or empty (as the JS agent).</summary>
    public static TetherTopic Output(string role, string? id, string plug) => new(role, OrElse(id, DefaultId), plug);

    /// <summary>An input plug's topic: <c>+/+/plug</c> by default, with the role and/or id filled in when given.</summary>
    public static TetherTopic Input(string plug, string? role = null, string? id = null) => new(OrElse(role, Any), OrElse(id, Any), plug);

    /// <summary>
    /// Splits a topic as the JS agent does (<c>split("/")</c> and parts 0, 1 and 2, so extra levels are ignored);
    /// null when it has fewer than three parts.
    /// </summary>
    public static TetherTopic? Parse(string topic)
    {
        var parts = topic.Split('/');
        return parts.Length < 3 ? null : new TetherTopic(parts[0], parts[1], parts[2]);
    }

    /// <summary>
    /// Whether a message on <paramref name="incomingTopic"/> belongs to the input plug whose topic is
    /// <paramref name="plugTopic"/>, exactly as the JS agent's <c>topicMatchesPlug</c> (tether-agent 3.2.1,
    /// src/Plug.ts): <c>#</c> matches everything; a plug topic without <c>+</c> matches only itself (even one with
    /// <c>#</c>); otherwise the plug names must be equal, plus the role and/or id wherever the plug topic has a part
    /// without <c>+</c>. Where the JS function throws (a topic with fewer than three parts, or an incoming plug name
    /// containing <c>+</c>), this returns false.
    /// </summary>
    public static bool PlugMatches(string plugTopic, string incomingTopic)
    {
        if (plugTopic == "#") return true;
        if (!plugTopic.Contains('+')) return plugTopic == incomingTopic;
        var plug = plugTopic.Split('/');
        var incoming = incomingTopic.Split('/');
        if (plug.Length < 3 || incoming.Length < 3 || incoming[2].Contains('+')) return false;
        bool PartMatches(int i) => plug[i].Contains('+') || plug[i] == incoming[i];
        return PartMatches(0) && PartMatches(1) && plug[2] == incoming[2];
    }

    static string OrElse(string? value, string fallback) => string.IsNullOrEmpty(value) ? fallback : value;
}
