using Vigil.Config;
using Vigil.Specs;

namespace Vigil.Tether;

/// <summary>
/// Tether's part of a Vigil config: the top-level <c>tether:</c> section (the broker) and the <c>kind: tether</c>
/// probe. <see cref="AddTether"/> registers both on a program's <see cref="ConfigExtensions"/>; the probes themselves
/// come from a <see cref="Pinger.TetherProbes"/> made from the loaded section. A key is added to the section or the
/// probe by adding its property to the record and one line to <see cref="Section"/> or <see cref="Probe"/>.
/// </summary>
public static class TetherConfig
{
    /// <summary>The top-level <c>tether:</c> section.</summary>
    public static ConfigSection<TetherSettings> Section { get; } = new("tether", TetherSettings.Default,
        ConfigKey.String<TetherSettings>("host", s => s.Host, (s, v) => s with { Host = v! }),
        ConfigKey.Port<TetherSettings>("port", s => s.Port, (s, v) => s with { Port = v }),
        ConfigKey.String<TetherSettings>("username", s => s.Username, (s, v) => s with { Username = v }, nullable: true, allowEmpty: true),
        ConfigKey.String<TetherSettings>("password", s => s.Password, (s, v) => s with { Password = v }, nullable: true, allowEmpty: true));

    /// <summary><c>kind: tether</c>, with the Tether pinger's words for the period (<c>interval</c>) and the failure
    /// threshold (<c>allowance</c>).</summary>
    public static ProbeKind<TetherCheck> Probe { get; } = new(new TetherCheck(null),
        ConfigKey.String<TetherCheck>("agentId", c => c.AgentId, (c, v) => c with { AgentId = v }, allowEmpty: true),
        ConfigKey.String<TetherCheck>("pingRole", c => c.Role, (c, v) => c with { Role = v! }, allowEmpty: true),
        ConfigKey.Duration<TetherCheck>("grace", c => c.Grace, (c, v) => c with { Grace = v }))
    {
        Aliases = new Dictionary<string, string> { ["interval"] = "period", ["allowance"] = "failureThreshold" },
    };

    /// <summary>Registers the <c>tether:</c> section and the <c>kind: tether</c> probe; returns <paramref name="extensions"/>.</summary>
    public static ConfigExtensions AddTether(this ConfigExtensions extensions)
    {
        ArgumentNullException.ThrowIfNull(extensions);
        return extensions.Add(Section).Add(Probe);
    }
}

/// <summary>The MQTT broker <c>kind: tether</c> probes use (top-level <c>tether:</c> in config). Defaults are
/// Tether's own: localhost:1883, user tether, password sp_ceB0ss!.</summary>
public sealed record TetherSettings
{
    public static TetherSettings Default { get; } = new();
    public string Host { get; init; } = "localhost";
    public int Port { get; init; } = 1883;
    public string? Username { get; init; } = "tether";
    public string? Password { get; init; } = "sp_ceB0ss!";
}

/// <summary><c>tether</c>: ping/pong over MQTT (the broker is the top-level <c>tether:</c> section).</summary>
/// <param name="AgentId">Accept pongs only from this Tether agent id; null = any.</param>
public sealed record TetherCheck(string? AgentId) : ProbeCheck
{
    public override string Kind => "tether";
    public override TimeSpan DefaultPeriod => TimeSpan.FromSeconds(15);
    public override TimeSpan DefaultTimeout => TimeSpan.FromSeconds(5);
    public override int DefaultFailureThreshold => 1;
    /// <summary>The role Vigil pings as (processPinger, like the Tether Process Pinger).</summary>
    public string Role { get; init; } = "processPinger";
    /// <summary>For this long after the broker connection comes back, a missing pong does not count (the probe stays
    /// paused): the target reconnects on its own schedule (the JS agent: every second). Like the pinger's ping.grace.</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(10);
    public override IEnumerable<SpecError> Validate()
    {
        if (Grace < TimeSpan.Zero) yield return new("grace", "must not be negative");
        if (Limits.TimerWait(Grace, "grace") is { } tooLong) yield return tooLong;
        // Both become MQTT topic levels, and MQTT strings cannot hold U+0000 (MQTT 3.1.1 §1.5.3).
        if (Limits.HasNul(AgentId)) yield return new("agentId", Limits.NulMessage);
        if (Limits.HasNul(Role)) yield return new("pingRole", Limits.NulMessage);
    }
}
