namespace Vigil.Tether.Mqtt;

/// <summary>MQTT quality of service levels (MQTT 3.1.1 §4.3, the same in MQTT 5).</summary>
public enum MqttQos : byte
{
    /// <summary>At most once: fire and forget.</summary>
    AtMostOnce = 0,
    /// <summary>At least once: acknowledged with PUBACK, published again after a reconnect until then.</summary>
    AtLeastOnce = 1,
    /// <summary>Exactly once: accepted on incoming messages; this client does not publish at QoS 2.</summary>
    ExactlyOnce = 2,
}

/// <summary>An application message received from the broker.</summary>
public sealed record MqttMessage(string Topic, ReadOnlyMemory<byte> Payload, MqttQos Qos, bool Retain, bool Duplicate);

/// <summary>What an <see cref="MqttClientEvent"/> reports.</summary>
public enum MqttEventKind
{
    /// <summary>A connection was made and CONNACK accepted it (also after a reconnect).</summary>
    Connected,
    /// <summary>The connection was lost or closed; <see cref="MqttClientEvent.Error"/> says why (null on dispose).</summary>
    Disconnected,
    /// <summary>A reconnect attempt failed; the client tries again after a backoff.</summary>
    ReconnectFailed,
    /// <summary>The broker refused a subscription renewed after a reconnect (SUBACK 0x80); it is dropped.
    /// <see cref="MqttClientEvent.Error"/> is the <see cref="MqttSubscriptionRefusedException"/> naming the filter.</summary>
    SubscriptionRefused,
    /// <summary>Received messages were dropped because the reader fell <see cref="MqttClientOptions.MaxQueuedMessages"/>
    /// behind; raised once per streak (see <see cref="MqttClient.DroppedMessages"/>).</summary>
    MessagesDropped,
}

/// <summary>A change of the client's connection, raised on the client's loop; handlers must return quickly.</summary>
public sealed record MqttClientEvent(MqttEventKind Kind, string Message, Exception? Error = null);

/// <summary>An MQTT failure: connection lost, refused, timed out or closed by the client.</summary>
public class MqttException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The broker refused a subscription (SUBACK return code 0x80, MQTT 3.1.1 §3.9.3): mostly an ACL that denies the
/// client reading the filter (mosquitto's dynamic-security plugin does; its <c>acl_file</c> grants every subscribe and
/// filters at delivery instead).</summary>
public sealed class MqttSubscriptionRefusedException(string filter, string endpoint)
    : MqttException($"the broker refused the subscription to {filter} (ACL?): SUBACK 0x80 from {endpoint}")
{
    /// <summary>The topic filter refused.</summary>
    public string Filter { get; } = filter;
}

/// <summary>The broker did not answer a SUBSCRIBE or UNSUBSCRIBE within <see cref="MqttClientOptions.RequestTimeout"/>;
/// the connection stays up.</summary>
public sealed class MqttRequestTimeoutException(string message) : MqttException(message);

/// <summary>The broker answered CONNECT with a refusal (CONNACK return code, or MQTT 5 reason code).</summary>
public sealed class MqttConnectException(string reason, int code, string endpoint)
    : MqttException($"broker {endpoint} refused the connection: {reason} (CONNACK code {code})")
{
    /// <summary>The CONNACK return code (MQTT 3.1.1) or reason code (MQTT 5).</summary>
    public int Code { get; } = code;
}
