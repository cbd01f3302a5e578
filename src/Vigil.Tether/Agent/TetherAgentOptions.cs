using System.Security.Cryptography;
using Vigil.Tether.Mqtt;

namespace Vigil.Tether.Agent;

/// <summary>Tether's broker defaults (the JS agent's <c>BROKER_DEFAULTS.nodeJS</c>) and client id convention.</summary>
public static class TetherDefaults
{
    public const string Host = "localhost";
    public const int Port = 1883;
    public const string Username = "tether";
    public const string Password = "sp_ceB0ss!";

    /// <summary>MQTT options for the default broker; the client id is filled in per agent.</summary>
    public static MqttClientOptions Broker { get; } = new() { Host = Host, Port = Port, Username = Username, Password = Password };

    /// <summary>
    /// <c>tether-&lt;role&gt;-&lt;8 hex digits&gt;</c>. JS agents 3.0–3.2 use the fixed <c>tether-&lt;role&gt;</c>, so two
    /// agents with one role knock each other off the broker; the random suffix avoids that.
    /// </summary>
    public static string ClientId(string role) => $"tether-{role}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
}

/// <summary>How a <see cref="TetherAgent"/> identifies itself and reaches the broker.</summary>
public sealed record TetherAgentOptions
{
    /// <summary>The agent's id, used in its output topics (<c>role/id/plug</c>); <c>any</c> by default.</summary>
    public string Id { get; init; } = TetherTopic.DefaultId;

    /// <summary>Broker and MQTT settings; an empty <c>ClientId</c> becomes <see cref="TetherDefaults.ClientId"/>.</summary>
    public MqttClientOptions Broker { get; init; } = TetherDefaults.Broker;
}
