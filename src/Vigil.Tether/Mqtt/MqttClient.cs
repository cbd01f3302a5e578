using System.Threading.Channels;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Vigil.Tether.Mqtt;

// Overview
//
// A small seam over MQTTnet's IMqttClient, which speaks the protocol (TCP, TLS, WebSocket; MQTT 3.1.1 and 5; keepalive
// and PINGRESP timeouts; QoS 1 and 2 acknowledgements) but neither reconnects nor remembers subscriptions across
// connections. This class adds what Vigil's callers rely on:
//
// - Staying connected: ConnectAsync makes the first connection (its failure is the caller's, with a clear message);
//   after that RunAsync waits for MQTTnet's Disconnected event and reconnects after a doubling backoff on the
//   TimeProvider, forever, until DisposeAsync. Each new connection renews every subscription (one SUBSCRIBE, its
//   SUBACK awaited within RequestTimeout, else the connection is dropped and made again) before the client counts as
//   online; a filter the broker refuses then is dropped with a SubscriptionRefused event.
// - SUBACK handling (issue 6): a refused subscription (return code 0x80, or an MQTT 5 reason code ≥ 0x80) is a
//   MqttSubscriptionRefusedException naming the filter, and a SUBACK that does not come within RequestTimeout is a
//   MqttRequestTimeoutException; either way the filter is not kept.
// - QoS 1 publishes wait while offline and are published again after a reconnect until the broker acknowledges one
//   (at least once, as the JS agent's mqtt.js); QoS 0 is dropped while offline.
// - Bounded memory under a flood: MQTTnet hands each PUBLISH to the ApplicationMessageReceived handler from a queue
//   its reader fills. The handler here only copies the message into a bounded channel (MaxQueuedMessages) and
//   returns, so MQTTnet's queue drains as fast as the socket fills it; when the reader of Messages falls behind, new
//   messages are dropped and counted (DroppedMessages, a MessagesDropped event per streak) instead of queued. QoS 1
//   deliveries are further paced by the broker, which waits for PUBACKs beyond its in-flight window.

/// <summary>
/// An MQTT client that stays connected: it reconnects with backoff, renews subscriptions and publishes unacknowledged
/// QoS 1 messages again. Received messages arrive on <see cref="Messages"/>.
/// </summary>
public sealed class MqttClient : IAsyncDisposable
{
    readonly MqttClientOptions _options;
    readonly TimeProvider _time;
    readonly MqttTls? _tls;
    readonly IMqttClient _client;
    readonly Channel<MqttMessage> _messages;
    readonly CancellationTokenSource _stop = new();
    readonly object _gate = new();

    // Guarded by _gate.
    readonly Dictionary<string, MqttQos> _subscriptions = [];
    TaskCompletionSource _online = NewOnline();
    TaskCompletionSource _lost = NewOnline();
    bool _connected;
    Task? _loop;
    bool _disposed;

    long _dropped;
    int _dropping;

    /// <summary>Creates a client; nothing happens on the network until <see cref="ConnectAsync"/>.</summary>
    /// <exception cref="ArgumentException">The options are invalid; the message names the option.</exception>
    public MqttClient(MqttClientOptions options)
    {
        options.Validate();
        _options = options;
        _time = options.TimeProvider;
        _tls = options.UsesTls ? new MqttTls(options) : null;
        _messages = Channel.CreateBounded<MqttMessage>(
            new BoundedChannelOptions(options.MaxQueuedMessages) { FullMode = BoundedChannelFullMode.DropWrite, SingleWriter = true },
            OnDropped);
        _client = new MqttClientFactory().CreateMqttClient();
        _client.ApplicationMessageReceivedAsync += OnMessage;
        _client.DisconnectedAsync += OnDisconnected;
    }

    /// <summary>The options the client was made with.</summary>
    public MqttClientOptions Options => _options;

    /// <summary>Messages from the broker for this client's subscriptions, in arrival order; completes on dispose.</summary>
    public ChannelReader<MqttMessage> Messages => _messages.Reader;

    /// <summary>Received messages dropped because <see cref="Messages"/> held <see cref="MqttClientOptions.MaxQueuedMessages"/> unread.</summary>
    public long DroppedMessages => Interlocked.Read(ref _dropped);

    /// <summary>Connected, disconnected (with the reason), reconnect failures, refused renewals, dropped messages;
    /// raised on the client's threads; handlers must return quickly.</summary>
    public event Action<MqttClientEvent>? Events;

    /// <summary>Whether a connection is up and its session renewed.</summary>
    public bool IsConnected { get { lock (_gate) return _connected; } }

    /// <summary>
    /// Connects for the first time and starts the loop that keeps the client connected. Throws a clear
    /// <see cref="MqttException"/> when the broker cannot be reached, refuses (<see cref="MqttConnectException"/>),
    /// rejects or presents a bad certificate, or does not answer within ConnectTimeout; the client may then be
    /// connected again.
    /// </summary>
    public async Task ConnectAsync(CancellationToken ct = default)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_loop is not null) throw new InvalidOperationException("ConnectAsync was already called; the client reconnects by itself");
            _loop = Task.CompletedTask; // claims the client while connecting
        }
        try { await OpenAsync(ct).ConfigureAwait(false); }
        catch { lock (_gate) _loop = null; throw; }
        var loop = RunAsync();
        lock (_gate) _loop = loop;
    }

    /// <summary>
    /// Publishes a message. QoS 0 is sent once if connected and dropped while offline (at most once). QoS 1 completes
    /// when the broker's PUBACK arrives; while offline it waits for the connection, and one not acknowledged when the
    /// connection is lost is published again after the reconnect. Cancelling <paramref name="ct"/> stops the wait.
    /// </summary>
    public async Task PublishAsync(string topic, ReadOnlyMemory<byte> payload, MqttQos qos = MqttQos.AtLeastOnce, bool retain = false, CancellationToken ct = default)
    {
        if (MqttTopic.CheckName(topic) is { } error) throw new ArgumentException(error, nameof(topic));
        if (qos is not (MqttQos.AtMostOnce or MqttQos.AtLeastOnce)) throw new NotSupportedException("this client publishes at QoS 0 or 1");
        if (payload.Length > 268_435_455 - 4 - topic.Length * 3) throw new ArgumentException("payload too large for one MQTT packet", nameof(payload));
        var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload.ToArray())
            .WithQualityOfServiceLevel((MqttQualityOfServiceLevel)qos).WithRetainFlag(retain).Build();
        if (qos == MqttQos.AtMostOnce)
        {
            lock (_gate) { ObjectDisposedException.ThrowIf(_disposed, this); if (!_connected) return; }
            try { await _client.PublishAsync(message, ct).ConfigureAwait(false); }
            catch (MqttCommunicationException) { /* lost with the connection: at most once */ }
            return;
        }
        while (true)
        {
            await WaitOnlineAsync(ct).ConfigureAwait(false);
            MqttClientPublishResult result;
            try { result = await _client.PublishAsync(message, ct).ConfigureAwait(false); }
            catch (MqttCommunicationException) when (!ct.IsCancellationRequested)
            {
                await WaitLostAsync(ct).ConfigureAwait(false); // the connection is going: publish again on the next one
                continue;
            }
            if (!result.IsSuccess)
                throw new MqttException($"the broker {_options.Endpoint} did not accept the message on {topic}: {result.ReasonCode} {result.ReasonString}".TrimEnd());
            return;
        }
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
        try
        {
            await WaitOnlineAsync(ct).ConfigureAwait(false);
            var codes = await SubscribeOnceAsync([new(filter, maxQos)], $"the subscription to {filter}", ct).ConfigureAwait(false);
            if (IsRefusal(codes[0])) throw new MqttSubscriptionRefusedException(filter, _options.Endpoint);
            return (MqttQos)codes[0];
        }
        catch
        {
            lock (_gate) _subscriptions.Remove(filter); // a failed call leaves nothing behind for a reconnect to renew
            throw;
        }
    }

    /// <summary>Unsubscribes from a filter given to <see cref="SubscribeAsync"/>; while offline this waits for the connection.</summary>
    public async Task UnsubscribeAsync(string filter, CancellationToken ct = default)
    {
        if (MqttTopic.CheckFilter(filter) is { } error) throw new ArgumentException(error, nameof(filter));
        lock (_gate) _subscriptions.Remove(filter);
        await WaitOnlineAsync(ct).ConfigureAwait(false);
        using var timeout = new CancellationTokenSource(_options.RequestTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
        try { await _client.UnsubscribeAsync(new MqttClientUnsubscribeOptionsBuilder().WithTopicFilter(filter).Build(), linked.Token).ConfigureAwait(false); }
        catch (Exception) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new MqttRequestTimeoutException($"no UNSUBACK from {_options.Endpoint} within {Seconds(_options.RequestTimeout)} s for unsubscribing from {filter}");
        }
        catch (MqttCommunicationException e) { throw new MqttException($"the connection to {_options.Endpoint} was lost before the broker's UNSUBACK: {e.Message}", e); }
    }

    /// <summary>Sends DISCONNECT (bounded), stops reconnecting, fails waiting publishes and completes <see cref="Messages"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        Task? loop;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            loop = _loop;
        }
        _stop.Cancel();
        if (loop is not null) await loop.ConfigureAwait(false); // RunAsync handles its own exceptions
        bool wasOnline;
        lock (_gate) wasOnline = _connected;
        if (_client.IsConnected)
        {
            // DISCONNECT makes this a clean close; bounded so a stuck socket cannot hold up disposal.
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(2), _time);
            try { await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build(), bound.Token).ConfigureAwait(false); }
            catch (Exception) { /* the connection is going away either way */ }
        }
        _client.Dispose();
        var closed = new ObjectDisposedException(nameof(MqttClient), "the MQTT client was disposed");
        lock (_gate)
        {
            _connected = false;
            _online.TrySetException(closed);
            _lost.TrySetResult();
        }
        _messages.Writer.TryComplete();
        // Raised here, not from MQTTnet's event, which comes later on another thread (or not at all once disposed).
        if (wasOnline) Raise(MqttEventKind.Disconnected, $"disconnected from {_options.Endpoint} (client disposed)");
    }

    /// <summary>Reconnects after every loss until disposed.</summary>
    async Task RunAsync()
    {
        while (true)
        {
            Task lost;
            lock (_gate) lost = _lost.Task;
            try { await lost.WaitAsync(_stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    await Task.Delay(_options.ReconnectDelayFor(attempt), _time, _stop.Token).ConfigureAwait(false);
                    await OpenAsync(_stop.Token).ConfigureAwait(false);
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

    /// <summary>One connection: connect within ConnectTimeout, renew the subscriptions, go online.</summary>
    async Task OpenAsync(CancellationToken ct)
    {
        if (_client.IsConnected) await DropAsync().ConfigureAwait(false); // a renewal failed on it: start over
        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
        MqttClientConnectResult result;
        try { result = await _client.ConnectAsync(BuildOptions(), linked.Token).ConfigureAwait(false); }
        // Our deadline passed: MQTTnet reports that as OperationCanceledException or wrapped in one of its own.
        catch (Exception) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new MqttException($"no answer from broker {_options.Endpoint} within {Seconds(_options.ConnectTimeout)} s (connect timeout)");
        }
        catch (MqttException) { throw; }
        catch (Exception e) when (e is MqttCommunicationException or MqttProtocolViolationException or IOException or System.Net.Sockets.SocketException)
        {
            throw new MqttException($"cannot connect to broker {_options.Endpoint}: {Describe(e)}", e);
        }
        if (result.ResultCode != MqttClientConnectResultCode.Success) throw Refused(result);

        KeyValuePair<string, MqttQos>[] filters;
        lock (_gate) filters = [.. _subscriptions];
        if (filters.Length > 0)
        {
            var what = $"renewing the subscription(s) to {string.Join(", ", filters.Select(f => f.Key))}";
            IReadOnlyList<int> codes;
            try { codes = await SubscribeOnceAsync(filters, what, ct).ConfigureAwait(false); }
            catch (MqttException) { await DropAsync().ConfigureAwait(false); throw; }
            for (int i = 0; i < filters.Length; i++)
            {
                if (i < codes.Count && !IsRefusal(codes[i])) continue;
                lock (_gate) _subscriptions.Remove(filters[i].Key);
                var refused = new MqttSubscriptionRefusedException(filters[i].Key, _options.Endpoint);
                Raise(MqttEventKind.SubscriptionRefused, refused.Message + " (after a reconnect; the subscription is dropped)", refused);
            }
        }
        lock (_gate)
        {
            if (_disposed) throw new OperationCanceledException();
            // Lost between CONNACK and here: MQTTnet's Disconnected event has already come and gone.
            if (!_client.IsConnected) throw new MqttException($"the connection to {_options.Endpoint} was lost right after it was made");
            _connected = true;
            _lost = NewOnline();
            _online.TrySetResult();
        }
        Raise(MqttEventKind.Connected, $"connected to {_options.Endpoint} as '{_options.ClientId}'" + (_options.ProtocolVersion == 5 ? " (MQTT 5)" : ""));
    }

    /// <summary>One SUBSCRIBE for <paramref name="filters"/>; the SUBACK's codes in order.</summary>
    async Task<IReadOnlyList<int>> SubscribeOnceAsync(IReadOnlyList<KeyValuePair<string, MqttQos>> filters, string what, CancellationToken ct)
    {
        var request = new MqttClientSubscribeOptionsBuilder();
        foreach (var (filter, qos) in filters) request.WithTopicFilter(filter, (MqttQualityOfServiceLevel)qos);
        using var timeout = new CancellationTokenSource(_options.RequestTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
        try
        {
            var result = await _client.SubscribeAsync(request.Build(), linked.Token).ConfigureAwait(false);
            return [.. result.Items.Select(item => (int)item.ResultCode)];
        }
        catch (Exception) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new MqttRequestTimeoutException($"no SUBACK from {_options.Endpoint} within {Seconds(_options.RequestTimeout)} s for {what}");
        }
        catch (MqttCommunicationException e) { throw new MqttException($"the connection to {_options.Endpoint} was lost before the broker's SUBACK for {what}: {e.Message}", e); }
    }

    /// <summary>SUBACK 0x80 (MQTT 3.1.1) or any MQTT 5 reason code from 0x80 up is a refusal.</summary>
    static bool IsRefusal(int code) => code >= 0x80;

    MqttConnectException Refused(MqttClientConnectResult result)
    {
        var reason = result.ResultCode switch
        {
            MqttClientConnectResultCode.UnsupportedProtocolVersion => $"unacceptable protocol version (the broker does not speak MQTT {(_options.ProtocolVersion == 5 ? "5" : "3.1.1")})",
            MqttClientConnectResultCode.ClientIdentifierNotValid => "identifier rejected (client id not allowed)",
            MqttClientConnectResultCode.ServerUnavailable => "server unavailable",
            MqttClientConnectResultCode.BadUserNameOrPassword => "bad user name or password",
            MqttClientConnectResultCode.NotAuthorized => "not authorised (check the username and password)",
            var other => other.ToString(),
        };
        if (!string.IsNullOrEmpty(result.ReasonString)) reason += $": {result.ReasonString}";
        // MQTTnet reports MQTT 5 reason codes; an MQTT 3.1.1 broker sent a return code (§3.2.2.3), told as such.
        int code = _options.ProtocolVersion == 5 ? (int)result.ResultCode : result.ResultCode switch
        {
            MqttClientConnectResultCode.UnsupportedProtocolVersion => 1,
            MqttClientConnectResultCode.ClientIdentifierNotValid => 2,
            MqttClientConnectResultCode.ServerUnavailable => 3,
            MqttClientConnectResultCode.BadUserNameOrPassword => 4,
            MqttClientConnectResultCode.NotAuthorized => 5,
            var other => (int)other,
        };
        return new MqttConnectException(reason, code, _options.Endpoint);
    }

    /// <summary>What went wrong, from the outermost message in: MQTTnet wraps the socket or TLS error, and a certificate
    /// this client rejected says why.</summary>
    string Describe(Exception e)
    {
        var messages = new List<string>();
        if (_tls?.LastRejection is { } rejected) messages.Add(rejected);
        for (var x = e; x is not null; x = x.InnerException)
            if (!string.IsNullOrWhiteSpace(x.Message) && !messages.Any(m => m.Contains(x.Message, StringComparison.Ordinal))) messages.Add(x.Message.Trim());
        return string.Join(": ", messages.Where(m => !m.StartsWith("Error while authenticating", StringComparison.Ordinal) || messages.Count == 1));
    }

    MQTTnet.MqttClientOptions BuildOptions()
    {
        var builder = new MqttClientOptionsBuilder()
            .WithClientId(_options.ClientId)
            .WithCleanSession(_options.CleanSession)
            .WithKeepAlivePeriod(_options.KeepAlive)
            .WithTimeout(_options.PingTimeout) // MQTTnet's wait for PINGRESP; connect and requests get their own tokens
            .WithProtocolVersion(_options.ProtocolVersion == 5 ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311);
        if (_options.Username is not null) builder.WithCredentials(_options.Username, _options.Password);
        if (_options.WebSocketUri is { } uri) builder.WithWebSocketServer(ws => ws.WithUri(uri));
        else builder.WithTcpServer(_options.Host, _options.Port);
        if (_tls?.Build() is { } tls) builder.WithTlsOptions(tls); // the builder gives it to either channel
        return builder.Build();
    }

    Task OnMessage(MqttApplicationMessageReceivedEventArgs e)
    {
        var m = e.ApplicationMessage;
        // Copied: MQTTnet reuses its buffers once the handler returns.
        _messages.Writer.TryWrite(new MqttMessage(m.Topic, System.Buffers.BuffersExtensions.ToArray(m.Payload), (MqttQos)m.QualityOfServiceLevel, m.Retain, m.Dup));
        return Task.CompletedTask;
    }

    void OnDropped(MqttMessage message)
    {
        long total = Interlocked.Increment(ref _dropped);
        if (Interlocked.Exchange(ref _dropping, 1) == 0)
            Raise(MqttEventKind.MessagesDropped, $"the reader of messages from {_options.Endpoint} fell {_options.MaxQueuedMessages} behind: " +
                $"dropping new messages ({total} so far, first on {message.Topic}); counted in DroppedMessages");
    }

    Task OnDisconnected(MqttClientDisconnectedEventArgs e)
    {
        bool wasOnline;
        lock (_gate)
        {
            if (_disposed) return Task.CompletedTask; // DisposeAsync tells of its own close
            wasOnline = _connected;
            _connected = false;
            if (wasOnline) _online = NewOnline();
            _lost.TrySetResult();
        }
        Interlocked.Exchange(ref _dropping, 0);
        if (!wasOnline) return Task.CompletedTask; // a connect or renewal that failed: its caller reports it
        {
            var why = e.Exception is { } x ? Describe(x) : !string.IsNullOrEmpty(e.ReasonString) ? e.ReasonString : e.Reason.ToString();
            Raise(MqttEventKind.Disconnected, $"lost the connection to {_options.Endpoint}: {why}", e.Exception ?? new MqttException(why));
        }
        return Task.CompletedTask;
    }

    async Task DropAsync()
    {
        try { await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(2), _time).ConfigureAwait(false); }
        catch (Exception) { /* already broken */ }
    }

    async Task WaitOnlineAsync(CancellationToken ct)
    {
        Task online;
        lock (_gate) { ObjectDisposedException.ThrowIf(_disposed, this); online = _online.Task; }
        await online.WaitAsync(ct).ConfigureAwait(false);
    }

    async Task WaitLostAsync(CancellationToken ct)
    {
        Task lost;
        lock (_gate) { ObjectDisposedException.ThrowIf(_disposed, this); lost = _connected ? _lost.Task : Task.CompletedTask; }
        await lost.WaitAsync(ct).ConfigureAwait(false);
    }

    void Raise(MqttEventKind kind, string message, Exception? error = null)
    {
        try { Events?.Invoke(new MqttClientEvent(kind, message, error)); }
        catch (Exception) { /* a throwing handler must not stop the connection loop */ }
    }

    static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    static TaskCompletionSource NewOnline() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
