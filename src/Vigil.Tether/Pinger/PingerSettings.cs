using System.Collections.Immutable;
using Vigil.Tether.Agent;
using Vigil.Tether.Mqtt;

namespace Vigil.Tether.Pinger;

/// <summary>
/// The configuration of <c>vigil pinger</c>: every key of the Tether Process Pinger with its default, plus Vigil's
/// additions (<c>ping.grace</c>, <c>pm2.bin</c>, <c>restart.exec</c>). Built by <see cref="PingerConfig.Load"/>.
/// </summary>
public sealed record PingerSettings
{
    /// <summary><c>targetAppName</c>: added to every metric and event as <c>targetApp:NAME</c>.</summary>
    public string TargetAppName { get; init; } = "unknown";

    /// <summary><c>tether.host</c>, <c>tether.port</c>, <c>tether.username</c>, <c>tether.password</c>.</summary>
    public string Host { get; init; } = TetherDefaults.Host;
    public int Port { get; init; } = TetherDefaults.Port;
    public string? Username { get; init; } = TetherDefaults.Username;
    public string? Password { get; init; } = TetherDefaults.Password;

    /// <summary><c>tether.protocol</c>: mqtt (default), mqtts, ws or wss, as the JS agent's <c>brokerOptions.protocol</c>.</summary>
    public MqttTransport Protocol { get; init; } = MqttTransport.Tcp;

    /// <summary><c>tether.path</c>: the WebSocket path (<c>/ws</c> on the Tether broker's port 15675).</summary>
    public string Path { get; init; } = "";

    /// <summary><c>tether.protocolVersion</c>: 4 (MQTT 3.1.1, default) or 5.</summary>
    public int ProtocolVersion { get; init; } = 4;

    /// <summary><c>tether.ca</c>, <c>tether.cert</c>, <c>tether.key</c>: PEM files (CA that signs the broker's certificate;
    /// client certificate and its key), absolute or relative to the current folder.</summary>
    public string? CaFile { get; init; }
    public string? CertFile { get; init; }
    public string? KeyFile { get; init; }

    /// <summary><c>tether.insecureSkipVerify</c>: accept any broker certificate (for tests; warned about).</summary>
    public bool InsecureSkipVerify { get; init; }

    /// <summary>The MQTT options for the broker these settings name (client id and clock still to fill in).</summary>
    public MqttClientOptions Broker => TetherDefaults.Broker with
    {
        Host = Host, Port = Port, Username = Username, Password = Password, Transport = Protocol, Path = Path,
        ProtocolVersion = ProtocolVersion, CaFile = CaFile, CertFile = CertFile, KeyFile = KeyFile, InsecureSkipVerify = InsecureSkipVerify,
    };

    /// <summary><c>tether.agentId</c>: the id in <c>processPinger/ID/ping</c>; a random one when unset.</summary>
    public string? AgentId { get; init; }

    /// <summary><c>ping.interval</c>: time between pings.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMilliseconds(15000);

    /// <summary><c>ping.timeout</c>: how long after a ping its pong may come.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMilliseconds(5000);

    /// <summary><c>ping.tetherAgentId</c>: listen on <c>+/ID/pong</c> instead of <c>+/+/pong</c>.</summary>
    public string? TetherAgentId { get; init; }

    /// <summary><c>ping.grace</c> (Vigil): after the pinger starts, after the broker connection comes back and after a
    /// restart, a missed pong within this long is a warning, not a timeout, so the target has time to (re)connect.</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromMilliseconds(10000);

    /// <summary><c>pm2.enabled</c>, <c>pm2.processName</c>, <c>pm2.bin</c> (Vigil: the pm2 executable, from PATH by default).</summary>
    public bool Pm2Enabled { get; init; } = true;
    public string Pm2ProcessName { get; init; } = "unknown";
    public string Pm2Bin { get; init; } = "pm2";

    /// <summary><c>datadog.enabled</c>, <c>datadog.globalTags</c>, <c>datadog.decodeStats</c>.</summary>
    public bool DatadogEnabled { get; init; } = true;
    public ImmutableArray<string> GlobalTags { get; init; } = ["app:TetherProcessPinger"];
    public bool DecodeStats { get; init; } = true;

    /// <summary><c>loglevel</c>: trace, debug, info, warn, error, fatal or off.</summary>
    public PingerLogLevel LogLevel { get; init; } = PingerLogLevel.Warn;

    /// <summary><c>exitPause</c>: the wait before exiting 1 after a PM2 failure.</summary>
    public TimeSpan ExitPause { get; init; } = TimeSpan.FromMilliseconds(3000);

    /// <summary><c>restart.exec</c> (Vigil): a command run on every timeout (a string runs through <c>sh -c</c>).</summary>
    public ImmutableArray<string> RestartExec { get; init; } = [];

    /// <summary>Every tag of every metric and event: the global tags, then <c>targetApp:NAME</c>.</summary>
    public ImmutableArray<string> Tags => [.. GlobalTags, $"targetApp:{TargetAppName}"];
}

/// <summary>log4js levels, as the original's <c>loglevel</c>.</summary>
public enum PingerLogLevel { All, Trace, Debug, Info, Warn, Error, Fatal, Off }
