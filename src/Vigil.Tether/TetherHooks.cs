using Vigil.Hooks;
using Vigil.Tether.Mqtt;
using Vigil.Tether.Pinger;

namespace Vigil.Tether;

/// <summary>
/// Publishes <c>mqtt:</c> hooks through the broker connection of the config's <c>tether:</c> section: the one the
/// <c>kind: tether</c> probes of the same <see cref="TetherProbes"/> share (made at the first use, kept up after).
/// Offline, a hook fails at once with the reason rather than waiting for the broker: an alert that arrives much later
/// would mislead more than a hook-failed event.
/// </summary>
public sealed class TetherHookPublisher(TetherProbes connection) : IHookPublisher
{
    /// <inheritdoc/>
    public async Task<PublishOutcome> PublishAsync(string topic, ReadOnlyMemory<byte> payload, int qos, bool retain, CancellationToken cancel)
    {
        PingHub hub;
        try { hub = await connection.HubAsync(cancel).ConfigureAwait(false); }
        catch (MqttException e) { return PublishOutcome.Failed($"MQTT broker unreachable: {e.Message}"); }
        catch (ObjectDisposedException) { return PublishOutcome.Failed("the MQTT connection is closed (Vigil is shutting down)"); }
        if (!hub.IsConnected) return PublishOutcome.Failed($"not connected to the MQTT broker {hub.Endpoint}");
        try
        {
            await hub.Client.PublishAsync(topic, payload, qos == 0 ? MqttQos.AtMostOnce : MqttQos.AtLeastOnce, retain, cancel).ConfigureAwait(false);
            return PublishOutcome.Ok;
        }
        catch (MqttException e) { return PublishOutcome.Failed(e.Message); }
        catch (ArgumentException e) { return PublishOutcome.Failed($"cannot publish on '{topic}': {e.Message}"); }
        catch (ObjectDisposedException) { return PublishOutcome.Failed("the MQTT connection is closed (Vigil is shutting down)"); }
    }
}
