using System.Reflection;
using Vigil.Health;
using Vigil.Specs;
using Vigil.Supervision;

namespace Vigil.Control;

// Overview
// --------
// The control interface in-process, over the Supervisor. It reads only what the engine publishes (snapshots,
// events, the output rings, the log files) and acts only through the engine's own requests (Unit.StartAsync,
// StopAndWaitAsync, …), so it needs nothing from inside a unit. Events are recorded from the constructor on, in a
// bounded history: `vigil events`, a unit's recent events in `vigil status`, where a unit is in its restart schedule,
// and what became of an action (a start's spawn or its spawn error) all come from there. Followers of events and of
// output each read a bounded queue, so a slow one loses items (and is told how many) rather than holding anything up.

/// <summary>The control interface in-process, over a <see cref="Vigil.Supervision.Supervisor"/>. Create it before the
/// first unit starts: it records events from then on (a bounded history for <c>vigil events</c>).</summary>
public sealed partial class LocalControl : IVigilControl
{
    /// <summary>Events kept for <c>vigil events</c> and <c>vigil status</c>.</summary>
    public const int HistorySize = 10_000;
    /// <summary>Events a follower may fall behind by before it loses some (and gets a notice saying how many).</summary>
    public const int FollowerQueue = 10_000;
    /// <summary>Events of one unit <c>vigil status</c> shows.</summary>
    public const int RecentEventsPerUnit = 10;

    private readonly ControlHost _host;
    private readonly TimeProvider _time;
    private readonly DateTimeOffset _startedAt;
    private readonly IDisposable _subscription;
    private readonly Usage _usage;

    // Guarded by _gate: the history, the followers, the action waiters, and the latest schedule of each unit.
    private readonly object _gate = new();
    private readonly Queue<(UnitEvent Event, EventInfo Info)> _history = new();
    private readonly List<Feed<EventInfo>> _eventFollowers = [];
    private readonly List<Waiter> _waiters = [];
    private readonly List<LogSession> _logSessions = [];
    private int _disposed;

    public LocalControl(ControlHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(host.Supervisor);
        _host = host;
        _time = host.Supervisor.Time;
        _startedAt = _time.GetUtcNow();
        _usage = new Usage(_time, host.Supervisor.Launcher);
        _subscription = host.Supervisor.Subscribe(OnEvent);
    }

    private Supervisor Supervisor => _host.Supervisor;

    private void OnEvent(UnitEvent ev)
    {
        // Runs on the supervisor's delivery task for this subscriber: an exception here would end the deliveries.
        try
        {
            var info = ToInfo(ev);
            Feed<EventInfo>[] followers;
            List<Waiter>? hits = null;
            LogSession[] sessions;
            lock (_gate)
            {
                _history.Enqueue((ev, info));
                if (_history.Count > HistorySize) _history.Dequeue();
                followers = [.. _eventFollowers];
                for (int i = _waiters.Count - 1; i >= 0; i--)
                    if (_waiters[i].Match(ev))
                    {
                        (hits ??= []).Add(_waiters[i]);
                        _waiters.RemoveAt(i);
                    }
                sessions = [.. _logSessions];
            }
            foreach (var f in followers) f.Offer(info);
            if (hits is not null) foreach (var w in hits) w.Done.TrySetResult(ev);
            // A unit a log follower has not seen yet (added by a reload or `vigil add`): its output joins the stream.
            if (ev.UnitId != 0) foreach (var s in sessions) s.Notice(ev.UnitId);
        }
        catch (Exception e)
        {
            ControlLog.RecordingFailed(_host.Logger, ev.Kind, ev.Who, e.ToString(), e);
        }
    }

    private static EventInfo ToInfo(UnitEvent e) => new()
    {
        Time = e.Time, UnitId = e.UnitId, Name = e.Name, Pid = e.Pid, State = e.State.Name(), Kind = e.Kind, Reason = e.Reason,
    };

    public Task<ServerInfo> InfoAsync(CancellationToken cancel = default) => Task.FromResult(new ServerInfo
    {
        ProtocolVersion = ControlProtocol.Version,
        Version = typeof(LocalControl).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?",
        Pid = Environment.ProcessId,
        Instance = _host.Instance,
        ConfigPath = _host.ConfigPath,
        Socket = _host.Socket,
        LogFile = _host.LogFile,
        StartedAt = _startedAt,
        Units = Supervisor.Units.Count,
    });

    public Task<IReadOnlyList<UnitInfo>> ListAsync(CancellationToken cancel = default)
    {
        var snapshots = Supervisor.Snapshot();
        var usage = _usage.Measure(snapshots);
        var now = _time.GetUtcNow();
        IReadOnlyList<UnitInfo> rows = [.. snapshots.Select(s => Row(s, usage, now))];
        return Task.FromResult(rows);
    }

    private static UnitInfo Row(UnitSnapshot s, Dictionary<int, (double? Cpu, long? Rss)> usage, DateTimeOffset now)
    {
        var (cpu, rss) = usage.GetValueOrDefault(s.Id);
        return new UnitInfo
        {
            Id = s.Id, Name = s.Name, State = s.State.Name(), Pid = s.Pid,
            Status = s.Pid is null ? "-" : ProcessStatuses.Describe(s.Status),
            Ready = s.Ready, Restarts = s.RestartCount, UptimeSeconds = Words.Seconds(s.UptimeAt(now)),
            LastExit = s.LastExit?.ToString(), CpuPercent = cpu, RssBytes = rss,
            NextRestartInSeconds = s.NextRestartAt is { } due ? Words.Seconds(due - now) : null, Attached = s.Attached, Detached = s.Detached,
        };
    }

    public Task<IReadOnlyList<UnitDetail>> StatusAsync(string name, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        var units = Resolve([name]);
        var snapshots = units.Select(u => u.Snapshot).ToList();
        var usage = _usage.Measure(snapshots);
        var now = _time.GetUtcNow();
        List<EventInfo> events;
        lock (_gate)
        {
            var ids = units.Select(u => u.Id).ToHashSet();
            events = [.. _history.Where(h => ids.Contains(h.Event.UnitId)).Select(h => h.Info)];
        }
        IReadOnlyList<UnitDetail> details = [.. units.Select((u, i) => Detail(u, Row(snapshots[i], usage, now), events, now) with { Tmux = Tmux(u) })];
        return WithReliabilityAsync(details, name, cancel);
    }

    private static UnitDetail Detail(Unit u, UnitInfo row, List<EventInfo> events, DateTimeOffset now)
    {
        var spec = u.Spec;
        var s = u.Snapshot;
        // Restarts in a row: the attempt of the last backoff, until a run outlasts resetAfter (restartOk) or a
        // restart request starts the schedule over.
        int attempt = s.RestartAttempt;
        if (s.State == UnitState.Running && s.UptimeAt(now) >= spec.Restart.ResetAfter) attempt = 0;
        return new UnitDetail
        {
            Id = row.Id, Name = row.Name, State = row.State, Pid = row.Pid, Status = row.Status, Ready = row.Ready,
            Restarts = row.Restarts, UptimeSeconds = row.UptimeSeconds, LastExit = row.LastExit, CpuPercent = row.CpuPercent,
            RssBytes = row.RssBytes, NextRestartInSeconds = row.NextRestartInSeconds, Attached = row.Attached, Detached = row.Detached,
            Command = s.Command,
            Args = s.Arguments,
            Cwd = u.IsAttached ? null : Launching.CommandResolver.WorkingDirectory(spec),
            Restart = new RestartInfo
            {
                Policy = Words.Policy(spec.Restart.Policy), Schedule = Words.Schedule(spec.Restart), Attempt = attempt,
                NextRestartInSeconds = row.NextRestartInSeconds, Limit = Words.Limit(spec.Restart.Limit),
            },
            Stop = new StopInfo
            {
                Signal = Vigil.Launching.Signals.Name(spec.Stop.Signal),
                TimeoutSeconds = Words.Seconds(spec.Stop.Timeout), KillWaitSeconds = Words.Seconds(spec.Stop.KillWait),
            },
            Probes = Probes(u),
            LogFiles = LogPaths(spec),
            DroppedLogLines = u.DroppedLogLines,
            RecentEvents = [.. events.Where(e => e.UnitId == u.Id).TakeLast(RecentEventsPerUnit)],
        };
    }

    /// <summary>Where a tmux unit's window is (the socket is known only to the supervisor that runs it).</summary>
    private TmuxInfo? Tmux(Unit u) => u.Spec.Tmux is { } t
        ? new TmuxInfo { Socket = _host.Supervisor.TmuxSocket, Session = t.Session, Window = u.Name, Target = $"={t.Session}:={u.Name}" }
        : null;

    /// <summary>The probes of the current run with their last results; before a run, the configured probes, unknown.</summary>
    private static IReadOnlyList<ProbeInfo> Probes(Unit u)
    {
        var live = u.ProbeStatuses;
        if (live.Count > 0)
            return [.. live.Select(p => new ProbeInfo
            {
                Name = p.Name, Kind = p.Kind, Role = Words.Dashed(p.Role.ToString()), Action = Words.Dashed(p.Action.ToString()),
                Result = Words.Dashed(p.Result.ToString()), Detail = p.Detail,
                LatencyMs = p.Latency is { } l ? Math.Round(l.TotalMilliseconds, 1) : null, At = p.At, ConsecutiveFailures = p.ConsecutiveFailures,
            })];
        return [.. u.Spec.Health.Select(p => new ProbeInfo
        {
            Name = p.Name, Kind = p.Check.Kind, Role = Words.Dashed(p.Role.ToString()), Action = Words.Dashed(p.Action.ToString()),
            Result = Words.Dashed(nameof(ProbeOutcome.Unknown)),
        })];
    }

    /// <summary>The unit's log files, absolute (as the log writer opens them).</summary>
    private static IReadOnlyList<string> LogPaths(ProcessSpec spec) =>
        spec.Log is { } log ? [.. new[] { log.File, log.Out, log.Err }.OfType<string>().Select(Path.GetFullPath).Distinct()] : [];

    public Task<IReadOnlyList<EventInfo>> EventsAsync(DateTimeOffset? since = null, CancellationToken cancel = default)
    {
        lock (_gate)
        {
            IReadOnlyList<EventInfo> list = [.. _history.Select(h => h.Info).Where(e => since is null || e.Time >= since)];
            return Task.FromResult(list);
        }
    }

    public async IAsyncEnumerable<EventInfo> FollowEventsAsync(DateTimeOffset? since = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancel = default)
    {
        var feed = new Feed<EventInfo>(FollowerQueue, dropped => new EventInfo
        {
            Time = _time.GetUtcNow(), UnitId = 0, Name = "vigil", State = "", Kind = "events-skipped",
            Reason = $"{dropped} event(s) skipped: the reader fell behind",
        });
        List<EventInfo> backlog;
        // The backlog and the live feed are taken under one lock: no event is missed or given twice between them.
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            backlog = [.. _history.Select(h => h.Info).Where(e => since is null || e.Time >= since)];
            _eventFollowers.Add(feed);
        }
        try
        {
            foreach (var e in backlog) yield return e;
            await foreach (var e in feed.ReadAllAsync(cancel).ConfigureAwait(false)) yield return e;
        }
        finally
        {
            lock (_gate) _eventFollowers.Remove(feed);
        }
    }

    /// <summary>
    /// The units named (every unit with each name, in definition order, each once); "all" alone is every unit. Any
    /// unknown name fails the whole request before anything is done, with the nearest known name.
    /// </summary>
    private IReadOnlyList<Unit> Resolve(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var units = Supervisor.Units;
        if (names.Count == 0) throw new ControlException(ControlErrors.BadRequest, "no unit names given (give one or more names, or 'all')");
        if (names.Count == 1 && names[0] == "all") return units;
        var known = units.Select(u => u.Name).ToHashSet(StringComparer.Ordinal);
        var unknown = names.Where(n => !known.Contains(n)).Distinct(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            var quoted = string.Join(", ", unknown.Take(10).Select(n => $"'{Quoting.Clip(n, 100)}'")) + (unknown.Count > 10 ? $" and {unknown.Count - 10} more" : "");
            throw new ControlException(ControlErrors.NoSuchUnit, unknown.Count == 1 ? $"no unit named {quoted}" : $"no units named {quoted}",
                Vigil.Config.Suggestions.Nearest(unknown[0], known.Order(StringComparer.Ordinal)));
        }
        var wanted = names.ToHashSet(StringComparer.Ordinal);
        return [.. units.Where(u => wanted.Contains(u.Name))];
    }

    /// <summary>An action's wait for what became of it: the first event (recorded from now on) that matches.</summary>
    private sealed class Waiter(Func<UnitEvent, bool> match)
    {
        public Func<UnitEvent, bool> Match => match;
        public TaskCompletionSource<UnitEvent> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Starts watching for an event; call before the action whose outcome it reports.</summary>
    private Waiter Watch(Func<UnitEvent, bool> match)
    {
        var w = new Waiter(match);
        lock (_gate) _waiters.Add(w);
        return w;
    }

    /// <summary>The watched event, or null when <paramref name="limit"/> passes first.</summary>
    private async Task<UnitEvent?> WaitAsync(Waiter w, TimeSpan limit, CancellationToken cancel)
    {
        try { return await w.Done.Task.WaitAsync(limit, _time, cancel).ConfigureAwait(false); }
        catch (TimeoutException) { return null; }
        finally { Forget(w); }
    }

    private void Forget(Waiter w)
    {
        lock (_gate) _waiters.Remove(w);
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return ValueTask.CompletedTask;
        _subscription.Dispose();
        Feed<EventInfo>[] followers;
        LogSession[] sessions;
        lock (_gate)
        {
            followers = [.. _eventFollowers];
            sessions = [.. _logSessions];
            foreach (var w in _waiters) w.Done.TrySetCanceled();
            _waiters.Clear();
        }
        // Followers end after what they have queued: a server streaming them writes its end line.
        foreach (var f in followers) f.Complete();
        foreach (var s in sessions) s.Complete();
        return ValueTask.CompletedTask;
    }
}
