using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading.Channels;

namespace Vigil.Tether.Mqtt;

// Overview
//
// ConnectAsync opens the first connection (TCP, optional TLS, CONNECT, CONNACK) and hands it to RunAsync, the one
// loop that owns connections for the client's life. For each connection ServeAsync starts two tasks, a reader
// (packet in -> handler, strict parsing) and a keepalive (PINGREQ every KeepAlive, dead when PINGRESP does not come
// within PingTimeout), then renews the session: one SUBSCRIBE with every filter (awaiting its SUBACK), and only then
// goes online and resends every QoS 1 PUBLISH still waiting for PUBACK (DUP set when it had gone out before). When
// either task ends (socket closed, malformed packet, missing PINGRESP, write failure) the connection is aborted and
// torn down, a Disconnected event says why, and RunAsync reconnects after a doubling backoff on the TimeProvider,
// forever, until DisposeAsync sends DISCONNECT, cancels the loop and waits for it.
//
// Session state (subscriptions, QoS 1 in flight, QoS 2 ids between PUBREC and PUBREL, pending SUBSCRIBE and
// UNSUBSCRIBE requests) lives in the client under one lock and outlives connections; a connection holds only its
// stream and a write lock, so callers on any thread can publish while the reader acknowledges. No call blocks a
// thread: every wait is async and bounded by a connection's abort token, a caller's token or a timeout.

/// <summary>
/// An MQTT 3.1.1 client that stays connected: it reconnects with backoff, renews subscriptions and resends
/// unacknowledged QoS 1 messages. Received messages arrive on <see cref="Messages"/>.
/// </summary>
public sealed class MqttClient : IAsyncDisposable
{
    readonly MqttClientOptions _options;
    readonly TimeProvider _time;
    readonly Channel<MqttMessage> _messages = Channel.CreateUnbounded<MqttMessage>();
    readonly CancellationTokenSource _stop = new();
    readonly object _gate = new();

    // Guarded by _gate.
    Connection? _connection;
    TaskCompletionSource<Connection> _online = NewOnline();
    readonly Dictionary<string, MqttQos> _subscriptions = [];
    readonly Dictionary<ushort, Outgoing> _inflight = [];
    readonly Dictionary<ushort, (PacketType Expected, TaskCompletionSource<Packet> Answer)> _requests = [];
    readonly HashSet<ushort> _qos2Received = [];
    ushort _lastId;
    long _sequence;
    Task? _loop;
    bool _disposed;

    /// <summary>Creates a client; nothing happens on the network until <see cref="ConnectAsync"/>.</summary>
    /// <exception cref="ArgumentException">The options are invalid; the message names the option.</exception>
    public MqttClient(MqttClientOptions options)
    {
        options.Validate();
        _options = options;
        _time = options.TimeProvider;
    }

    /// <summary>The options the client was made with.</summary>
    public MqttClientOptions Options => _options;

    /// <summary>Messages from the broker for this client's subscriptions, in arrival order; completes on dispose.</summary>
    public ChannelReader<MqttMessage> Messages => _messages.Reader;

    /// <summary>Connected, disconnected (with the reason), reconnect failures; raised on the client's loop.</summary>
    public event Action<MqttClientEvent>? Events;

    /// <summary>Raised after each keepalive PINGRESP (for tests and diagnostics).</summary>
    internal event Action? PingAnswered;

    /// <summary>Whether a connection is up and its session renewed.</summary>
    public bool IsConnected { get { lock (_gate) return _connection is not null; } }

    /// <summary>
    /// Connects for the first time and starts the loop that keeps the client connected. Throws a clear
    /// <see cref="MqttException"/> when the broker cannot be reached, refuses (<see cref="MqttConnectException"/>),
    /// sends a malformed answer (<see cref="MqttProtocolException"/>) or does not answer within ConnectTimeout; the
    /// client may then be connected again.
    /// </summary>
    public async Task ConnectAsync(CancellationToken ct = default)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_loop is not null) throw new InvalidOperationException("ConnectAsync was already called; the client reconnects by itself");
            _loop = Task.CompletedTask; // claims the client while connecting
        }
        Connection conn;
        try { conn = await OpenAsync(ct); }
        catch { lock (_gate) _loop = null; throw; }
        var loop = RunAsync(conn);
        lock (_gate) _loop = loop;
        try { await conn.Ready.Task.WaitAsync(ct); }
        catch (Exception) when (!ct.IsCancellationRequested) { /* lost right after CONNACK: the loop reconnects, as after any loss */ }
    }

    /// <summary>
    /// Publishes a message. QoS 0 is sent once if connected and dropped while offline (at most once). QoS 1
    /// completes when the broker's PUBACK arrives; while offline it is queued, and a message not acknowledged is
    /// resent (with DUP) after every reconnect until it is. Cancelling <paramref name="ct"/> stops the wait, not the
    /// delivery of a message already sent.
    /// </summary>
    public async Task PublishAsync(string topic, ReadOnlyMemory<byte> payload, MqttQos qos = MqttQos.AtLeastOnce, bool retain = false, CancellationToken ct = default)
    {
        if (MqttTopic.CheckName(topic) is { } error) throw new ArgumentException(error, nameof(topic));
        if (qos is not (MqttQos.AtMostOnce or MqttQos.AtLeastOnce)) throw new NotSupportedException("this client publishes at QoS 0 or 1");
        if (payload.Length > 268_435_455 - 4 - topic.Length * 3) throw new ArgumentException("payload too large for one MQTT packet", nameof(payload));
        Connection? conn;
        if (qos == MqttQos.AtMostOnce)
        {
            lock (_gate) { ObjectDisposedException.ThrowIf(_disposed, this); conn = _connection; }
            if (conn is null) return;
            try { await conn.SendAsync(PacketWriter.Publish(topic, payload.Span, qos, retain, dup: false, 0), ct); }
            catch (MqttException) { /* lost with the connection: at most once */ }
            return;
        }

        var message = new Outgoing(topic, payload.ToArray(), retain);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            message.Id = NextId();
            message.Sequence = ++_sequence;
            _inflight[message.Id] = message;
            conn = _connection;
            message.Sent = conn is not null;
        }
        if (conn is not null)
        {
            try { await conn.SendAsync(PacketWriter.Publish(topic, message.Payload, qos, retain, dup: false, message.Id), ct); }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                lock (_gate) _inflight.Remove(message.Id); // cancelled before a byte went out
                throw;
            }
            catch (MqttException) { /* connection lost: stays in flight and is resent after the reconnect */ }
        }
        await message.Done.Task.WaitAsync(ct);
    }

    /// <summary>
    /// Subscribes to a topic filter (<c>+</c> and <c>#</c> allowed) and returns the QoS the broker granted. The filter
    /// is renewed after every reconnect. While offline this waits for the connection. Throws
    /// <see cref="MqttSubscriptionRefusedException"/> when the broker refuses (SUBACK 0x80) and
    /// <see cref="MqttRequestTimeoutException"/> when it does not answer within RequestTimeout; either way the filter
    /// is not kept, and the caller may try again.
    /// </summary>
    public async Task<MqttQos> SubscribeAsync(string filter, MqttQos maxQos = MqttQos.AtLeastOnce, CancellationToken ct = default)
    {
        if (MqttTopic.CheckFilter(filter) is { } error) throw new ArgumentException(error, nameof(filter));
        if (maxQos > MqttQos.ExactlyOnce) throw new ArgumentOutOfRangeException(nameof(maxQos));
        lock (_gate) _subscriptions[filter] = maxQos; // first, so a reconnect meanwhile renews it too
        SubAckPacket ack;
        try { ack = (SubAckPacket)await RequestOnlineAsync(PacketType.SubAck, $"the subscription to {filter}", id => PacketWriter.Subscribe(id, [new(filter, maxQos)]), ct); }
        catch (MqttRequestTimeoutException)
        {
            lock (_gate) _subscriptions.Remove(filter); // a failed call leaves nothing behind for a reconnect to renew
            throw;
        }
        if (ack.ReturnCodes[0] == 0x80)
        {
            lock (_gate) _subscriptions.Remove(filter);
            throw new MqttSubscriptionRefusedException(filter, _options.Endpoint);
        }
        return (MqttQos)ack.ReturnCodes[0];
    }

    /// <summary>Unsubscribes from a filter given to <see cref="SubscribeAsync"/>; while offline this waits for the connection.</summary>
    public async Task UnsubscribeAsync(string filter, CancellationToken ct = default)
    {
        if (MqttTopic.CheckFilter(filter) is { } error) throw new ArgumentException(error, nameof(filter));
        lock (_gate) _subscriptions.Remove(filter);
        await RequestOnlineAsync(PacketType.UnsubAck, $"unsubscribing from {filter}", id => PacketWriter.Unsubscribe(id, filter), ct);
    }

    /// <summary>Sends DISCONNECT (bounded), stops reconnecting, fails unacknowledged publishes and completes <see cref="Messages"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        Connection? conn;
        Task? loop;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            conn = _connection;
            loop = _loop;
        }
        if (conn is not null)
        {
            // DISCONNECT (§3.14) makes this a clean close; bounded so a stuck socket cannot hold up disposal.
            try { await conn.SendAsync(PacketWriter.Disconnect).WaitAsync(TimeSpan.FromSeconds(2), _time); }
            catch (Exception) { /* the connection is going away either way */ }
        }
        _stop.Cancel();
        conn?.Abort();
        if (loop is not null) await loop; // RunAsync handles its own exceptions
        var closed = new ObjectDisposedException(nameof(MqttClient), "the MQTT client was disposed");
        lock (_gate)
        {
            foreach (var m in _inflight.Values) m.Done.TrySetException(new MqttException("the client was disposed before the broker acknowledged the message", closed));
            _inflight.Clear();
            _online.TrySetException(closed);
        }
        _messages.Writer.TryComplete();
    }

    async Task RunAsync(Connection conn)
    {
        while (true)
        {
            var error = await ServeAsync(conn);
            if (_stop.IsCancellationRequested)
            {
                Raise(MqttEventKind.Disconnected, $"disconnected from {_options.Endpoint} (client disposed)");
                return;
            }
            Raise(MqttEventKind.Disconnected, $"lost the connection to {_options.Endpoint}: {error.Message}", error);
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    await Task.Delay(_options.ReconnectDelayFor(attempt), _time, _stop.Token);
                    conn = await OpenAsync(_stop.Token);
                    break;
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested) { return; }
                catch (Exception ex)
                {
                    Raise(MqttEventKind.ReconnectFailed, $"reconnect attempt {attempt + 1} to {_options.Endpoint} failed: {ex.Message}", ex);
                }
            }
        }
    }

    /// <summary>Runs one connection until it ends; returns why.</summary>
    async Task<Exception> ServeAsync(Connection conn)
    {
        // Both loops start before any await here, so keepalive is armed by the time ConnectAsync returns.
        var reader = ReadLoopAsync(conn);
        var keepAlive = KeepAliveLoopAsync(conn);
        Exception error;
        bool renewed = false;
        try
        {
            await RenewSessionAsync(conn);
            renewed = conn.Ready.TrySetResult();
            Raise(MqttEventKind.Connected, $"connected to {_options.Endpoint} as '{_options.ClientId}'");
            await await Task.WhenAny(reader, keepAlive);
            error = new MqttException("the connection ended"); // not reached: both loops end only by throwing
        }
        catch (Exception ex) { error = ex; }
        lock (_gate)
        {
            if (_connection == conn)
            {
                _connection = null;
                _online = NewOnline();
            }
        }
        conn.Abort();
        await Task.WhenAll(reader, keepAlive).ContinueWith(static _ => { }, TaskScheduler.Default); // both end once aborted
        await conn.DisposeAsync();
        // The loop that failed (faulted, not cancelled) holds the reason; the rest only saw the abort it caused. A
        // renewal the broker left unanswered is its own reason: the loops only saw the abort that followed it.
        if (error is OperationCanceledException || (!renewed && error is not MqttRequestTimeoutException))
            error = (reader.Exception ?? keepAlive.Exception)?.InnerException ?? error;
        conn.Ready.TrySetException(error);
        return error;
    }

    /// <summary>Resubscribes every filter, then goes online and resends QoS 1 messages in the order they were published.</summary>
    async Task RenewSessionAsync(Connection conn)
    {
        KeyValuePair<string, MqttQos>[] filters;
        lock (_gate) filters = [.. _subscriptions];
        if (filters.Length > 0)
        {
            // A renewal not answered within RequestTimeout throws: this connection is dropped and the loop reconnects.
            var what = $"renewing the subscription(s) to {string.Join(", ", filters.Select(f => f.Key))}";
            var ack = (SubAckPacket)await RequestAsync(conn, PacketType.SubAck, what, id => PacketWriter.Subscribe(id, filters), default);
            for (int i = 0; i < filters.Length; i++)
            {
                if (i < ack.ReturnCodes.Length && ack.ReturnCodes[i] != 0x80) continue;
                lock (_gate) _subscriptions.Remove(filters[i].Key);
                var refused = new MqttSubscriptionRefusedException(filters[i].Key, _options.Endpoint);
                Raise(MqttEventKind.SubscriptionRefused, refused.Message + " (after a reconnect; the subscription is dropped)", refused);
            }
        }
        List<(Outgoing Message, bool Dup)> resend;
        lock (_gate)
        {
            if (_disposed) throw new OperationCanceledException();
            resend = [.. _inflight.Values.OrderBy(m => m.Sequence).Select(m => (m, m.Sent))];
            foreach (var (m, _) in resend) m.Sent = true;
            _connection = conn;
            _online.TrySetResult(conn);
        }
        foreach (var (m, dup) in resend)
            await conn.SendAsync(PacketWriter.Publish(m.Topic, m.Payload, MqttQos.AtLeastOnce, m.Retain, dup, m.Id));
    }

    async Task ReadLoopAsync(Connection conn)
    {
        try
        {
            while (true)
                await HandleAsync(conn, await PacketReader.ReadAsync(conn.Stream, _options.MaxPacketSize, conn.Aborted));
        }
        finally { conn.Abort(); }
    }

    async Task HandleAsync(Connection conn, Packet packet)
    {
        switch (packet)
        {
            case PublishPacket p:
                bool fresh = true;
                if (p.Qos == MqttQos.ExactlyOnce) lock (_gate) fresh = _qos2Received.Add(p.PacketId); // a DUP before PUBREL is not delivered twice
                if (fresh) _messages.Writer.TryWrite(new MqttMessage(p.Topic, p.Payload, p.Qos, p.Retain, p.Duplicate));
                if (p.Qos == MqttQos.AtLeastOnce) await conn.SendAsync(PacketWriter.Ack(PacketType.PubAck, p.PacketId));
                else if (p.Qos == MqttQos.ExactlyOnce) await conn.SendAsync(PacketWriter.Ack(PacketType.PubRec, p.PacketId));
                break;
            case AckPacket { Kind: PacketType.PubRel } a:
                lock (_gate) _qos2Received.Remove(a.PacketId);
                await conn.SendAsync(PacketWriter.Ack(PacketType.PubComp, a.PacketId));
                break;
            case AckPacket { Kind: PacketType.PubAck } a:
                Outgoing? acked;
                lock (_gate) _inflight.Remove(a.PacketId, out acked);
                acked?.Done.TrySetResult(); // an unknown id is a late duplicate ack: ignored
                break;
            case AckPacket { Kind: PacketType.PubRec or PacketType.PubComp } a:
                throw new MqttProtocolException($"{a.Kind} for packet {a.PacketId}, but this client never publishes at QoS 2");
            case AckPacket or SubAckPacket:
                ushort id = packet is AckPacket u ? u.PacketId : ((SubAckPacket)packet).PacketId;
                (PacketType Expected, TaskCompletionSource<Packet> Answer) request;
                bool pending;
                lock (_gate) pending = _requests.TryGetValue(id, out request);
                if (!pending)
                {
                    // The asker gave up (cancelled, timed out) before the answer came, or the broker answered with
                    // another packet id: ignored, but noted so a request that times out can say what came instead.
                    conn.NoteStray($"{packet.Type} for packet {id}");
                    break;
                }
                if (request.Expected != packet.Type)
                    throw new MqttProtocolException($"{packet.Type} for packet {id}, which was answered by {request.Expected}");
                request.Answer.TrySetResult(packet);
                break;
            case PingRespPacket:
                conn.PongReceived();
                break;
            default:
                throw new MqttProtocolException($"unexpected {packet.Type} after the connection was accepted");
        }
    }

    async Task KeepAliveLoopAsync(Connection conn)
    {
        try
        {
            if (_options.KeepAlive == TimeSpan.Zero) await Task.Delay(Timeout.InfiniteTimeSpan, _time, conn.Aborted);
            var tick = Task.Delay(_options.KeepAlive, _time, conn.Aborted);
            while (true)
            {
                await tick;
                using var timerCts = CancellationTokenSource.CreateLinkedTokenSource(conn.Aborted);
                var timeout = Task.Delay(_options.PingTimeout, _time, timerCts.Token); // armed before PINGREQ goes out
                var exchange = Task.WhenAll(conn.ExpectPong(), conn.SendAsync(PacketWriter.PingReq));
                if (await Task.WhenAny(exchange, timeout) != exchange)
                {
                    conn.Aborted.ThrowIfCancellationRequested();
                    throw new MqttException($"no PINGRESP within {_options.PingTimeout.TotalSeconds:0.###} s: the connection is dead");
                }
                timerCts.Cancel();
                await exchange;
                tick = Task.Delay(_options.KeepAlive, _time, conn.Aborted); // armed before anyone hears of this ping
                PingAnswered?.Invoke();
            }
        }
        finally { conn.Abort(); }
    }

    /// <summary>TCP connect, TLS, CONNECT and CONNACK, all within ConnectTimeout; failures become clear <see cref="MqttException"/>s.</summary>
    async Task<Connection> OpenAsync(CancellationToken ct)
    {
        var endpoint = _options.Endpoint;
        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token, _stop.Token);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            await socket.ConnectAsync(_options.Host, _options.Port, linked.Token);
            stream = new NetworkStream(socket, ownsSocket: true);
            if (_options.Tls is { } tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(WithTargetHost(tls), linked.Token);
            }
            await stream.WriteAsync(PacketWriter.Connect(_options), linked.Token);
            var packet = await PacketReader.ReadAsync(stream, _options.MaxPacketSize, linked.Token);
            if (packet is not ConnAckPacket ack) throw new MqttProtocolException($"expected CONNACK, got {packet.Type}");
            if (ack.ReturnCode != MqttConnectReturnCode.Accepted) throw new MqttConnectException(ack.ReturnCode, endpoint);
            if (!ack.SessionPresent) lock (_gate) _qos2Received.Clear(); // a new session forgets half-done QoS 2 exchanges
            return new Connection(stream);
        }
        catch (Exception ex)
        {
            if (stream is not null) await stream.DisposeAsync(); else socket.Dispose();
            throw ex switch
            {
                OperationCanceledException when timeout.IsCancellationRequested && !ct.IsCancellationRequested && !_stop.IsCancellationRequested =>
                    new MqttException($"connecting to {endpoint} timed out after {_options.ConnectTimeout.TotalSeconds:0.###} s (no CONNACK)", ex),
                SocketException se => new MqttException($"cannot connect to {endpoint}: {se.Message}", se),
                AuthenticationException => new MqttException($"TLS handshake with {endpoint} failed: {ex.Message}", ex),
                IOException => new MqttException($"connection to {endpoint} failed: {ex.Message}", ex),
                _ => ex,
            };
        }
    }

    SslClientAuthenticationOptions WithTargetHost(SslClientAuthenticationOptions tls) => tls.TargetHost is not null ? tls : new()
    {
        TargetHost = _options.Host,
        RemoteCertificateValidationCallback = tls.RemoteCertificateValidationCallback,
        CertificateChainPolicy = tls.CertificateChainPolicy,
        ClientCertificates = tls.ClientCertificates,
        ClientCertificateContext = tls.ClientCertificateContext,
        EnabledSslProtocols = tls.EnabledSslProtocols,
        CertificateRevocationCheckMode = tls.CertificateRevocationCheckMode,
    };

    /// <summary>Sends a SUBSCRIBE or UNSUBSCRIBE on the live connection and awaits its answer, retrying on the next connection when one is lost.</summary>
    async Task<Packet> RequestOnlineAsync(PacketType answer, string what, Func<ushort, byte[]> build, CancellationToken ct)
    {
        while (true)
        {
            Task<Connection> online;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                online = _online.Task;
            }
            var conn = await online.WaitAsync(ct);
            try { return await RequestAsync(conn, answer, what, build, ct); }
            catch (MqttException) when (conn.Aborted.IsCancellationRequested) { await conn.Closed.WaitAsync(ct); }
        }
    }

    /// <summary>Sends one request and awaits its answer for at most RequestTimeout; <paramref name="what"/> names it in errors.</summary>
    async Task<Packet> RequestAsync(Connection conn, PacketType answer, string what, Func<ushort, byte[]> build, CancellationToken ct)
    {
        var reply = new TaskCompletionSource<Packet>(TaskCreationOptions.RunContinuationsAsynchronously);
        ushort id;
        lock (_gate)
        {
            id = NextId();
            _requests[id] = (answer, reply);
        }
        // Armed before the request goes out, so the deadline exists by the time the broker can see the packet.
        using var timeout = new CancellationTokenSource(_options.RequestTimeout, _time);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct, conn.Aborted, timeout.Token);
        int straysBefore = conn.Strays;
        try
        {
            await conn.SendAsync(build(id), ct);
            try { return await reply.Task.WaitAsync(wait.Token); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                if (conn.Aborted.IsCancellationRequested) throw new MqttException($"the connection was lost before the broker's {answer}");
                var instead = conn.Strays != straysBefore && conn.LastStray is { } stray ? $"; it sent {stray} instead, which answers no request" : "";
                throw new MqttRequestTimeoutException(
                    $"no {answer} from {_options.Endpoint} within {_options.RequestTimeout.TotalSeconds:0.###} s for {what} (packet {id}){instead}");
            }
        }
        finally { lock (_gate) _requests.Remove(id); }
    }

    /// <summary>A packet identifier not used by any message in flight or request pending (§2.3.1). Caller holds _gate.</summary>
    ushort NextId()
    {
        for (int tries = 0; tries < ushort.MaxValue; tries++)
        {
            _lastId = _lastId == ushort.MaxValue ? (ushort)1 : (ushort)(_lastId + 1);
            if (!_inflight.ContainsKey(_lastId) && !_requests.ContainsKey(_lastId)) return _lastId;
        }
        throw new InvalidOperationException("65535 MQTT messages are in flight; wait for some to be acknowledged");
    }

    void Raise(MqttEventKind kind, string message, Exception? error = null)
    {
        try { Events?.Invoke(new MqttClientEvent(kind, message, error)); }
        catch (Exception) { /* a throwing handler must not stop the connection loop */ }
    }

    static TaskCompletionSource<Connection> NewOnline() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A QoS 1 message waiting for its PUBACK.</summary>
    sealed class Outgoing(string topic, byte[] payload, bool retain)
    {
        public string Topic { get; } = topic;
        public byte[] Payload { get; } = payload;
        public bool Retain { get; } = retain;
        public ushort Id { get; set; }
        public long Sequence { get; set; }
        /// <summary>Went out at least once, so a resend carries DUP (§3.3.1.1). Guarded by the client's lock.</summary>
        public bool Sent { get; set; }
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
