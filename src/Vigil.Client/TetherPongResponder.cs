using System.Buffers;
using System.Diagnostics;
using MessagePack;
using MQTTnet;
using MQTTnet.Protocol;

namespace Vigil.Client;

/// <summary>How a <see cref="TetherPongResponder"/> names itself and what its pongs carry.</summary>
public sealed record TetherPongOptions
{
    public BrokerOptions Broker { get; init; } = new();
    /// <summary>The Tether role: the pong goes to <c>ROLE/ID/pong</c>.</summary>
    public string Role { get; init; } = "vigilClient";
    /// <summary>The agent id: a <c>kind: tether</c> probe's <c>agentId</c> (it listens on <c>+/ID/pong</c>).</summary>
    public string Id { get; init; } = "any";
    /// <summary>The numbers each pong carries (a MessagePack map; Vigil and the pinger make them gauges);
    /// <see cref="TetherPongResponder.ProcessMetrics"/> when null.</summary>
    public Func<IReadOnlyDictionary<string, double>>? Metrics { get; init; }
}

/// <summary>Answers Tether pings (<c>+/+/ping</c>) with a pong on <c>ROLE/ID/pong</c> whose payload is a MessagePack map of
/// metrics: what Vigil's <c>kind: tether</c> probe and <c>vigil pinger</c> (the Tether Process Pinger) wait for.</summary>
public sealed class TetherPongResponder : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private readonly TetherPongOptions _options;
    private readonly string _pongTopic;
    private readonly CancellationTokenSource _stop = new();
    private long _pongs;

    private TetherPongResponder(IMqttClient client, TetherPongOptions options)
    {
        _client = client;
        _options = options;
        _pongTopic = $"{options.Role}/{options.Id}/pong";
    }

    /// <summary>Pongs sent so far.</summary>
    public long Pongs => Interlocked.Read(ref _pongs);

    /// <summary>Connects to the broker and answers pings until disposed.</summary>
    public static async Task<TetherPongResponder> StartAsync(TetherPongOptions? options = null, CancellationToken ct = default)
    {
        options ??= new();
        if (options.Role.Contains('/') || options.Id.Contains('/') || options.Role.Length == 0 || options.Id.Length == 0)
            throw new ArgumentException($"Tether role and id must be non-empty and without '/': got role '{options.Role}', id '{options.Id}'", nameof(options));
        var client = await options.Broker.ConnectAsync("vigil-pong", ct).ConfigureAwait(false);
        var responder = new TetherPongResponder(client, options);
        client.ApplicationMessageReceivedAsync += responder.OnMessage;
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("+/+/ping", MqttQualityOfServiceLevel.AtLeastOnce).Build(), ct).ConfigureAwait(false);
        return responder;
    }

    private Task OnMessage(MqttApplicationMessageReceivedEventArgs e)
    {
        if (!e.ApplicationMessage.Topic.EndsWith("/ping", StringComparison.Ordinal)) return Task.CompletedTask;
        // Off MQTTnet's receive loop: a QoS 1 publish waits for its PUBACK, which that loop delivers.
        _ = Task.Run(async () =>
        {
            try
            {
                await BrokerOptions.PublishAsync(_client, _pongTopic, Encode((_options.Metrics ?? ProcessMetrics)()), _stop.Token).ConfigureAwait(false);
                Interlocked.Increment(ref _pongs);
            }
            catch (Exception) when (_stop.IsCancellationRequested || !_client.IsConnected) { } // shutting down, or the broker is gone
        });
        return Task.CompletedTask;
    }

    /// <summary>The process's own figures: uptime, working set, GC heap, CPU time, threads.</summary>
    public static IReadOnlyDictionary<string, double> ProcessMetrics()
    {
        using var p = Process.GetCurrentProcess();
        return new Dictionary<string, double>
        {
            ["uptime_s"] = Math.Round((DateTime.Now - p.StartTime).TotalSeconds),
            ["working_set_mb"] = Math.Round(p.WorkingSet64 / 1048576.0, 1),
            ["gc_heap_mb"] = Math.Round(GC.GetTotalMemory(false) / 1048576.0, 1),
            ["cpu_s"] = Math.Round(p.TotalProcessorTime.TotalSeconds, 2),
            ["threads"] = p.Threads.Count,
        };
    }

    /// <summary>A MessagePack map of string keys to numbers (whole numbers as integers, as a JS agent would send them).</summary>
    internal static byte[] Encode(IReadOnlyDictionary<string, double> fields)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteMapHeader(fields.Count);
        foreach (var (key, value) in fields)
        {
            writer.Write(key);
            if (value == Math.Floor(value) && Math.Abs(value) < 9007199254740992d) writer.Write((long)value);
            else writer.Write(value);
        }
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_client.IsConnected)
        {
            try { await _client.DisconnectAsync().ConfigureAwait(false); }
            catch (Exception) { } // already gone
        }
        _client.Dispose();
        _stop.Dispose();
    }
}
