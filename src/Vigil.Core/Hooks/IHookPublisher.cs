namespace Vigil.Hooks;

/// <summary>
/// Publishes a payload on a message bus topic, for <c>mqtt:</c> hooks. The engine knows no MQTT: the program gives the
/// hook runner an implementation over its connection (the vigil executable: Vigil.Tether's, to the broker of the
/// config's <c>tether:</c> section).
/// </summary>
public interface IHookPublisher
{
    /// <summary>Publishes <paramref name="payload"/> on <paramref name="topic"/>; never throws for a failure of the
    /// connection (not connected, refused): that comes back as the outcome. Cancelling ends the wait (the hook's timeout).</summary>
    Task<PublishOutcome> PublishAsync(string topic, ReadOnlyMemory<byte> payload, int qos, bool retain, CancellationToken cancel);
}

/// <summary>How a publish went: <see cref="Error"/> is null when the broker took the message (QoS 1: acknowledged).</summary>
public readonly record struct PublishOutcome(string? Error)
{
    public static PublishOutcome Ok => default;
    public bool Succeeded => Error is null;
    public static PublishOutcome Failed(string why) => new(why);
}
