using System.Threading.Channels;
using Vigil.Tether.Mqtt;

namespace Vigil.Tether.Tests.Support;

/// <summary>Records a client's events so a test can wait for the next one of a kind.</summary>
public sealed class ClientEvents
{
    readonly Channel<MqttClientEvent> _pending = Channel.CreateUnbounded<MqttClientEvent>();
    readonly List<MqttClientEvent> _all = [];

    public ClientEvents(MqttClient client) => client.Events += e =>
    {
        lock (_all) _all.Add(e);
        _pending.Writer.TryWrite(e);
    };

    public static TimeSpan Wait { get; } = TimeSpan.FromSeconds(15);

    public IReadOnlyList<MqttClientEvent> All { get { lock (_all) return [.. _all]; } }

    public int Count(MqttEventKind kind) => All.Count(e => e.Kind == kind);

    /// <summary>The next event of <paramref name="kind"/> not yet waited for (events of other kinds are passed over).</summary>
    public async Task<MqttClientEvent> NextAsync(MqttEventKind kind)
    {
        using var cts = new CancellationTokenSource(Wait);
        try
        {
            while (true)
            {
                var e = await _pending.Reader.ReadAsync(cts.Token);
                if (e.Kind == kind) return e;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no {kind} event within {Wait}; events: {string.Join("; ", All.Select(e => $"{e.Kind}: {e.Message}"))}");
        }
    }
}

public static class MqttTestExtensions
{
    /// <summary>The next received message, or a timeout.</summary>
    public static async Task<MqttMessage> NextAsync(this ChannelReader<MqttMessage> messages) =>
        await messages.ReadAsync().AsTask().WaitAsync(ClientEvents.Wait);

    public static MqttClientOptions Local(int port, string clientId) => new()
    {
        Host = "127.0.0.1",
        Port = port,
        ClientId = clientId,
        ReconnectDelay = TimeSpan.FromMilliseconds(20),
        MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
    };
}
