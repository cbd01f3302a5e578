using System.Globalization;
using Vigil.Health;
using Vigil.Specs;
using Vigil.Tether.Agent;
using Vigil.Tether.Mqtt;

namespace Vigil.Tether.Pinger;

/// <summary>
/// Provides <c>kind: tether</c> probes. Every probe of one provider shares one MQTT connection to the broker of the
/// top-level <c>tether:</c> section, made at the first check and kept up (reconnecting) until the provider is
/// disposed. A broker that cannot be reached (or refuses the pong subscription) says nothing about the targets: such
/// checks are inconclusive, so the probes pause (an event says why) instead of restarting every unit, and the next
/// check tries again. After the connection comes back, a missing pong does not count for the check's grace.
/// </summary>
public sealed class TetherProbes : IProbeProvider, IAsyncDisposable
{
    readonly MqttClientOptions _broker;
    readonly SemaphoreSlim _connecting = new(1, 1);
    readonly System.Collections.Concurrent.ConcurrentDictionary<(string Role, string Id, string? Agent), TetherPinger> _pingers = new();
    PingHub? _hub;
    bool _disposed;

    /// <summary>Something an operator should see that is no unit's event: the broker connection lost, a pong with too
    /// many fields. Raised on the connection's threads.</summary>
    public event Action<string>? Warning;

    /// <param name="settings">The broker (host, port, username, password).</param>
    /// <param name="time">The clock for connections and ping timeouts.</param>
    public TetherProbes(TetherSettings settings, TimeProvider? time = null)
        : this(TetherDefaults.Broker with { Host = settings.Host, Port = settings.Port, Username = settings.Username, Password = settings.Password }, time)
    {
    }

    /// <param name="broker">The broker and how to reach it (transport, TLS files, MQTT version); the client id is made
    /// per connection, timeouts and backoff are the probes' own.</param>
    /// <param name="time">The clock for connections and ping timeouts.</param>
    public TetherProbes(MqttClientOptions broker, TimeProvider? time = null)
    {
        _broker = broker with
        {
            TimeProvider = time ?? TimeProvider.System,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            RequestTimeout = TimeSpan.FromSeconds(5),
            MaxReconnectDelay = TimeSpan.FromSeconds(5),
        };
    }

    /// <inheritdoc/>
    public IProbe? Create(ProbeSpec spec, string unitName, IDictionary<string, string> environment) =>
        spec.Check is TetherCheck check ? new TetherProbe(this, check, PingerId(unitName)) : null;

    /// <summary>The id in the ping topic (<c>processPinger/&lt;unit&gt;/ping</c>): the unit name with characters a topic
    /// level cannot hold replaced, so a target can listen for the pings of its own unit.</summary>
    internal static string PingerId(string unitName)
    {
        var id = string.Concat(unitName.Select(c => c is '/' or '+' or '#' || char.IsControl(c) ? '_' : c));
        return id.Length == 0 ? TetherTopic.DefaultId : id;
    }

    /// <summary>The shared connection, made now if there is none; throws <see cref="MqttException"/> when the broker cannot be reached.</summary>
    internal async Task<PingHub> HubAsync(CancellationToken ct)
    {
        if (Volatile.Read(ref _hub) is { } hub) return hub;
        await _connecting.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_hub is null)
            {
                var made = await PingHub.ConnectAsync(_broker, subscribeToAllPongs: true, ct).ConfigureAwait(false);
                made.Warning += w => Warning?.Invoke(w);
                if (_broker.InsecureSkipVerify)
                    Warning?.Invoke($"tether: the certificate of broker {_broker.Endpoint} is not checked (insecureSkipVerify); for tests only");
                _hub = made;
            }
            return _hub;
        }
        finally { _connecting.Release(); }
    }

    /// <summary>One pinger per target (unit, role, agent) for the provider's life, so the limit on pong fields that
    /// become gauges holds across the unit's runs, not per run.</summary>
    internal TetherPinger Pinger(PingHub hub, TetherCheck check, string pingerId) =>
        _pingers.GetOrAdd((check.Role, pingerId, check.AgentId), static (key, hub) => hub.CreatePinger(key.Role, key.Id, key.Agent), hub);

    public async ValueTask DisposeAsync()
    {
        await _connecting.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            if (_hub is { } hub) await hub.DisposeAsync().ConfigureAwait(false);
            _hub = null;
        }
        finally { _connecting.Release(); }
    }
}

/// <summary>One unit's run: each check pings and waits for a pong until the check's timeout.</summary>
internal sealed class TetherProbe(TetherProbes owner, TetherCheck check, string pingerId) : IProbe
{
    public async ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
    {
        var timeout = target.Spec.Timeout;
        PingHub? hub = null;
        TetherPinger? pinger = null;
        try
        {
            try { hub = await owner.HubAsync(cancel).ConfigureAwait(false); }
            catch (MqttException e) { return ProbeResult.Inconclusive($"tether broker unreachable: {e.Message}"); }
            pinger = owner.Pinger(hub, check, pingerId);
            if (!pinger.IsListening && hub.IsConnected) // offline, the ping below says so at once, with the last error
            {
                // Without the pong subscription no pong can come: a refusal (ACL) or a SUBACK that never comes says
                // nothing about the target. The next check tries again.
                try { await pinger.ListenAsync(cancel).ConfigureAwait(false); }
                catch (MqttException e) { return ProbeResult.Inconclusive(e.Message); }
            }
            // The ping's own wait ends at the timeout; the runner's deadline (the same timeout) is the backstop.
            return await pinger.PingAsync(timeout, cancel).ConfigureAwait(false) switch
            {
                PingOutcome.Answered a => ProbeResult.Ok($"pong in {Ms(a.RoundTrip)}ms", Gauges(a)),
                PingOutcome.Offline o => ProbeResult.Inconclusive($"tether broker unreachable: {o.Reason}"),
                _ => NoPong(hub, timeout),
            };
        }
        catch (OperationCanceledException)
        {
            // The runner's deadline. Still connecting or subscribing (the broker is slow or away): inconclusive.
            if (hub is null) return ProbeResult.Inconclusive($"tether broker unreachable: no connection within {Durations.Format(timeout)}");
            if (!hub.IsConnected) return ProbeResult.Inconclusive($"tether broker unreachable: not connected to {hub.Endpoint}");
            if (pinger is null || !pinger.IsListening)
                return ProbeResult.Inconclusive($"tether broker {hub.Endpoint} did not grant the pong subscription within {Durations.Format(timeout)}");
            return NoPong(hub, timeout);
        }
        catch (ObjectDisposedException) { return ProbeResult.Fail("tether probes were shut down"); }
    }

    /// <summary>No pong within the timeout: a hung target, unless the broker connection is down or came back less than
    /// the grace ago (the target may not have reconnected yet).</summary>
    ProbeResult NoPong(PingHub hub, TimeSpan timeout)
    {
        string who = check.AgentId is { Length: > 0 } id ? $"agent {id}" : "any agent";
        if (!hub.IsConnected) return ProbeResult.Inconclusive($"tether broker unreachable: the connection to {hub.Endpoint} was lost while waiting for the pong");
        var since = hub.ConnectedFor - timeout; // from the reconnect to the ping
        if (hub.Reconnected && since < check.Grace)
            return ProbeResult.Inconclusive($"no pong within {Durations.Format(timeout)} ({who}) {Ms(since < TimeSpan.Zero ? TimeSpan.Zero : since)}ms after " +
                $"the broker connection came back; not counted within the grace of {Durations.Format(check.Grace)}");
        return ProbeResult.Fail($"hung: no pong within {Durations.Format(timeout)} ({who})");
    }

    static Dictionary<string, double> Gauges(PingOutcome.Answered a)
    {
        var gauges = new Dictionary<string, double>(a.Pong.Fields, StringComparer.Ordinal) { ["ping_ms"] = a.RoundTrip.TotalMilliseconds };
        return gauges;
    }

    internal static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the connection is the provider's
}
