using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Tether.Mqtt;

namespace Vigil.Tether.Cops;

/// <summary>
/// Provides <c>kind: cops</c> probes. HTTP probes share one <see cref="HttpClient"/>; MQTT probes share one connection to
/// the broker of the <c>tether:</c> section (made at the first check, kept up by <see cref="MqttClient"/>), subscribed
/// to the replies under <c>&lt;ourUri&gt;/heartbeat/+</c>. A broker that cannot be reached says nothing about the
/// process: such checks are inconclusive (the probe pauses), as for <c>kind: tether</c>.
/// </summary>
public sealed class CopsProbes : IProbeProvider, IPidSource, IAsyncDisposable
{
    private readonly MqttClientOptions _broker;
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.FromMinutes(1) });
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<ReadOnlyMemory<byte>>> _waiting = new(StringComparer.Ordinal);
    private readonly HashSet<string> _subscribed = [];
    private MqttClient? _mqtt;
    private Task? _reader;
    private bool _disposed;

    /// <param name="broker">The broker MQTT probes use (the <c>tether:</c> section's); the client id is made here.</param>
    public CopsProbes(MqttClientOptions broker, TimeProvider? time = null)
    {
        _broker = broker with
        {
            ClientId = "vigil-cops-" + Guid.NewGuid().ToString("N")[..8],
            TimeProvider = time ?? TimeProvider.System,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            RequestTimeout = TimeSpan.FromSeconds(5),
            MaxReconnectDelay = TimeSpan.FromSeconds(5),
        };
    }

    /// <inheritdoc/>
    public IProbe? Create(ProbeSpec spec, string unitName, IDictionary<string, string> environment) =>
        spec.Check is CopsCheck check ? new CopsProbe(this, check, unitName) : null;

    /// <summary>One heartbeat exchange outside a run (an external unit waiting for its process): the PID that answers.</summary>
    public async Task<(int? Pid, string Why)> ReportedPidAsync(ProbeSpec spec, string unitName, CancellationToken cancel)
    {
        if (spec.Check is not CopsCheck check) return (null, $"not a cops probe: {spec.Check.Kind}");
        // A counter of its own: the reply must echo it, so a late answer to an earlier GET is not taken for this one.
        long counter = Interlocked.Increment(ref _lookups) + (1L << 40);
        try
        {
            ReadOnlyMemory<byte> body;
            if (check.HttpUrl is { } url)
            {
                var (text, why) = await HttpExchangeAsync(url, counter, cancel).ConfigureAwait(false);
                if (text is null) return (null, why!);
                body = Encoding.UTF8.GetBytes(text);
            }
            else body = await MqttExchangeAsync(CopsCheck.Topic(check.MqttUri!), CopsProbe.ReplyTopic(check, unitName), counter, cancel).ConfigureAwait(false);
            if (CopsReply.Parse(body.Span, out var bad) is not { } reply) return (null, bad!);
            return reply.Counter == counter ? (reply.Pid, "") : (null, $"stale reply: cops_heartbeat {reply.Counter}, expected {counter}");
        }
        catch (Exception e) when (e is HttpRequestException or MqttException) { return (null, e.Message); }
    }

    private long _lookups;

    // ---- HTTP ---------------------------------------------------------------------------------------------------

    /// <summary>PUT the counter, GET the reply (docs/cops.md); the reply's body, or why there is none.</summary>
    internal async Task<(string? Body, string? Why)> HttpExchangeAsync(string baseUrl, long counter, CancellationToken ct)
    {
        var root = baseUrl.TrimEnd('/');
        using (var put = await _http.PutAsync(root + "/cops/cops_heartbeat",
            new StringContent(counter.ToString(CultureInfo.InvariantCulture), Encoding.ASCII, "text/plain"), ct).ConfigureAwait(false))
            if (!put.IsSuccessStatusCode) return (null, $"SET answered HTTP {(int)put.StatusCode}");
        using var get = await _http.GetAsync(root + "/cops", ct).ConfigureAwait(false);
        if ((int)get.StatusCode != 200) return (null, $"GET answered HTTP {(int)get.StatusCode}");
        return (await get.Content.ReadAsStringAsync(ct).ConfigureAwait(false), null);
    }

    // ---- MQTT ---------------------------------------------------------------------------------------------------

    /// <summary>Publishes SET and GET (with <paramref name="replyTo"/>) and waits for the reply on that topic.</summary>
    internal async Task<ReadOnlyMemory<byte>> MqttExchangeAsync(string topic, string replyTo, long counter, CancellationToken ct)
    {
        var client = await ConnectAsync(replyTo, ct).ConfigureAwait(false);
        var reply = new TaskCompletionSource<ReadOnlyMemory<byte>>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiting[replyTo] = reply; // a newer GET replaces an older one: only the current counter counts
        try
        {
            await client.PublishAsync(topic + "/cops/cops_heartbeat", Encoding.ASCII.GetBytes(counter.ToString(CultureInfo.InvariantCulture)), MqttQos.AtLeastOnce, ct: ct).ConfigureAwait(false);
            await client.PublishAsync(topic + "/cops", Encoding.UTF8.GetBytes("{\"replyTo\":\"" + JsonEncodedText.Encode(replyTo) + "\"}"), MqttQos.AtLeastOnce, ct: ct).ConfigureAwait(false);
            return await reply.Task.WaitAsync(ct).ConfigureAwait(false);
        }
        finally { _waiting.TryRemove(new KeyValuePair<string, TaskCompletionSource<ReadOnlyMemory<byte>>>(replyTo, reply)); }
    }

    private async Task<MqttClient> ConnectAsync(string replyTo, CancellationToken ct)
    {
        await _connecting.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_mqtt is null)
            {
                var client = new MqttClient(_broker);
                try { await client.ConnectAsync(ct).ConfigureAwait(false); }
                catch
                {
                    await client.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
                _mqtt = client;
                _reader = Task.Run(() => ReadAsync(client));
            }
            // One subscription per reply topic, kept (and renewed by the client) for the provider's life.
            if (_subscribed.Add(replyTo))
            {
                try { await _mqtt.SubscribeAsync(replyTo, MqttQos.AtLeastOnce, ct).ConfigureAwait(false); }
                catch { _subscribed.Remove(replyTo); throw; }
            }
            return _mqtt;
        }
        finally { _connecting.Release(); }
    }

    private async Task ReadAsync(MqttClient client)
    {
        try
        {
            await foreach (var m in client.Messages.ReadAllAsync().ConfigureAwait(false))
                if (_waiting.TryGetValue(m.Topic, out var w)) w.TrySetResult(m.Payload);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _connecting.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            if (_mqtt is { } m) await m.DisposeAsync().ConfigureAwait(false);
            if (_reader is { } r) await r.ConfigureAwait(false);
            _mqtt = null;
            _http.Dispose();
        }
        finally { _connecting.Release(); }
    }
}

/// <summary>A COPS reply: the counter echoed and the responder's PID.</summary>
public readonly record struct CopsReply(long Counter, int Pid)
{
    /// <summary>Reads <c>{"cops_heartbeat": N, "pid": P, …}</c> (a decimal string is accepted for either); null and why when it is not one.</summary>
    public static CopsReply? Parse(ReadOnlySpan<byte> json, out string? why)
    {
        why = null;
        try
        {
            var reader = new Utf8JsonReader(json);
            using var doc = JsonDocument.ParseValue(ref reader);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) { why = "the reply is not a JSON object"; return null; }
            if (!Number(doc.RootElement, "cops_heartbeat", out var counter)) { why = "the reply has no cops_heartbeat number"; return null; }
            if (!Number(doc.RootElement, "pid", out var pid) || pid is <= 0 or > int.MaxValue) { why = "the reply has no pid"; return null; }
            return new CopsReply(counter, (int)pid);
        }
        catch (JsonException e) { why = $"the reply is not JSON ({e.Message})"; return null; }
    }

    private static bool Number(JsonElement o, string key, out long value)
    {
        value = 0;
        if (!o.TryGetProperty(key, out var v)) return false;
        return v.ValueKind switch
        {
            JsonValueKind.Number => v.TryGetInt64(out value),
            JsonValueKind.String => long.TryParse(v.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out value),
            _ => false,
        };
    }
}

/// <summary>
/// One run's COPS heartbeat: counter, SET, GET, compare. It tracks the PID the process reports: a change is a notice
/// (someone restarted it), and on the miss that fails the probe with <c>action: kill</c> it kills that PID itself,
/// guarded by the start time seen when it was reported, when it is not the unit's own process (which the unit kills):
/// COPS kills the process that answered, whoever started it.
/// </summary>
internal sealed class CopsProbe(CopsProbes owner, CopsCheck check, string unitName) : IProbe
{
    private long _counter;
    private int _misses;
    private ProcessIdentity? _reported;

    public async ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
    {
        long n = ++_counter;
        var timeout = target.Spec.Timeout;
        ReadOnlyMemory<byte> body;
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            deadline.CancelAfter(timeout);
            if (check.HttpUrl is { } url)
            {
                var (text, why) = await owner.HttpExchangeAsync(url, n, deadline.Token).ConfigureAwait(false);
                if (text is null) return Miss(target, why!);
                body = Encoding.UTF8.GetBytes(text);
            }
            else
            {
                var replyTo = ReplyTopic(check, unitName);
                try { body = await owner.MqttExchangeAsync(CopsCheck.Topic(check.MqttUri!), replyTo, n, deadline.Token).ConfigureAwait(false); }
                catch (MqttException e) { return ProbeResult.Inconclusive($"cops broker unreachable: {e.Message}"); }
            }
        }
        catch (OperationCanceledException)
        {
            return Miss(target, $"no reply to heartbeat {n} within {Durations.Format(timeout)}");
        }
        catch (HttpRequestException e) { return Miss(target, e.Message); }
        catch (ObjectDisposedException) { return ProbeResult.Fail("cops probes were shut down"); }

        if (CopsReply.Parse(body.Span, out var bad) is not { } reply) return Miss(target, bad!);
        if (reply.Counter != n) return Miss(target, $"stale reply: cops_heartbeat {reply.Counter}, expected {n}");
        _misses = 0;
        string? notice = null;
        if (_reported is { } before && before.Pid != reply.Pid)
            notice = $"Process {unitName} now answers as pid {reply.Pid} (was {before.Pid}): restarted by someone";
        if (_reported?.Pid != reply.Pid) _reported = ProcessIdentity.Of(reply.Pid) ?? new ProcessIdentity(reply.Pid, 0);
        return ProbeResult.Ok($"heartbeat {n} echoed by pid {reply.Pid}", new Dictionary<string, double> { ["cops_pid"] = reply.Pid }) with { Notice = notice };
    }

    /// <summary>A missed heartbeat, in COPS's words; the miss that fails the probe kills the reported PID (see the class).</summary>
    private ProbeResult Miss(ProbeTarget target, string why)
    {
        _misses++;
        var spec = target.Spec;
        if (_misses == spec.FailureThreshold && spec.Action == ProbeAction.Kill && _reported is { } id && id.Pid != target.Pid)
            id.Signal(Signals.SIGKILL); // start-time guarded: never a process that reused the PID
        return ProbeResult.Fail($"Process {unitName} is hung or dead: {why} (missed {_misses} in a row, allowance {spec.FailureThreshold}" +
            (_reported is { } r ? $"; last reported pid {r.Pid})" : ")"));
    }

    /// <summary>Where the GET asks for the reply: <c>&lt;ourUri&gt;/heartbeat/&lt;name&gt;</c>.</summary>
    internal static string ReplyTopic(CopsCheck check, string unitName) => $"{CopsCheck.Topic(check.OurUri)}/heartbeat/{check.ReplyName ?? Level(unitName)}";

    /// <summary>The unit name as one MQTT topic level.</summary>
    private static string Level(string name)
    {
        var level = string.Concat(name.Select(c => c is '/' or '+' or '#' || char.IsControl(c) ? '_' : c));
        return level.Length == 0 ? "unnamed" : level;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the connections are the provider's
}
