using System.Collections.Immutable;
using Vigil.Tether.Agent;
using Vigil.Tether.MessagePack;
using Vigil.Tether.Mqtt;

namespace Vigil.Tether.Pinger;

// Overview
//
// A PingHub is one MQTT connection to one broker, shared by every pinger on it (every `kind: tether` probe of a
// `vigil run`, or the one target of `vigil pinger`). It subscribes each distinct pong filter once (`+/+/pong`, or
// `+/<agent>/pong`), reads every message in one loop, decodes a pong's MessagePack once (a malformed payload is a
// warning and a counter, never an exception) and hands it, stamped with its arrival time, to the pings waiting on a
// matching filter (the JS agent's topic rules, TetherTopic.PlugMatches).
//
// Tether pongs carry no correlation id, so a pong answers whichever ping of a matching filter is waiting when it
// arrives; a pong nobody waits for (late, or unasked) is dropped. A ping waits from the moment it is published until
// its timeout on the injected clock (the original Tether Process Pinger noticed only at its next interval tick).
// When the broker connection is down at the ping, or was lost while the ping waited, the outcome is Offline, not a
// timeout: a broker outage says nothing about the target.

/// <summary>One MQTT connection shared by pingers: publishes pings, subscribes pong filters, dispatches pongs.</summary>
public sealed class PingHub : IAsyncDisposable
{
    readonly MqttClient _client;
    readonly TimeProvider _time;
    readonly Task _dispatch;
    readonly SemaphoreSlim _subscribing = new(1, 1);
    ImmutableHashSet<string> _filters = [];
    ImmutableList<Waiter> _waiters = [];
    long _epoch, _connectedAt, _malformed;
    string? _lastError;

    PingHub(MqttClient client, TimeProvider time)
    {
        _client = client;
        _time = time;
        _connectedAt = time.GetTimestamp();
        client.Events += OnClientEvent;
        _dispatch = DispatchAsync();
    }

    /// <summary>Connects to the broker (throws a clear <see cref="MqttException"/> when it cannot); afterwards the
    /// connection is kept up by the client's reconnect loop.</summary>
    public static async Task<PingHub> ConnectAsync(MqttClientOptions broker, CancellationToken ct = default) =>
        await ConnectAsync(broker, subscribeToAllPongs: false, ct).ConfigureAwait(false);

    /// <param name="subscribeToAllPongs">See <see cref="SubscribeToAllPongs"/>.</param>
    public static async Task<PingHub> ConnectAsync(MqttClientOptions broker, bool subscribeToAllPongs, CancellationToken ct = default)
    {
        var client = new MqttClient(broker.ClientId.Length > 0 ? broker : broker with { ClientId = TetherDefaults.ClientId("processPinger") });
        try { await client.ConnectAsync(ct).ConfigureAwait(false); }
        catch { await client.DisposeAsync().ConfigureAwait(false); throw; }
        return new PingHub(client, broker.TimeProvider) { SubscribeToAllPongs = subscribeToAllPongs };
    }

    /// <summary>The broker, as <c>host:port</c>.</summary>
    public string Endpoint => _client.Options.Endpoint;

    /// <summary>The underlying client (its <see cref="MqttClient.Events"/> tell of losses and reconnects).</summary>
    public MqttClient Client => _client;

    public bool IsConnected => _client.IsConnected;

    /// <summary>How long the current connection has been up (zero while offline).</summary>
    public TimeSpan ConnectedFor => IsConnected ? _time.GetElapsedTime(Interlocked.Read(ref _connectedAt)) : TimeSpan.Zero;

    /// <summary>Pongs whose payload was not valid MessagePack.</summary>
    public long MalformedPongs => Interlocked.Read(ref _malformed);

    /// <summary>Something worth a log line that is not an error of the caller: a malformed pong, a lost connection.</summary>
    public event Action<string>? Warning;

    /// <summary>Makes a pinger publishing on <c>role/id/ping</c> and accepting pongs from <paramref name="targetAgentId"/> (any when null).</summary>
    public TetherPinger CreatePinger(string role, string id, string? targetAgentId) => new(this, role, id, targetAgentId);

    /// <summary>Subscribe to every pong (<c>+/+/pong</c>) once, whatever agent a pinger waits for, and tell pongs apart
    /// here. For many pingers on one connection (the <c>kind: tether</c> probes of a whole <c>vigil run</c>): one
    /// SUBSCRIBE instead of one per target, so 500 probes starting together do not queue their first checks behind
    /// 500 SUBACKs. Off for <c>vigil pinger</c>, which subscribes exactly the original's topic.</summary>
    public bool SubscribeToAllPongs { get; init; }

    /// <summary>The filter actually subscribed for a pinger's pong filter.</summary>
    string Effective(string filter) => SubscribeToAllPongs ? TetherTopic.Input("pong").ToString() : filter;

    /// <summary>Whether the broker granted the subscription for <paramref name="filter"/> (and has not refused it since).</summary>
    internal bool IsSubscribed(string filter) => _filters.Contains(Effective(filter));

    /// <summary>True once the connection was lost and made again (not for the first connection).</summary>
    public bool Reconnected => Interlocked.Read(ref _epoch) > 0;

    /// <summary>Subscribes <paramref name="filter"/> unless it is already; throws <see cref="MqttSubscriptionRefusedException"/>
    /// or <see cref="MqttRequestTimeoutException"/> when that fails (the next call tries again).</summary>
    internal async Task EnsureSubscribedAsync(string filter, CancellationToken ct)
    {
        filter = Effective(filter);
        if (_filters.Contains(filter)) return;
        await _subscribing.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_filters.Contains(filter)) return;
            await _client.SubscribeAsync(filter, MqttQos.AtLeastOnce, ct).ConfigureAwait(false);
            ImmutableInterlocked.Update(ref _filters, f => f.Add(filter));
        }
        finally { _subscribing.Release(); }
    }

    /// <summary>Publishes an empty ping and waits up to <paramref name="timeout"/> for a pong on <paramref name="pongFilter"/>.</summary>
    internal async Task<PingOutcome> PingAsync(string pingTopic, string pongFilter, TimeSpan timeout, CancellationToken ct)
    {
        if (!IsConnected) return new PingOutcome.Offline($"not connected to broker {Endpoint}" + (_lastError is { } e ? $" ({e})" : ""));
        await EnsureSubscribedAsync(pongFilter, ct).ConfigureAwait(false);
        long epoch = Interlocked.Read(ref _epoch);
        var waiter = new Waiter(pongFilter);
        ImmutableInterlocked.Update(ref _waiters, w => w.Add(waiter)); // before the ping: a fast pong must find it
        try
        {
            long sent = _time.GetTimestamp();
            // QoS 1 as the JS agent; the PUBACK is not awaited, so the round trip is ping to pong, not ping to PUBACK.
            var publish = _client.PublishAsync(pingTopic, ReadOnlyMemory<byte>.Empty, MqttQos.AtLeastOnce, retain: false, ct);
            _ = publish.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            using var window = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var expiry = Task.Delay(timeout, _time, window.Token);
            var first = await Task.WhenAny(waiter.Answer.Task, expiry).ConfigureAwait(false);
            window.Cancel();
            ct.ThrowIfCancellationRequested();
            if (first == waiter.Answer.Task)
            {
                var pong = await waiter.Answer.Task.ConfigureAwait(false);
                return new PingOutcome.Answered(pong, _time.GetElapsedTime(sent, pong.ReceivedAt));
            }
            if (Interlocked.Read(ref _epoch) != epoch || !IsConnected)
                return new PingOutcome.Offline($"the connection to broker {Endpoint} was lost while waiting for the pong");
            if (publish.IsFaulted)
                return new PingOutcome.Offline($"the ping could not be published: {publish.Exception!.InnerException?.Message}");
            return new PingOutcome.TimedOut(timeout);
        }
        finally { ImmutableInterlocked.Update(ref _waiters, w => w.Remove(waiter)); }
    }

    void OnClientEvent(MqttClientEvent e)
    {
        switch (e.Kind)
        {
            case MqttEventKind.Connected:
                Interlocked.Exchange(ref _connectedAt, _time.GetTimestamp());
                _lastError = null;
                break;
            case MqttEventKind.Disconnected:
                Interlocked.Increment(ref _epoch);
                _lastError = e.Message;
                Raise(e.Message);
                break;
            case MqttEventKind.ReconnectFailed:
                _lastError = e.Message;
                break;
            case MqttEventKind.SubscriptionRefused:
                // Refused when renewed after a reconnect (an ACL changed meanwhile): forget it, so the next ping
                // subscribes again and fails with the reason instead of waiting for pongs that cannot come.
                if (e.Error is MqttSubscriptionRefusedException refused) ImmutableInterlocked.Update(ref _filters, f => f.Remove(refused.Filter));
                Raise(e.Message);
                break;
        }
    }

    async Task DispatchAsync()
    {
        await foreach (var message in _client.Messages.ReadAllAsync().ConfigureAwait(false))
        {
            long at = _time.GetTimestamp();
            if (TetherTopic.Parse(message.Topic) is not { Plug: "pong" } from) continue;
            var waiters = Volatile.Read(ref _waiters);
            if (!waiters.Any(w => TetherTopic.PlugMatches(w.Filter, message.Topic))) continue; // nobody asked: not even decoded
            var pong = Decode(from, message.Payload, at);
            foreach (var w in waiters)
                if (TetherTopic.PlugMatches(w.Filter, message.Topic)) w.Answer.TrySetResult(pong);
        }
    }

    Pong Decode(TetherTopic from, ReadOnlyMemory<byte> payload, long at)
    {
        if (payload.IsEmpty) return new Pong(from, at, Pong.NoFields, null);
        if (!MsgPack.TryDecode(payload, out var value, out var error))
        {
            Interlocked.Increment(ref _malformed);
            var why = $"malformed MessagePack in the pong from {from.Role}/{from.Id} ({payload.Length} bytes): {error}";
            Raise(why);
            return new Pong(from, at, Pong.NoFields, why);
        }
        return new Pong(from, at, value is MsgPackMap map ? map.NumericFields() : Pong.NoFields, null);
    }

    internal void Raise(string warning)
    {
        try { Warning?.Invoke(warning); }
        catch (Exception) { /* a logging handler must not stop the dispatch loop */ }
    }

    public async ValueTask DisposeAsync()
    {
        _client.Events -= OnClientEvent;
        await _client.DisposeAsync().ConfigureAwait(false); // completes Messages, which ends the dispatch loop
        await _dispatch.ConfigureAwait(false);
        _subscribing.Dispose();
    }

    sealed class Waiter(string filter)
    {
        public string Filter { get; } = filter;
        public TaskCompletionSource<Pong> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>A pong as received: who sent it, when (a <see cref="TimeProvider"/> timestamp), its numeric fields.</summary>
/// <param name="DecodeError">Why the payload was not valid MessagePack (the pong still counts as an answer); null when it was.</param>
public sealed record Pong(TetherTopic From, long ReceivedAt, IReadOnlyDictionary<string, double> Fields, string? DecodeError)
{
    internal static readonly IReadOnlyDictionary<string, double> NoFields = ImmutableDictionary<string, double>.Empty;
}

/// <summary>How one ping ended.</summary>
public abstract record PingOutcome
{
    private PingOutcome() { }

    /// <summary>A pong came within the timeout.</summary>
    public sealed record Answered(Pong Pong, TimeSpan RoundTrip) : PingOutcome;

    /// <summary>No pong within the timeout while the broker connection stayed up: the target did not answer.</summary>
    public sealed record TimedOut(TimeSpan Timeout) : PingOutcome;

    /// <summary>The broker connection was down or was lost during the wait: nothing is known about the target.</summary>
    public sealed record Offline(string Reason) : PingOutcome;
}

/// <summary>Pings one target (or any) through a shared <see cref="PingHub"/>.</summary>
public sealed class TetherPinger
{
    /// <summary>At most this many distinct numeric pong fields of one target become metrics: the first names seen. A
    /// target that puts ids or counters in its field names would otherwise make a new gauge series with every pong.</summary>
    public const int MaxFields = 64;

    readonly PingHub _hub;
    readonly HashSet<string> _fieldNames = new(StringComparer.Ordinal); // guarded by itself
    long _droppedFields;
    int _warnedFields;

    internal TetherPinger(PingHub hub, string role, string id, string? targetAgentId)
    {
        _hub = hub;
        PingTopic = TetherTopic.Output(role, id, "ping").ToString();
        PongFilter = TetherTopic.Input("pong", id: targetAgentId).ToString();
        TargetAgentId = string.IsNullOrEmpty(targetAgentId) ? null : targetAgentId;
    }

    /// <summary><c>processPinger/&lt;id&gt;/ping</c>.</summary>
    public string PingTopic { get; }

    /// <summary><c>+/+/pong</c>, or <c>+/&lt;target&gt;/pong</c>.</summary>
    public string PongFilter { get; }

    public string? TargetAgentId { get; }

    /// <summary>Subscribes the pong filter now (a ping would do it too), so the first ping's round trip is not a SUBACK's.
    /// Throws <see cref="MqttSubscriptionRefusedException"/> or <see cref="MqttRequestTimeoutException"/> when the broker
    /// refuses or does not answer; while offline it waits for the connection.</summary>
    public Task ListenAsync(CancellationToken ct = default) => _hub.EnsureSubscribedAsync(PongFilter, ct);

    /// <summary>Whether the pong filter is subscribed (false before <see cref="ListenAsync"/> and after the broker refused
    /// it when it was renewed after a reconnect).</summary>
    public bool IsListening => _hub.IsSubscribed(PongFilter);

    /// <summary>Numeric pong field values dropped because their names came after the first <see cref="MaxFields"/>.</summary>
    public long DroppedFields => Interlocked.Read(ref _droppedFields);

    /// <summary>Sends one empty ping and waits up to <paramref name="timeout"/> (from the ping) for a pong. Throws only
    /// <see cref="OperationCanceledException"/> when <paramref name="ct"/> is cancelled.</summary>
    public async Task<PingOutcome> PingAsync(TimeSpan timeout, CancellationToken ct = default)
    {
        try { return Limit(await _hub.PingAsync(PingTopic, PongFilter, timeout, ct).ConfigureAwait(false)); }
        catch (MqttException e) { return new PingOutcome.Offline(e.Message); }
        catch (ObjectDisposedException) { return new PingOutcome.Offline("the broker connection was closed"); }
    }

    /// <summary>Keeps a pong's fields to the first <see cref="MaxFields"/> names this target used; counts the rest and
    /// warns once.</summary>
    PingOutcome Limit(PingOutcome outcome)
    {
        if (outcome is not PingOutcome.Answered { Pong.Fields: { Count: > 0 } fields } answered) return outcome;
        int dropped = 0;
        Dictionary<string, double>? kept = null;
        lock (_fieldNames)
        {
            foreach (var (name, _) in fields)
                if (!_fieldNames.Contains(name) && (_fieldNames.Count >= MaxFields || !_fieldNames.Add(name))) dropped++;
            if (dropped == 0) return outcome; // the common case: no copy
            kept = new Dictionary<string, double>(MaxFields, StringComparer.Ordinal);
            foreach (var (name, value) in fields)
                if (_fieldNames.Contains(name)) kept[name] = value;
        }
        Interlocked.Add(ref _droppedFields, dropped);
        if (Interlocked.Exchange(ref _warnedFields, 1) == 0)
            _hub.Raise($"the pong from {answered.Pong.From.Role}/{answered.Pong.From.Id} has more numeric fields than the {MaxFields} a target may " +
                $"turn into metrics: {dropped} dropped; only the first {MaxFields} field names become metrics, the rest are counted (warned once)");
        return answered with { Pong = answered.Pong with { Fields = kept } };
    }
}
