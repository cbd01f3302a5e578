using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Protocol;

namespace Vigil.Client;

/// <summary>Where a <see cref="CopsResponder"/> answers: the process's COPS URI and one or both transports.</summary>
public sealed record CopsResponderOptions
{
    /// <summary>The process's COPS URI (<c>processList[].uri</c>), starting with '/': <c>/site</c>.</summary>
    public required string Uri { get; init; }
    /// <summary>COPS's <c>version_tag</c> in every reply, when set.</summary>
    public string? VersionTag { get; init; }
    /// <summary>Answer over MQTT on this broker (SET <c>URI/cops/cops_heartbeat</c>, GET <c>URI/cops</c>).</summary>
    public BrokerOptions? Mqtt { get; init; }
    /// <summary>Answer over HTTP on this loopback port (0: a free one, see <see cref="CopsResponder.HttpPort"/>).</summary>
    public int? HttpPort { get; init; }
    /// <summary>The address the HTTP side listens on.</summary>
    public IPAddress HttpAddress { get; init; } = IPAddress.Loopback;
}

/// <summary>
/// Answers COPS heartbeats (HybridOS COPS, Vigil's <c>kind: cops</c> probe; the messages are in docs/cops.md): a SET
/// stores the counter, a GET is answered with <c>{"cops_heartbeat": N, "pid": P, "version_tag": …}</c>. P is this
/// process's PID: the one Vigil kills when the heartbeats stop, so answer from the main process.
/// </summary>
public sealed class CopsResponder : IAsyncDisposable
{
    private const int MaxHeader = 8 * 1024, MaxBody = 64;
    private readonly CopsResponderOptions _options;
    private readonly string _base, _topic;
    private readonly CancellationTokenSource _stop = new();
    private IMqttClient? _mqtt;
    private TcpListener? _http;
    private Task _serving = Task.CompletedTask;
    private long _counter = -1; // -1: nothing set yet (a GET is then not answered as alive)

    private CopsResponder(CopsResponderOptions options)
    {
        _options = options;
        _base = options.Uri.TrimEnd('/');
        _topic = _base[1..];
    }

    /// <summary>The HTTP side's port, when it listens.</summary>
    public int? HttpPort => (_http?.LocalEndpoint as IPEndPoint)?.Port;

    /// <summary>The last counter set, or null.</summary>
    public long? Counter => Interlocked.Read(ref _counter) is var c && c >= 0 ? c : null;

    public static async Task<CopsResponder> StartAsync(CopsResponderOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.Uri.StartsWith('/') || options.Uri.TrimEnd('/').Length < 2)
            throw new ArgumentException($"COPS uri must start with '/' and name something (e.g. /site): got '{options.Uri}'", nameof(options));
        if (options.Mqtt is null && options.HttpPort is null)
            throw new ArgumentException("give Mqtt, HttpPort or both", nameof(options));
        var r = new CopsResponder(options);
        try
        {
            if (options.HttpPort is { } port)
            {
                r._http = new TcpListener(options.HttpAddress, port);
                r._http.Start();
                r._serving = r.ServeHttpAsync(r._http, r._stop.Token);
            }
            if (options.Mqtt is { } broker)
            {
                r._mqtt = await broker.ConnectAsync("vigil-cops", ct).ConfigureAwait(false);
                r._mqtt.ApplicationMessageReceivedAsync += r.OnMqtt;
                await r._mqtt.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                    .WithTopicFilter($"{r._topic}/cops", MqttQualityOfServiceLevel.AtLeastOnce)
                    .WithTopicFilter($"{r._topic}/cops/cops_heartbeat", MqttQualityOfServiceLevel.AtLeastOnce).Build(), ct).ConfigureAwait(false);
            }
            return r;
        }
        catch
        {
            await r.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stores a SET's counter: decimal digits only; false for anything else.</summary>
    private bool Set(ReadOnlySpan<byte> text)
    {
        text = text.Trim(" \t\r\n"u8);
        if (text.Length is 0 or > 16) return false;
        long n = 0;
        foreach (var b in text)
        {
            if (b is < (byte)'0' or > (byte)'9') return false;
            n = n * 10 + (b - '0');
        }
        Interlocked.Exchange(ref _counter, n);
        return true;
    }

    /// <summary>The GET's answer, or null before the first SET.</summary>
    private byte[]? Reply()
    {
        if (Counter is not { } n) return null;
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteNumber("cops_heartbeat", n);
            w.WriteNumber("pid", Environment.ProcessId);
            if (_options.VersionTag is { } tag) w.WriteString("version_tag", tag);
            w.WriteEndObject();
        }
        return ms.ToArray();
    }

    private Task OnMqtt(MqttApplicationMessageReceivedEventArgs e)
    {
        var m = e.ApplicationMessage;
        var payload = System.Buffers.BuffersExtensions.ToArray(m.Payload);
        if (m.Topic == $"{_topic}/cops/cops_heartbeat") Set(payload);
        else if (m.Topic == $"{_topic}/cops" && ReplyTo(payload) is { } replyTo && Reply() is { } reply && _mqtt is { } client)
            // Off MQTTnet's receive loop: a QoS 1 publish waits for its PUBACK, which that loop delivers.
            _ = Task.Run(async () =>
            {
                try { await BrokerOptions.PublishAsync(client, replyTo, reply, _stop.Token).ConfigureAwait(false); }
                catch (Exception) when (_stop.IsCancellationRequested || !client.IsConnected) { }
            });
        return Task.CompletedTask;
    }

    /// <summary>The GET payload's <c>replyTo</c> topic, or null when it is not Vigil's GET.</summary>
    private static string? ReplyTo(byte[] payload)
    {
        try
        {
            using var doc = JsonDocument.Parse(payload);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("replyTo", out var t)
                && t.ValueKind == JsonValueKind.String && t.GetString() is { Length: > 0 } s && !s.Contains('+') && !s.Contains('#') ? s : null;
        }
        catch (JsonException) { return null; }
    }

    // ---- HTTP: one request per connection (Connection: close), bounded; PUT URI/cops/cops_heartbeat and GET URI/cops.

    private async Task ServeHttpAsync(TcpListener listener, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await listener.AcceptTcpClientAsync(stop).ConfigureAwait(false); }
            catch (Exception) when (stop.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            _ = Task.Run(() => AnswerAsync(client, stop));
        }
    }

    private async Task AnswerAsync(TcpClient client, CancellationToken stop)
    {
        using var _ = client;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(TimeSpan.FromSeconds(10)); // a client that never finishes its request is dropped
        try
        {
            var stream = client.GetStream();
            var (method, path, body) = await ReadRequestAsync(stream, timeout.Token).ConfigureAwait(false);
            (int status, string reason, byte[] content) = (method, path) switch
            {
                (null, _) => (400, "Bad Request", []),
                ("PUT", var p) when p == $"{_base}/cops/cops_heartbeat" => Set(body) ? (204, "No Content", []) : (400, "Bad Request", "expected the counter in decimal"u8.ToArray()),
                ("GET", var p) when p == $"{_base}/cops" => Reply() is { } reply ? (200, "OK", reply) : (409, "Conflict", "no heartbeat set yet"u8.ToArray()),
                _ => (404, "Not Found", []),
            };
            var type = status == 200 ? "application/json" : "text/plain";
            var head = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {reason}\r\nContent-Type: {type}\r\nContent-Length: {content.Length}\r\nConnection: close\r\n\r\n");
            await stream.WriteAsync(head, timeout.Token).ConfigureAwait(false);
            if (content.Length > 0) await stream.WriteAsync(content, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException) { }
    }

    /// <summary>The request line's method and path and the body (at most <see cref="MaxBody"/> bytes); method null when
    /// it is not a request we can read.</summary>
    private static async Task<(string? Method, string Path, byte[] Body)> ReadRequestAsync(NetworkStream stream, CancellationToken ct)
    {
        var buf = new byte[MaxHeader + MaxBody];
        int have = 0, headerEnd;
        while ((headerEnd = buf.AsSpan(0, have).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (have >= MaxHeader) return (null, "", []);
            int n = await stream.ReadAsync(buf.AsMemory(have, MaxHeader - have), ct).ConfigureAwait(false);
            if (n == 0) return (null, "", []);
            have += n;
        }
        var head = Encoding.ASCII.GetString(buf, 0, headerEnd).Split("\r\n");
        var first = head[0].Split(' ');
        if (first.Length != 3) return (null, "", []);
        int length = 0;
        foreach (var h in head.Skip(1))
            if (h.StartsWith("content-length:", StringComparison.OrdinalIgnoreCase) && !int.TryParse(h.AsSpan(15).Trim(), out length)) return (null, "", []);
        if (length is < 0 or > MaxBody) return (null, "", []);
        int bodyStart = headerEnd + 4;
        while (have - bodyStart < length)
        {
            int n = await stream.ReadAsync(buf.AsMemory(have, bodyStart + length - have), ct).ConfigureAwait(false);
            if (n == 0) return (null, "", []);
            have += n;
        }
        return (first[0], first[1].Split('?')[0], buf[bodyStart..(bodyStart + length)]);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _http?.Stop();
        await _serving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_mqtt is { } client)
        {
            if (client.IsConnected)
            {
                try { await client.DisconnectAsync().ConfigureAwait(false); }
                catch (Exception) { } // already gone
            }
            client.Dispose();
        }
        _stop.Dispose();
    }
}
