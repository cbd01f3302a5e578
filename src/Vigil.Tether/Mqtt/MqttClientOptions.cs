namespace Vigil.Tether.Mqtt;

/// <summary>How a connection reaches the broker: the JS agent's <c>protocol</c> (mqtt.js names).</summary>
public enum MqttTransport
{
    /// <summary><c>mqtt</c> (or <c>tcp</c>): plain TCP.</summary>
    Tcp,
    /// <summary><c>mqtts</c> (or <c>ssl</c>, <c>tls</c>): TCP with TLS.</summary>
    Tls,
    /// <summary><c>ws</c>: MQTT over a WebSocket at <see cref="MqttClientOptions.Path"/>.</summary>
    WebSocket,
    /// <summary><c>wss</c>: MQTT over a WebSocket with TLS.</summary>
    SecureWebSocket,
}

/// <summary>How an <see cref="MqttClient"/> connects; immutable, validated when the client is made.</summary>
public sealed record MqttClientOptions
{
    /// <summary>Broker host name or address.</summary>
    public string Host { get; init; } = "localhost";
    /// <summary>Broker port (1883; 8883 for mqtts and 15675 for the Tether broker's WebSocket by convention).</summary>
    public int Port { get; init; } = 1883;
    /// <summary>TCP, TLS, WebSocket or secure WebSocket.</summary>
    public MqttTransport Transport { get; init; } = MqttTransport.Tcp;
    /// <summary>The WebSocket path (<c>/ws</c> on the Tether broker); empty is <c>/</c>, as mqtt.js. Ignored over TCP.</summary>
    public string Path { get; init; } = "";
    /// <summary>MQTT 3.1.1 (4, the default, as mqtt.js and the JS agent) or MQTT 5 (5).</summary>
    public int ProtocolVersion { get; init; } = 4;
    /// <summary>Client identifier; two clients with one id knock each other off the broker.</summary>
    public string ClientId { get; init; } = "";
    /// <summary>Start a new session on every connect (the broker forgets subscriptions and queued messages).</summary>
    public bool CleanSession { get; init; } = true;
    /// <summary>User name, or null for none.</summary>
    public string? Username { get; init; }
    /// <summary>Password; MQTT 3.1.1 allows one only with a <see cref="Username"/>.</summary>
    public string? Password { get; init; }
    /// <summary>PEM file of the certificate authorities that may sign the broker's certificate (TLS only); null: the
    /// system's trust store.</summary>
    public string? CaFile { get; init; }
    /// <summary>PEM file of a client certificate to present (TLS only), with <see cref="KeyFile"/>.</summary>
    public string? CertFile { get; init; }
    /// <summary>PEM file of <see cref="CertFile"/>'s private key.</summary>
    public string? KeyFile { get; init; }
    /// <summary>Accept any broker certificate (TLS only). For tests: anyone on the path can read and change the traffic.</summary>
    public bool InsecureSkipVerify { get; init; }
    /// <summary>PINGREQ period, whole seconds up to 65535; zero turns keepalive off.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long to wait for PINGRESP before declaring the connection dead.</summary>
    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Bound on connect, TLS or WebSocket handshake and CONNACK together.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>How long the broker may take to answer a SUBSCRIBE or UNSUBSCRIBE. A request not answered in time fails
    /// with <see cref="MqttRequestTimeoutException"/> (the caller decides whether to retry); a session renewal after a
    /// reconnect not answered in time drops that connection, and the client reconnects. Without a bound a broker that
    /// swallowed a SUBSCRIBE would leave the caller waiting forever.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>First delay before a reconnect; it doubles per failed attempt up to <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(500);
    /// <summary>The longest delay between reconnect attempts.</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Received messages held for a reader that has not taken them yet; beyond this new ones are dropped and
    /// counted (<see cref="MqttClient.DroppedMessages"/>), so a flooding broker cannot grow memory without bound.</summary>
    public int MaxQueuedMessages { get; init; } = 10_000;
    /// <summary>Clock for timeouts and backoff (keepalive is MQTTnet's own, on the system clock).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Whether the transport uses TLS.</summary>
    public bool UsesTls => Transport is MqttTransport.Tls or MqttTransport.SecureWebSocket;

    /// <summary>The WebSocket URI (<c>ws://host:port/path</c>); null over TCP.</summary>
    public string? WebSocketUri => Transport switch
    {
        MqttTransport.WebSocket => $"ws://{HostForUri}:{Port}{NormalPath}",
        MqttTransport.SecureWebSocket => $"wss://{HostForUri}:{Port}{NormalPath}",
        _ => null,
    };

    string HostForUri => Host.Contains(':') && !Host.StartsWith('[') ? $"[{Host}]" : Host;
    string NormalPath => Path.Length == 0 ? "/" : Path.StartsWith('/') ? Path : "/" + Path;

    /// <summary>Where the broker is, for messages: <c>host:port</c> over plain TCP, else with the scheme
    /// (<c>mqtts://host:port</c>, <c>wss://host:port/ws</c>).</summary>
    public string Endpoint => Transport switch
    {
        MqttTransport.Tcp => $"{Host}:{Port}",
        MqttTransport.Tls => $"mqtts://{Host}:{Port}",
        _ => WebSocketUri!,
    };

    /// <summary>Reads a protocol name as the JS agent's <c>brokerOptions.protocol</c> (mqtt.js): mqtt/tcp, mqtts/ssl/tls,
    /// ws, wss; null for anything else.</summary>
    public static MqttTransport? ParseTransport(string protocol) => protocol.Trim().ToLowerInvariant() switch
    {
        "mqtt" or "tcp" => MqttTransport.Tcp,
        "mqtts" or "ssl" or "tls" => MqttTransport.Tls,
        "ws" => MqttTransport.WebSocket,
        "wss" => MqttTransport.SecureWebSocket,
        _ => null,
    };

    /// <summary>The protocol names <see cref="ParseTransport"/> accepts, for error messages.</summary>
    public const string TransportNames = "mqtt, mqtts, ws or wss (tcp, ssl and tls also work)";

    /// <summary>Delay before reconnect attempt <paramref name="attempt"/> (0-based): doubling from
    /// <see cref="ReconnectDelay"/>, capped at <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan ReconnectDelayFor(int attempt)
    {
        double ticks = ReconnectDelay.Ticks * Math.Pow(2, Math.Clamp(attempt, 0, 62));
        return ticks >= MaxReconnectDelay.Ticks ? MaxReconnectDelay : TimeSpan.FromTicks((long)ticks);
    }

    internal void Validate()
    {
        static void Check(bool ok, string message) { if (!ok) throw new ArgumentException("MQTT options: " + message); }
        Check(!string.IsNullOrEmpty(Host), "Host must be set");
        Check(Port is > 0 and <= 65535, $"Port {Port} is not 1–65535");
        Check(ProtocolVersion is 4 or 5, $"ProtocolVersion {ProtocolVersion} is not 4 (MQTT 3.1.1) or 5 (MQTT 5)");
        Check(System.Text.Encoding.UTF8.GetByteCount(ClientId) <= ushort.MaxValue, "ClientId is too long");
        Check(ClientId.Length > 0 || CleanSession, "an empty ClientId needs CleanSession (MQTT 3.1.1 §3.1.3.1)");
        Check(Password is null || Username is not null || ProtocolVersion == 5, "a Password needs a Username (MQTT 3.1.1 §3.1.2.9)");
        Check(KeepAlive >= TimeSpan.Zero && KeepAlive.TotalSeconds <= ushort.MaxValue && KeepAlive.Ticks % TimeSpan.TicksPerSecond == 0,
            $"KeepAlive {KeepAlive} must be whole seconds from 0 to 65535");
        Check(PingTimeout > TimeSpan.Zero && ConnectTimeout > TimeSpan.Zero && RequestTimeout > TimeSpan.Zero, "PingTimeout, ConnectTimeout and RequestTimeout must be positive");
        Check(ReconnectDelay > TimeSpan.Zero && MaxReconnectDelay >= ReconnectDelay, "ReconnectDelay must be positive and at most MaxReconnectDelay");
        Check(MaxQueuedMessages > 0, "MaxQueuedMessages must be positive");
        Check(Path.IndexOfAny([' ', '?', '#']) < 0, $"Path '{Path}' must not contain spaces, '?' or '#'");
        if (MqttTls.Check(this) is { } tlsError) Check(false, tlsError);
    }
}
