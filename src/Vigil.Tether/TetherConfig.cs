using Vigil.Config;
using Vigil.Specs;
using Vigil.Tether.Agent;
using Vigil.Tether.Mqtt;

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
        ConfigKey.String<TetherSettings>("password", s => s.Password, (s, v) => s with { Password = v }, nullable: true, allowEmpty: true),
        ConfigKey.Parsed<TetherSettings, MqttTransport>("protocol", s => MqttClientOptions.ParseTransport(s), MqttClientOptions.TransportNames,
            MqttClientOptions.TransportName, s => s.Protocol, (s, v) => s with { Protocol = v }),
        ConfigKey.String<TetherSettings>("path", s => s.Path, (s, v) => s with { Path = v! }, allowEmpty: true),
        ConfigKey.Parsed<TetherSettings, int>("protocolVersion", s => MqttClientOptions.ParseProtocolVersion(s), MqttClientOptions.ProtocolVersionNames,
            v => v.ToString(System.Globalization.CultureInfo.InvariantCulture), s => s.ProtocolVersion, (s, v) => s with { ProtocolVersion = v }),
        ConfigKey.FilePath<TetherSettings>("ca", s => s.CaFile, (s, v) => s with { CaFile = v }),
        ConfigKey.FilePath<TetherSettings>("cert", s => s.CertFile, (s, v) => s with { CertFile = v }),
        ConfigKey.FilePath<TetherSettings>("key", s => s.KeyFile, (s, v) => s with { KeyFile = v }),
        ConfigKey.Bool<TetherSettings>("insecureSkipVerify", s => s.InsecureSkipVerify, (s, v) => s with { InsecureSkipVerify = v }))
    {
        Validate = ConnectionProblems,
    };

    /// <summary><c>kind: tether</c>, with the Tether pinger's words for the period (<c>interval</c>) and the failure
    /// threshold (<c>allowance</c>).</summary>
    public static ProbeKind<TetherCheck> Probe { get; } = new(new TetherCheck(null),
        ConfigKey.String<TetherCheck>("agentId", c => c.AgentId, (c, v) => c with { AgentId = v }, allowEmpty: true),
        ConfigKey.String<TetherCheck>("pingRole", c => c.Role, (c, v) => c with { Role = v! }, allowEmpty: true),
        ConfigKey.Duration<TetherCheck>("grace", c => c.Grace, (c, v) => c with { Grace = v }))
    {
        Aliases = new Dictionary<string, string> { ["interval"] = "period", ["allowance"] = "failureThreshold" },
    };

    /// <summary>
    /// What is wrong with how <paramref name="tether"/> reaches the broker, as (key under <c>tether.</c>, message): TLS
    /// files and flags need mqtts or wss, a certificate needs its key and the other way round, each file must exist, and
    /// the WebSocket path must fit in a URI. Shared by the <c>tether:</c> section and <c>vigil pinger</c>'s
    /// <c>tether.*</c> keys, so both refuse the same things in the same words.
    /// </summary>
    internal static IEnumerable<(string Key, string Message)> ConnectionProblems(TetherSettings tether)
    {
        bool tls = tether.Broker.UsesTls;
        foreach (var (key, file) in new[] { ("ca", tether.CaFile), ("cert", tether.CertFile), ("key", tether.KeyFile) })
        {
            if (file is null) continue;
            if (!tls) yield return (key, $"needs tether.protocol mqtts or wss (TLS), not {MqttClientOptions.TransportName(tether.Protocol)}");
            else if (!File.Exists(file)) yield return (key, $"file '{file}' does not exist");
        }
        if (tether.InsecureSkipVerify && !tls) yield return ("insecureSkipVerify", "needs tether.protocol mqtts or wss (TLS)");
        if (tether.CertFile is not null && tether.KeyFile is null) yield return ("cert", "a client certificate needs tether.key (its private key)");
        if (tether.KeyFile is not null && tether.CertFile is null) yield return ("key", "a key needs tether.cert (the client certificate it belongs to)");
        if (MqttClientOptions.PathProblem(tether.Path) is { } path) yield return ("path", path);
    }

    /// <summary><c>mqtt:</c> hooks publish through the broker of the <c>tether:</c> section (<see cref="TetherHookPublisher"/>).</summary>
    public static HookTransport MqttHooks { get; } = new("mqtt", Section);

    /// <summary>Registers the <c>tether:</c> section, the <c>kind: tether</c> probe and the connection of <c>mqtt:</c>
    /// hooks; returns <paramref name="extensions"/>.</summary>
    public static ConfigExtensions AddTether(this ConfigExtensions extensions)
    {
        ArgumentNullException.ThrowIfNull(extensions);
        return extensions.Add(Section).Add(Probe).Add(MqttHooks);
    }
}

/// <summary>The MQTT broker <c>kind: tether</c> probes use (top-level <c>tether:</c> in config). Defaults are
/// Tether's own: localhost:1883 over plain MQTT 3.1.1, user tether, password sp_ceB0ss!. The keys are the pinger's
/// <c>tether.*</c> keys.</summary>
public sealed record TetherSettings
{
    public static TetherSettings Default { get; } = new();
    public string Host { get; init; } = TetherDefaults.Host;
    public int Port { get; init; } = TetherDefaults.Port;
    public string? Username { get; init; } = TetherDefaults.Username;
    public string? Password { get; init; } = TetherDefaults.Password;
    /// <summary><c>protocol</c>: mqtt (default), mqtts, ws or wss, as the JS agent's <c>brokerOptions.protocol</c>.</summary>
    public MqttTransport Protocol { get; init; } = MqttTransport.Tcp;
    /// <summary><c>path</c>: the WebSocket path (<c>/ws</c> on the Tether broker's port 15675).</summary>
    public string Path { get; init; } = "";
    /// <summary><c>protocolVersion</c>: 4 (MQTT 3.1.1, default) or 5.</summary>
    public int ProtocolVersion { get; init; } = 4;
    /// <summary><c>ca</c>: PEM file of the CAs that may sign the broker's certificate (mqtts, wss); absolute.</summary>
    public string? CaFile { get; init; }
    /// <summary><c>cert</c>, <c>key</c>: PEM files of a client certificate and its private key; absolute.</summary>
    public string? CertFile { get; init; }
    public string? KeyFile { get; init; }
    /// <summary><c>insecureSkipVerify</c>: accept any broker certificate (for tests).</summary>
    public bool InsecureSkipVerify { get; init; }

    /// <summary>The MQTT options for this broker (client id and clock still to fill in).</summary>
    public MqttClientOptions Broker => TetherDefaults.Broker with
    {
        Host = Host, Port = Port, Username = Username, Password = Password, Transport = Protocol, Path = Path,
        ProtocolVersion = ProtocolVersion, CaFile = CaFile, CertFile = CertFile, KeyFile = KeyFile, InsecureSkipVerify = InsecureSkipVerify,
    };
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
