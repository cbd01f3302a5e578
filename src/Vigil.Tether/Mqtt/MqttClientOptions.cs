using System.Net.Security;

namespace Vigil.Tether.Mqtt;

/// <summary>How an <see cref="MqttClient"/> connects; immutable, validated when the client is made.</summary>
public sealed record MqttClientOptions
{
    /// <summary>Broker host name or address.</summary>
    public string Host { get; init; } = "localhost";
    /// <summary>Broker TCP port (1883, or 8883 for TLS by convention).</summary>
    public int Port { get; init; } = 1883;
    /// <summary>Client identifier; two clients with one id knock each other off the broker.</summary>
    public string ClientId { get; init; } = "";
    /// <summary>Start a new session on every connect (the broker forgets subscriptions and queued messages).</summary>
    public bool CleanSession { get; init; } = true;
    public string? Username { get; init; }
    /// <summary>Password; MQTT 3.1.1 allows one only with a <see cref="Username"/>.</summary>
    public string? Password { get; init; }
    /// <summary>PINGREQ period, whole seconds up to 65535; zero turns keepalive off.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long to wait for PINGRESP before declaring the connection dead.</summary>
    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Bound on TCP connect, TLS handshake and CONNACK together.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>How long the broker may take to answer a SUBSCRIBE or UNSUBSCRIBE. A request not answered in time fails
    /// with <see cref="MqttRequestTimeoutException"/> (the caller decides whether to retry); a session renewal after a
    /// reconnect not answered in time drops that connection, and the client reconnects. Without a bound a broker that
    /// swallowed a SUBSCRIBE (or answered it with another packet id) would leave the caller waiting forever.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>First delay before a reconnect; it doubles per failed attempt up to <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Largest incoming packet (remaining length) accepted; a larger one closes the connection.</summary>
    public int MaxPacketSize { get; init; } = 1024 * 1024;
    /// <summary>TLS settings; null for plain TCP. <c>TargetHost</c> defaults to <see cref="Host"/>.</summary>
    public SslClientAuthenticationOptions? Tls { get; init; }
    /// <summary>Clock for keepalive, timeouts and backoff.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>"host:port", for messages.</summary>
    public string Endpoint => $"{Host}:{Port}";

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
        Check(System.Text.Encoding.UTF8.GetByteCount(ClientId) <= ushort.MaxValue, "ClientId is too long");
        Check(ClientId.Length > 0 || CleanSession, "an empty ClientId needs CleanSession (MQTT 3.1.1 §3.1.3.1)");
        Check(Password is null || Username is not null, "a Password needs a Username (MQTT 3.1.1 §3.1.2.9)");
        Check(KeepAlive >= TimeSpan.Zero && KeepAlive.TotalSeconds <= ushort.MaxValue && KeepAlive.Ticks % TimeSpan.TicksPerSecond == 0,
            $"KeepAlive {KeepAlive} must be whole seconds from 0 to 65535");
        Check(PingTimeout > TimeSpan.Zero && ConnectTimeout > TimeSpan.Zero && RequestTimeout > TimeSpan.Zero, "PingTimeout, ConnectTimeout and RequestTimeout must be positive");
        Check(ReconnectDelay > TimeSpan.Zero && MaxReconnectDelay >= ReconnectDelay, "ReconnectDelay must be positive and at most MaxReconnectDelay");
        Check(MaxPacketSize is > 0 and <= 268_435_455, "MaxPacketSize must be 1 to 268435455 bytes");
    }
}
