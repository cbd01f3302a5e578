using System.Net;
using System.Net.Http.Headers;
using System.Threading.Channels;
using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;

namespace Vigil.Hooks;

// Overview
// --------
// The runner follows the supervisor's event stream (its own queue: it never holds a unit up) and, for each event
// whose kind has hooks (the top level's and the unit's own, both), asks the rate limiter whether this unit may run
// hooks for this kind now. If so, one job per hook goes into a bounded queue; when the queue is full the job is
// dropped and counted, and a hooks-dropped event says so once there is room again. A few workers take jobs off the
// queue, each under the hook's timeout on the supervisor's clock:
// - exec/shell runs through the probes' CommandRunner: own session and process group, its whole tree (setsid'd
//   grandchildren too) killed at the timeout or at shutdown, and the kill awaited, so nothing leaks;
// - webhook POSTs the JSON (or Slack's {"text"}) with HttpClient; no status 2xx, a refused connection or no answer
//   in time is a failure;
// - mqtt goes through the IHookPublisher the program gave (the engine knows no MQTT).
// A failure is a hook-failed event (published like a unit's), which, like hooks-dropped, runs no hooks: a failing
// alert must not call itself. Disposing stops taking events, lets running hooks finish for a short grace, then kills
// them (and skips what is still queued): Vigil's exit waits at most that grace plus the kill.
// The runner lives in its own folder rather than Telemetry: it starts processes and makes requests on the operator's
// behalf, which metrics and history never do, and it needs Launching and Health (CommandRunner) as a unit does.

/// <summary>Settings of a <see cref="HookRunner"/>.</summary>
public sealed record HookRunnerOptions
{
    /// <summary>The top-level <c>hooks:</c> (each unit's own come from its spec).</summary>
    public HookSet Hooks { get; init; } = HookSet.Empty;

    /// <summary>Publishes <c>mqtt:</c> hooks; null: they fail with "no MQTT connection".</summary>
    public IHookPublisher? Publisher { get; init; }

    /// <summary>Hook runs that may wait for a worker; more are dropped (and counted).</summary>
    public int QueueCapacity { get; init; } = 64;

    /// <summary>Hooks running at once.</summary>
    public int Concurrency { get; init; } = 4;

    /// <summary>At dispose, how long running hooks may go on before they are killed.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The machine's name in payloads.</summary>
    public string Host { get; init; } = Environment.MachineName;
}

/// <summary>
/// Runs the <c>hooks:</c> of the config and of each unit for a supervisor's events: commands, webhooks, MQTT messages,
/// rate-limited, bounded in time and number, never blocking a unit. Dispose it before the supervisor.
/// </summary>
public sealed class HookRunner : IAsyncDisposable
{
    private readonly Supervisor _sup;
    private readonly HookRunnerOptions _options;
    private readonly TimeProvider _time;
    private readonly Channel<Job> _queue;
    private readonly HookRateLimiter _limiter = new();
    private readonly CancellationTokenSource _kill = new();
    private readonly Task[] _workers;
    private readonly IDisposable _subscription;
    private HookSet _hooks;
    private HttpClient? _http;
    private long _runs, _failures, _dropped, _suppressed;
    private long _droppedUnreported; // only the event handler touches it
    private int _closed;

    private sealed record Job(HookAction Hook, HookPayload Payload, UnitEvent Event, string Cwd, byte[] Json);

    /// <summary>Starts following <paramref name="supervisor"/>'s events at once (make it before starting units).</summary>
    public HookRunner(Supervisor supervisor, HookRunnerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(supervisor);
        _sup = supervisor;
        _options = options ?? new HookRunnerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.QueueCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Concurrency, 1);
        _time = supervisor.Time;
        _hooks = _options.Hooks;
        _queue = Channel.CreateBounded<Job>(new BoundedChannelOptions(_options.QueueCapacity));
        _workers = [.. Enumerable.Range(0, _options.Concurrency).Select(_ => Task.Run(WorkAsync))];
        _subscription = supervisor.Subscribe(OnEvent);
    }

    /// <summary>Replaces the top-level hooks (a reload); units' own change with their specs.</summary>
    public void Update(HookSet hooks)
    {
        ArgumentNullException.ThrowIfNull(hooks);
        Volatile.Write(ref _hooks, hooks);
    }

    /// <summary>The top-level hooks in use.</summary>
    public HookSet Hooks => Volatile.Read(ref _hooks);

    /// <summary>Hook runs finished so far, failed ones included.</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>Hook runs that failed (each published as a hook-failed event).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Hook runs dropped: the queue was full, or Vigil was shutting down before they started.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Events that had hooks but were held back by the rate limit.</summary>
    public long Suppressed => Interlocked.Read(ref _suppressed);

    private void OnEvent(UnitEvent ev)
    {
        try { Handle(ev); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A broken invariant here must not end the subscription: every later event would lose its hooks.
            _sup.Announce(new HookFailed(_time.GetUtcNow(), ev.UnitId, ev.Name, ev.Pid, ev.State, ev.Kind, "hooks", $"internal error: {e.Message}"));
        }
    }

    private void Handle(UnitEvent ev)
    {
        if (Volatile.Read(ref _closed) != 0 || HookEvents.NeverHooked(ev.Kind)) return;
        var top = Volatile.Read(ref _hooks);
        var unit = ev.UnitId == 0 ? null : _sup.Units.FirstOrDefault(u => u.Id == ev.UnitId);
        var own = unit?.Spec.Hooks;
        if (top.IsEmpty && (own is null || own.IsEmpty)) return; // the common case: no hooks at all
        List<HookAction> hooks = [.. top.For(ev.Kind), .. own?.For(ev.Kind) ?? []];
        if (hooks.Count == 0) return;
        var interval = own?.MinInterval ?? top.MinInterval ?? HookSet.DefaultMinInterval;
        var (run, suppressed) = _limiter.Decide(ev.UnitId, ev.Name, ev.Kind, interval, ev.Time);
        if (!run)
        {
            Interlocked.Increment(ref _suppressed);
            return;
        }
        var payload = HookPayload.From(ev, suppressed, _options.Host);
        var json = payload.ToJson();
        var cwd = unit is not null && !unit.IsAttached ? CommandResolver.WorkingDirectory(unit.Spec) : Environment.CurrentDirectory;
        foreach (var hook in hooks)
        {
            if (_queue.Writer.TryWrite(new Job(hook, payload, ev, cwd, json)))
            {
                if (_droppedUnreported > 0)
                {
                    _sup.Announce(new HooksDropped(_time.GetUtcNow(), 0, "vigil", UnitState.Initial, _droppedUnreported, _options.QueueCapacity));
                    _droppedUnreported = 0;
                }
            }
            else
            {
                Interlocked.Increment(ref _dropped);
                _droppedUnreported++;
            }
        }
    }

    private async Task WorkAsync()
    {
        await foreach (var job in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (_kill.IsCancellationRequested)
            {
                Interlocked.Increment(ref _dropped); // shutting down: what has not started does not start
                continue;
            }
            string? why;
            try { why = await RunAsync(job).ConfigureAwait(false); }
            catch (Exception e) when (e is not OutOfMemoryException) { why = $"internal error: {e.Message}"; }
            Interlocked.Increment(ref _runs);
            if (why is null) continue;
            Interlocked.Increment(ref _failures);
            var ev = job.Event;
            _sup.Announce(new HookFailed(_time.GetUtcNow(), ev.UnitId, ev.Name, ev.Pid, ev.State, ev.Kind, job.Hook.Describe(), why));
        }
    }

    /// <summary>Runs one hook; null when it succeeded, else why not.</summary>
    private async Task<string?> RunAsync(Job job)
    {
        using var timeout = new CancellationTokenSource(job.Hook.Timeout, _time);
        using var both = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, _kill.Token);
        try
        {
            var why = job.Hook switch
            {
                ExecHook x => await ExecAsync(x, job, both.Token).ConfigureAwait(false),
                WebhookHook w => await PostAsync(w, job, both.Token).ConfigureAwait(false),
                MqttHook m => _options.Publisher is { } publisher
                    ? (await publisher.PublishAsync(m.Topic, job.Json, m.Qos, m.Retain, both.Token).ConfigureAwait(false)).Error
                    : "no MQTT connection to publish through (this program gave the hooks none)",
                _ => $"{job.Hook.GetType().Name} is not a hook this runner knows",
            };
            return why is null || !both.IsCancellationRequested ? why : Cancelled(job.Hook);
        }
        catch (OperationCanceledException) when (both.IsCancellationRequested) { return Cancelled(job.Hook); }
    }

    private string Cancelled(HookAction hook) => _kill.IsCancellationRequested
        ? "stopped: Vigil is shutting down" + (hook is ExecHook ? " (its processes were killed)" : "")
        : $"timed out after {Durations.Format(hook.Timeout)}" + (hook is ExecHook ? " (its processes were killed)" : "");

    private async Task<string?> ExecAsync(ExecHook hook, Job job, CancellationToken cancel)
    {
        var env = job.Payload.Environment();
        foreach (var (k, v) in hook.Env) env[k] = v;
        var r = await CommandRunner.RunAsync(_sup.Launcher, hook.Command, hook.Cwd ?? job.Cwd, env, _time, cancel, job.Json).ConfigureAwait(false);
        if (r.Succeeded) return null;
        var lines = r.FirstLines();
        if (r.Exit is { } exit) return exit.ToString() + (lines.Length > 0 ? $": {lines}" : "");
        if (cancel.IsCancellationRequested) return Cancelled(hook);
        return $"could not start: {r.Error}";
    }

    private async Task<string?> PostAsync(WebhookHook hook, Job job, CancellationToken cancel)
    {
        var body = hook.Format == WebhookFormat.Slack ? job.Payload.ToSlackJson() : job.Json;
        using var request = new HttpRequestMessage(new HttpMethod(hook.Method), hook.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.UserAgent.ParseAdd("vigil-hook");
        foreach (var (name, value) in hook.Headers)
        {
            if (request.Headers.TryAddWithoutValidation(name, value)) continue;
            request.Content.Headers.Remove(name); // Content-Type given by the user replaces ours
            request.Content.Headers.TryAddWithoutValidation(name, value);
        }
        try
        {
            using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            return status is >= 200 and < 300 ? null : $"HTTP {status} {response.ReasonPhrase} from {hook.Shown}".Replace("  ", " ", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancel.IsCancellationRequested))
        {
            return ProbeHttp.Describe(e, hook.Url, hook.Timeout, cancel).Replace(hook.Url.ToString(), hook.Shown, StringComparison.Ordinal);
        }
    }

    /// <summary>One client for every webhook, made at the first: no redirects, no cookies, connections kept a minute
    /// (a webhook's address can move); the hook's token is the deadline.</summary>
    private HttpClient Http => LazyInitializer.EnsureInitialized(ref _http, static () => new HttpClient(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.FromMinutes(1),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    });

    /// <summary>Stops taking events; running hooks get <see cref="HookRunnerOptions.ShutdownGrace"/>, then are killed
    /// (their process trees) or abandoned (requests); queued ones are dropped. Bounded.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        _subscription.Dispose();
        _queue.Writer.TryComplete();
        var workers = Task.WhenAll(_workers);
        if (!await EndsWithinAsync(workers, _options.ShutdownGrace).ConfigureAwait(false))
        {
            await _kill.CancelAsync().ConfigureAwait(false);
            // The kill of an exec hook's tree is itself bounded (CommandRunner: SIGKILL, 2 s wait).
            await EndsWithinAsync(workers, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        _http?.Dispose();
    }

    private async Task<bool> EndsWithinAsync(Task task, TimeSpan limit)
    {
        try
        {
            await task.WaitAsync(limit, _time).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException) { return false; }
    }
}
