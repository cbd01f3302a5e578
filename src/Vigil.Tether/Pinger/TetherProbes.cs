using System.Globalization;
using Vigil.Health;
using Vigil.Specs;
using Vigil.Tether.Agent;
using Vigil.Tether.Mqtt;

namespace Vigil.Tether.Pinger;

/// <summary>
/// Provides <c>kind: tether</c> probes. Every probe of one provider shares one MQTT connection to the broker of the
/// top-level <c>tether:</c> section, made at the first check and kept up (reconnecting) until the provider is
/// disposed; a broker that cannot be reached makes checks fail with the reason, and the next check tries again.
/// </summary>
public sealed class TetherProbes : IProbeProvider, IAsyncDisposable
{
    readonly MqttClientOptions _broker;
    readonly SemaphoreSlim _connecting = new(1, 1);
    PingHub? _hub;
    bool _disposed;

    /// <param name="settings">The broker (host, port, username, password).</param>
    /// <param name="time">The clock for connections and ping timeouts.</param>
    public TetherProbes(TetherSettings settings, TimeProvider? time = null)
    {
        _broker = TetherDefaults.Broker with
        {
            Host = settings.Host, Port = settings.Port, Username = settings.Username, Password = settings.Password,
            TimeProvider = time ?? TimeProvider.System,
            ConnectTimeout = TimeSpan.FromSeconds(5),
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
            return _hub ??= await PingHub.ConnectAsync(_broker, subscribeToAllPongs: true, ct).ConfigureAwait(false);
        }
        finally { _connecting.Release(); }
    }

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
    TetherPinger? _pinger;

    public async ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
    {
        var timeout = target.Spec.Timeout;
        string who = check.AgentId is { Length: > 0 } id ? $"agent {id}" : "any agent";
        string hung = $"hung: no pong within {Durations.Format(timeout)} ({who})";
        try
        {
            PingHub hub;
            try { hub = await owner.HubAsync(cancel).ConfigureAwait(false); }
            catch (MqttException e) { return ProbeResult.Fail($"tether broker unreachable: {e.Message}"); }
            _pinger ??= hub.CreatePinger(check.Role, pingerId, check.AgentId);
            // The ping's own wait ends at the timeout; the runner's deadline (the same timeout) is the backstop.
            return await _pinger.PingAsync(timeout, cancel).ConfigureAwait(false) switch
            {
                PingOutcome.Answered a => ProbeResult.Ok($"pong in {Ms(a.RoundTrip)}ms", Gauges(a)),
                PingOutcome.Offline o => ProbeResult.Fail($"tether broker unreachable: {o.Reason}"),
                _ => ProbeResult.Fail(hung),
            };
        }
        catch (OperationCanceledException) { return ProbeResult.Fail(hung); }
        catch (ObjectDisposedException) { return ProbeResult.Fail("tether probes were shut down"); }
    }

    static Dictionary<string, double> Gauges(PingOutcome.Answered a)
    {
        var gauges = new Dictionary<string, double>(a.Pong.Fields, StringComparer.Ordinal) { ["ping_ms"] = a.RoundTrip.TotalMilliseconds };
        return gauges;
    }

    internal static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the connection is the provider's
}
