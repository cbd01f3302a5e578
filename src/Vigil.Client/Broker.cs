using MQTTnet;
using MQTTnet.Protocol;

namespace Vigil.Client;

/// <summary>Where an MQTT responder connects: Tether's defaults (localhost:1883, user tether).</summary>
public sealed record BrokerOptions
{
    public string Host { get; init; } = "localhost";
    public int Port { get; init; } = 1883;
    public string? Username { get; init; } = "tether";
    public string? Password { get; init; } = "sp_ceB0ss!";

    /// <summary>Connects an MQTTnet client (MQTT 3.1.1, a random client id so two responders never knock each other off).</summary>
    internal async Task<IMqttClient> ConnectAsync(string idPrefix, CancellationToken ct)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(Host, Port)
            .WithClientId($"{idPrefix}-{Guid.NewGuid():N}"[..Math.Min(idPrefix.Length + 13, 64)])
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V311)
            .WithCleanSession();
        if (Username is not null) builder.WithCredentials(Username, Password);
        await client.ConnectAsync(builder.Build(), ct).ConfigureAwait(false);
        return client;
    }

    internal static Task PublishAsync(IMqttClient client, string topic, byte[] payload, CancellationToken ct) =>
        client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), ct);
}
