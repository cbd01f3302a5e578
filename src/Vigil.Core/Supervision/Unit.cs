using System.Threading.Channels;
using Vigil.Launching;
using Vigil.Logs;
using Vigil.Specs;

namespace Vigil.Supervision;

// Overview
// --------
// A unit is one managed process over its whole life (several runs). All of its state lives in the fields below
// and is changed only by Loop(), which handles one message at a time from _inbox: requests from the API
// (start, stop, restart, signal), the child's exit (from the reactor), timer expiries and status observations.
// Every state change goes through MoveTo(), which checks the transition table and publishes the event and a
// fresh snapshot; readers only ever see snapshots. Long work (stopping a tree) runs as a task that posts a
// message when it is done, so the loop is never blocked by a process that refuses to die.
public sealed partial class Unit
{
    private readonly Supervisor _owner;
    private readonly TimeProvider _time;
    private readonly ILauncher _launcher;
    private readonly Channel<Message> _inbox = Channel.CreateUnbounded<Message>(new UnboundedChannelOptions { SingleReader = true });
    private readonly long _origin;
    private volatile UnitSnapshot _snapshot;

    // Loop-owned state.
    private UnitState _state = UnitState.Initial;
    private IProcessHandle? _process;
    private long _runStartedAt;
    private DateTimeOffset? _startTime;
    private RestartHistory _history = RestartHistory.Fresh;
    private int _restartCount;
    private ExitStatus? _lastExit;
    private ProcessStatus _status = ProcessStatus.Initial;
    private int _timerGeneration;
    private ITimer? _restartTimer;
    private TimeSpan? _nextRestartIn;
    private IReadOnlyList<string> _argv = [];
    private bool _restartAfterStop;
    private bool _stopRequested;
    private bool _released;
    private readonly List<TaskCompletionSource<StopResult>> _stopWaiters = [];
    private readonly List<TaskCompletionSource<ExitStatus>> _exitWaiters = [];
    private Task _leftoverCleanup = Task.CompletedTask;

    internal Unit(Supervisor owner, int id, ProcessSpec spec, TimeProvider time, ILauncher launcher, bool attached)
    {
        _owner = owner;
        Id = id;
        Spec = spec;
        Name = spec.DisplayName;
        _time = time;
        _launcher = launcher;
        _origin = time.GetTimestamp();
        IsAttached = attached;
        _argv = spec.Command.IsDefaultOrEmpty ? [] : [.. spec.Command, .. spec.Args];
        Log = new UnitLog(this, spec.Log, spec.Sink);
        _snapshot = BuildSnapshot();
        _ = Task.Run(Loop);
    }

    internal UnitLog Log { get; }

    public int Id { get; }
    public string Name { get; }
    public ProcessSpec Spec { get; }
    public bool IsAttached { get; }

    public UnitSnapshot Snapshot => _snapshot;
    public int? Pid => _snapshot.Pid;
    public UnitState State => _snapshot.State;
    public ProcessStatus Status => _snapshot.Status;
    public DateTimeOffset? StartTime => _snapshot.StartTime;
    public TimeSpan Uptime => _snapshot.UptimeAt(_time.GetUtcNow());
    public string Command => _snapshot.Command;
    public IReadOnlyList<string> Arguments => _snapshot.Arguments;
    public int RestartCount => _snapshot.RestartCount;
    public ExitStatus? LastExit => _snapshot.LastExit;

    /// <summary>The last lines the unit wrote (both streams, in order), at most <paramref name="last"/>.</summary>
    public IReadOnlyList<OutputLine> RecentOutput(int? last = null) => Log.Ring.Snapshot(last);

    /// <summary>Like <c>tail -n backlog -f</c>: recent lines, then every new line until <paramref name="cancel"/>.</summary>
    public IAsyncEnumerable<OutputLine> FollowOutput(int backlog = 10, CancellationToken cancel = default) => Log.Ring.Follow(backlog, cancel);

    /// <summary>Closes and reopens the unit's log files (after an external logrotate moved them).</summary>
    public void ReopenLogs() => Log.Reopen();

    /// <summary>Lines that could not be written to the unit's log files so far.</summary>
    public long DroppedLogLines => Log.DroppedLines;

    internal bool HasOutputListeners => _owner.HasOutputSinks;
    internal void PublishOutput(OutputLine line) => _owner.PublishOutput(line);
    internal void PublishLogEvent(UnitEvent ev) => _owner.Publish(ev);

    /// <summary>Starts the unit if no process runs or is scheduled; a unit in backoff starts now.</summary>
    public Task StartAsync() => Ask<bool>(tcs => new StartMsg(tcs));

    /// <summary>Graceful stop: stop signal to the group + SIGCONT, grace, SIGKILL to the tree. No restart follows.</summary>
    public Task<StopResult> StopAndWaitAsync(CancellationToken cancel = default) => StopAndWaitAsync("stop requested", cancel);

    /// <summary>As <see cref="StopAndWaitAsync(CancellationToken)"/>, with the reason the stop-requested event gives.</summary>
    public Task<StopResult> StopAndWaitAsync(string why, CancellationToken cancel = default) =>
        Ask<StopResult>(tcs => new StopMsg(tcs, why, false)).WaitAsync(cancel);

    /// <summary>SIGKILL to the whole tree at once (no grace); no restart follows.</summary>
    public Task<StopResult> Kill() => Ask<StopResult>(tcs => new StopMsg(tcs, "kill requested", true));

    /// <summary>Stops (gracefully) and starts again; resets the restart schedule.</summary>
    public Task RestartAsync() => Ask<bool>(tcs => new RestartMsg(tcs));

    /// <summary>Sends a signal to the running process (not its group). False when none runs.</summary>
    public bool Signal(int signal) => _process is { } p && p.Signal(signal);

    /// <summary>Sends a signal to the running process (not its group), from the unit's loop. False when none runs.</summary>
    public Task<bool> SignalAsync(int signal) => Task.FromResult(Signal(signal));

    /// <summary>Each probe of the current run and its last result (empty when the unit has no probes or no run).</summary>
    public IReadOnlyList<ProbeStatus> ProbeStatuses => [];

    /// <summary>Waits for the current process to exit; returns the last exit at once if none runs.</summary>
    public Task<ExitStatus> WaitForExitAsync(CancellationToken cancel = default) =>
        Ask<ExitStatus>(tcs => new WaitExitMsg(tcs)).WaitAsync(cancel);

    internal void Post(Message m) => _inbox.Writer.TryWrite(m);

    /// <summary>Last resort at shutdown, outside the loop (which did not answer in time): SIGKILL to the current run,
    /// its cgroup and its process group.</summary>
    internal void KillNow()
    {
        if (Volatile.Read(ref _process) is not { } p) return;
        p.Scope?.KillAll();
        p.SignalGroup(Signals.SIGKILL);
        p.Signal(Signals.SIGKILL);
    }

    private Task<T> Ask<T>(Func<TaskCompletionSource<T>, Message> make)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_inbox.Writer.TryWrite(make(tcs))) tcs.TrySetException(new ObjectDisposedException($"unit {Name}"));
        return tcs.Task;
    }

    internal abstract record Message;
    private sealed record StartMsg(TaskCompletionSource<bool>? Done) : Message;
    private sealed record StopMsg(TaskCompletionSource<StopResult> Done, string Why, bool Kill) : Message;
    private sealed record RestartMsg(TaskCompletionSource<bool> Done) : Message;
    private sealed record WaitExitMsg(TaskCompletionSource<ExitStatus> Done) : Message;
    private sealed record ChildExited(IProcessHandle Process, ExitStatus Status) : Message;
    private sealed record TimerFired(int Generation) : Message;
    private sealed record TreeStopped(IProcessHandle? Process, TreeStopResult Result) : Message;
    internal sealed record StatusObserved(int Pid, ProcessStatus Status) : Message;
    internal sealed record AdoptMsg(IProcessHandle Process) : Message;
    /// <summary>The supervisor is going away and this unit is detached: leave its process running, never restart it.</summary>
    internal sealed record ReleaseMsg : Message;

    private async Task Loop()
    {
        await foreach (var m in _inbox.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                if (_broken) HandleBroken(m);
                else Handle(m);
            }
            catch (Exception e) { Broke(e); }
        }
    }

    // After an internal error the unit's state can no longer be trusted, so it leaves the normal table: its tree is
    // killed, it ends Stopped, and every request is answered (never left waiting), so neither the other units nor
    // Vigil's shutdown can be wedged by it.
    private bool _broken;
    private Task? _brokenKill;

    private void Broke(Exception e)
    {
        Console.Error.WriteLine($"vigil: internal error in unit {Name}: {e}");
        if (_broken) return;
        _broken = true;
        try { NewTimerGeneration(); } catch (Exception) { }
        try { StopProbes(); } catch (Exception) { }
        _nextRestartIn = null;
        _restartAfterStop = false;
        _stopRequested = true;
        var p = _process;
        Publish(new InternalError(Now, Id, Name, p?.Pid, _state, $"{e.GetType().Name}: {e.Message}"));
        if (p is not null && !p.HasExited)
        {
            ForceState(UnitState.Stopping);
            _brokenKill = _launcher.TerminateAsync(new TreeStopRequest(p, p.Session, [], Signals.SIGKILL, TimeSpan.Zero, Spec.Stop.KillWait) { Scope = p.Scope }, _time)
                .ContinueWith(t => Post(new TreeStopped(p, t.IsCompletedSuccessfully ? t.Result : new TreeStopResult([p.Pid], [], [p.Pid]))), TaskScheduler.Default);
            return;
        }
        BrokenDone(null);
    }

    private void HandleBroken(Message m)
    {
        switch (m)
        {
            case StopMsg s when _brokenKill is { IsCompleted: false }: _stopWaiters.Add(s.Done); break;
            case StopMsg s: s.Done.TrySetResult(new StopResult(Id, Name, null, _lastExit, [], [])); break;
            case StartMsg s: s.Done?.TrySetResult(false); break;
            case RestartMsg r: r.Done.TrySetResult(false); break;
            case WaitExitMsg w when _process is null: w.Done.TrySetResult(_lastExit ?? ExitStatus.NotCollected); break;
            case WaitExitMsg w: _exitWaiters.Add(w.Done); break;
            case ChildExited e when ReferenceEquals(e.Process, _process):
                _lastExit = e.Status;
                _process = null;
                try { _owner.StatusWatcher.Unwatch(this); } catch (Exception) { }
                e.Process.Dispose();
                FinishRun();
                break;
            case TreeStopped ts: BrokenDone(ts); break;
        }
    }

    private void BrokenDone(TreeStopped? ts)
    {
        if (ts?.Process is { } p && ReferenceEquals(p, _process) && p.Exited.IsCompletedSuccessfully)
        {
            _lastExit = p.Exited.Result;
            _process = null;
            p.Dispose();
        }
        ForceState(UnitState.Stopped);
        var result = new StopResult(Id, Name, ts?.Process?.Pid, _lastExit, ts?.Result.Killed ?? [], ts?.Result.Survivors ?? []);
        Publish(new Stopped(Now, Id, Name, ts?.Process?.Pid, ts?.Result.Survivors ?? []));
        foreach (var w in _stopWaiters) w.TrySetResult(result);
        _stopWaiters.Clear();
        FinishRun();
    }

    /// <summary>Only for a broken unit: moves state outside the table (whose invariants no longer hold).</summary>
    private void ForceState(UnitState to)
    {
        _state = to;
        _snapshot = BuildSnapshot();
    }

    private void Handle(Message m)
    {
        switch (m)
        {
            case StartMsg s:
                if (_state is UnitState.Backoff or UnitState.SlowRetry || UnitTransitions.IsTerminal(_state)) { _stopRequested = false; Launch(); }
                s.Done?.TrySetResult(true);
                break;
            case AdoptMsg a:
                Adopt(a.Process);
                break;
            case ReleaseMsg:
                _released = true;
                NewTimerGeneration(); // cancels a pending restart
                StopProbes();
                _owner.StatusWatcher.Unwatch(this);
                break;
            case StopMsg s:
                HandleStop(s);
                break;
            case RestartMsg r:
                _history = RestartHistory.Fresh;
                _stopRequested = false;
                if (_state == UnitState.Running && _process is not null)
                {
                    HandleStop(new StopMsg(new TaskCompletionSource<StopResult>(), "restart requested", false));
                    _restartAfterStop = true;
                }
                else if (_state == UnitState.Stopping) _restartAfterStop = true;
                else Launch();
                r.Done.TrySetResult(true);
                break;
            case WaitExitMsg w:
                if (_process is null) w.Done.TrySetResult(_lastExit ?? ExitStatus.NotCollected);
                else _exitWaiters.Add(w.Done);
                break;
            case ChildExited e when ReferenceEquals(e.Process, _process):
                OnExited(e.Status);
                break;
            case TimerFired t when t.Generation == _timerGeneration && _state is UnitState.Backoff or UnitState.SlowRetry:
                if (_time.GetTimestamp() < _restartDueAt && ArmRestartTimer(t.Generation)) break; // a long delay, waited in pieces
                if (!_leftoverCleanup.IsCompleted)
                {
                    // Leftovers of the previous run still hold their ports: start only when they are gone.
                    int gen = _timerGeneration;
                    _leftoverCleanup.ContinueWith(_ => Post(new TimerFired(gen)), TaskScheduler.Default);
                    break;
                }
                Launch();
                break;
            case TreeStopped ts:
                OnTreeStopped(ts);
                break;
            case StatusObserved so when _process is { } p && p.Pid == so.Pid && so.Status != _status:
                SetStatus(so.Status);
                break;
            case ProbeMsg pm:
                OnProbe(pm.Report);
                break;
        }
    }

    private void Launch()
    {
        NewTimerGeneration();
        _nextRestartIn = null;
        if (IsAttached)
        {
            // We never had the command line of an adopted process, so there is nothing to start again.
            MoveTo(UnitState.Exited, new NotRestarting(Now, Id, Name, "attached process: Vigil did not start it and cannot restart it"));
            return;
        }
        var cwd = CommandResolver.WorkingDirectory(Spec);
        var (argv, failure) = CommandResolver.Argv(Spec, cwd);
        var probeEnv = PrepareProbes();
        var output = Spec.Detach ? null : new UnitOutput(this);
        // A detached unit outlives Vigil on purpose, so it belongs to no run scope: no later Vigil stops it as a leftover.
        var scope = failure is null && !Spec.Detach ? _owner.Membership?.NewRun(Name) : null;
        if (output is not null) Log.Prepare();
        SpawnResult result = failure is not null ? failure : _launcher.Spawn(new LaunchRequest(argv!, cwd,
            CommandResolver.Environment(Spec, probeEnv?.ToDictionary(kv => kv.Key, kv => (string?)kv.Value)))
        {
            Output = Spec.Detach ? OutputMode.Null : OutputMode.Pipe,
            Receiver = output,
            Scope = scope,
        });
        if (result.Failure is { } f)
        {
            scope?.Release();
            StopProbes();
            _lastExit = null;
            var failTime = Now;
            var next = DecideRestart(new RunOutcome(true, TimeSpan.Zero), out var ev);
            MoveTo(next, new SpawnFailed(failTime, Id, Name, next, f));
            if (ev is not null) Publish(ev);
            FinishRun();
            return;
        }
        var child = result.Child!;
        // The run could not get its cgroup (made or joined): it is still tracked, by its marker; say so once per run.
        if (scope?.Degraded is { } degraded) Console.Error.WriteLine($"vigil: {Name}#{child.Pid}: {degraded}");
        _argv = argv!;
        Bind(child);
        if (_startTime is not null || _lastExit is not null || _restartCount > 0) _restartCount++;
        _startTime = Now;
        MoveTo(UnitState.Running, new Spawned(Now, Id, Name, child.Pid, string.Join(' ', argv!), _restartCount));
        StartProbes(child, output is null ? static () => null : output.LastLineAt, cwd);
    }

    private void Adopt(IProcessHandle p)
    {
        Bind(p);
        _argv = ProcFs.ReadCmdline(p.Pid);
        _startTime = Now;
        MoveTo(UnitState.Running, new Spawned(Now, Id, Name, p.Pid, "(attached) " + string.Join(' ', _argv), 0));
        PrepareProbes();
        StartProbes(p, static () => null, CommandResolver.WorkingDirectory(Spec));
    }

    private Task _outputClosed = Task.CompletedTask;

    /// <summary>Completes when the output pipes of the unit's latest run have been read to their end.</summary>
    internal Task OutputClosed => Volatile.Read(ref _outputClosed);

    private void Bind(IProcessHandle p)
    {
        _process = p;
        Volatile.Write(ref _outputClosed, p.OutputClosed);
        _runStartedAt = _time.GetTimestamp();
        _status = ProcessStatus.Running;
        _ = p.Exited.ContinueWith(t => Post(new ChildExited(p, t.Result)), TaskScheduler.Default);
        _owner.StatusWatcher.Watch(this, p.Pid);
    }

    private void OnExited(ExitStatus status)
    {
        var p = _process!;
        var ran = _time.GetElapsedTime(_runStartedAt);
        _lastRan = ran;
        _lastExit = status;
        _process = null;
        StopProbes();
        _owner.StatusWatcher.Unwatch(this);
        p.Dispose();

        // Stopping: the tree stop task is still watching the rest of the tree; it will post TreeStopped.
        // Stopped: the process outlived the stop (it survived SIGKILL and the kill wait, e.g. in disk sleep) and is
        // only now gone. The stop is over, so report the exit without a state change: no restart follows a stop.
        if (_state is UnitState.Stopping or UnitState.Stopped)
        {
            Publish(new Exited(Now, Id, Name, p.Pid, _state, status, ran, Expected: true) { Why = _healthStop is { } h ? "unhealthy: " + h : null });
            SetStatus(ProcessStatus.Terminated);
            _snapshot = BuildSnapshot();
            FinishRun(); // waiters see a snapshot that already holds this exit
            return;
        }

        bool failed = !status.Success;
        var exitTime = Now; // taken before the policy's event so the printed times stay in order
        var next = DecideRestart(new RunOutcome(failed, ran), out var ev);
        SetStatus(ProcessStatus.Terminated, publish: false);
        MoveTo(next, new Exited(exitTime, Id, Name, p.Pid, next, status, ran, Expected: false));
        if (ev is not null) Publish(ev);
        // After the exit's events (its own event comes when it is done); a restart, even at once, is a later message
        // of this loop, so it still finds the cleanup and waits for it.
        CleanLeftovers(p);
        FinishRun();
    }

    /// <summary>After an unexpected exit: stop what the run left behind in its session before the next run.</summary>
    private void CleanLeftovers(IProcessHandle p)
    {
        if (Spec.Detach || (p.Session == 0 && p.Scope is null)) return;
        var left = _launcher.Leftovers(p.Session, [], p.Scope);
        if (left.Count == 0)
        {
            p.Scope?.Release();
            return;
        }
        var req = new TreeStopRequest(null, p.Session, left, Spec.Stop.Signal, Spec.Stop.Timeout, Spec.Stop.KillWait) { Scope = p.Scope };
        _leftoverCleanup = _launcher.TerminateAsync(req, _time).ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully)
                Publish(new LeftoversCleaned(Now, Id, Name, _snapshot.State, t.Result.Targets, t.Result.Survivors));
        }, TaskScheduler.Default);
    }

    /// <summary>Runs the pure policy and returns the next state; <paramref name="ev"/> is the event that explains it.</summary>
    private UnitState DecideRestart(RunOutcome outcome, out UnitEvent? ev)
    {
        if (_stopRequested) { ev = null; return UnitState.Stopped; }
        var now = _time.GetElapsedTime(_origin);
        RestartDecision d;
        if (IsAttached) d = new RestartDecision(RestartAction.None, default, "attached process: Vigil did not start it and cannot restart it");
        else if (_released) d = new RestartDecision(RestartAction.None, default, "detached and released: the supervisor has shut down");
        else (d, _history) = RestartPolicy.Decide(Spec.Restart, _history, outcome, now);
        switch (d.Action)
        {
            case RestartAction.Restart:
                ev = new BackingOff(Now, Id, Name, d.Delay, _history.Attempt);
                ScheduleStart(d.Delay);
                return UnitState.Backoff;
            case RestartAction.SlowRetry:
                ev = new SlowRetrying(Now, Id, Name, d.Delay, d.Reason);
                ScheduleStart(d.Delay);
                return UnitState.SlowRetry;
            case RestartAction.GiveUp:
                ev = new GaveUp(Now, Id, Name, d.Reason);
                return UnitState.Failed;
            default:
                ev = new NotRestarting(Now, Id, Name, d.Reason);
                return UnitState.Exited;
        }
    }

    private void ScheduleStart(TimeSpan delay)
    {
        int gen = NewTimerGeneration();
        _nextRestartIn = delay;
        if (delay <= TimeSpan.Zero) { _restartDueAt = 0; Post(new TimerFired(gen)); return; }
        _restartDueAt = _time.GetTimestamp() + (long)Math.Min(delay.TotalSeconds * _time.TimestampFrequency, long.MaxValue / 2);
        ArmRestartTimer(gen);
    }

    /// <summary>Timers take at most 2^32-2 ms (49.7 days); a longer delay is waited in pieces of this.</summary>
    internal static readonly TimeSpan MaxTimerPiece = TimeSpan.FromDays(24);
    private long _restartDueAt;

    /// <summary>Arms the restart timer for what is left of the delay (at most <see cref="MaxTimerPiece"/>); false when nothing is left.</summary>
    private bool ArmRestartTimer(int gen)
    {
        var left = TimeSpan.FromSeconds((double)(_restartDueAt - _time.GetTimestamp()) / _time.TimestampFrequency);
        if (left <= TimeSpan.Zero) return false;
        _restartTimer?.Dispose();
        // A timer that posts straight to the inbox: one hop less than Task.Delay + ContinueWith (restart latency),
        // and disposable, so a stop does not leave a 15-minute timer behind.
        _restartTimer = _time.CreateTimer(static s => { var (u, g) = ((Unit, int))s!; u.Post(new TimerFired(g)); },
            (this, gen), left < MaxTimerPiece ? left : MaxTimerPiece, Timeout.InfiniteTimeSpan);
        return true;
    }

    /// <summary>Invalidates any pending restart (its TimerFired will be ignored) and releases its timer.</summary>
    private int NewTimerGeneration()
    {
        _restartTimer?.Dispose();
        _restartTimer = null;
        return ++_timerGeneration;
    }

    private void HandleStop(StopMsg s)
    {
        _stopRequested = true;
        switch (_state)
        {
            case UnitState.Running when _process is not null:
                _stopWaiters.Add(s.Done);
                BeginStop(s.Why, s.Kill);
                break;
            case UnitState.Stopping:
                _stopWaiters.Add(s.Done);
                break;
            case UnitState.Backoff or UnitState.SlowRetry:
                NewTimerGeneration();
                _nextRestartIn = null;
                MoveTo(UnitState.Stopped, new Stopped(Now, Id, Name, null, []));
                s.Done.TrySetResult(new StopResult(Id, Name, null, _lastExit, [], []));
                break;
            default:
                if (_state != UnitState.Stopped) MoveTo(UnitState.Stopped, new Stopped(Now, Id, Name, null, []));
                s.Done.TrySetResult(new StopResult(Id, Name, null, _lastExit, [], []));
                break;
        }
    }

    /// <summary>Running → Stopping: stop signal (or SIGKILL) to the tree in a task that posts TreeStopped when done.</summary>
    private void BeginStop(string why, bool kill)
    {
        var p = _process!;
        int sig = kill ? Signals.SIGKILL : Spec.Stop.Signal;
        var grace = kill ? TimeSpan.Zero : Spec.Stop.Timeout;
        StopProbes();
        MoveTo(UnitState.Stopping, new StopRequested(Now, Id, Name, p.Pid, why, sig));
        var req = new TreeStopRequest(p, p.Session, [], sig, grace, Spec.Stop.KillWait)
        {
            Scope = p.Scope,
            OnEscalate = killed => Publish(new StopEscalated(Now, Id, Name, p.Pid, UnitState.Stopping, killed, grace)),
        };
        _ = _launcher.TerminateAsync(req, _time).ContinueWith(
            t => Post(new TreeStopped(p, t.IsCompletedSuccessfully ? t.Result : new TreeStopResult([p.Pid], [], [p.Pid]))),
            TaskScheduler.Default);
    }

    private void OnTreeStopped(TreeStopped ts)
    {
        if (_state != UnitState.Stopping) return;
        // The tree stop can finish before the exit message arrives: account for the exit first, in order.
        if (_process is { } p && ReferenceEquals(p, ts.Process) && p.Exited.IsCompletedSuccessfully)
            OnExited(p.Exited.Result);
        bool healthStop = _healthStop is not null;
        _healthStop = null;
        if (healthStop && !_stopRequested && !_restartAfterStop)
        {
            // Stopped because a probe failed: a failed run, and the restart policy decides, as after a crash.
            var next = DecideRestart(new RunOutcome(true, _lastRan), out var ev);
            MoveTo(next, ev!);
            FinishRun();
            return;
        }
        var result = new StopResult(Id, Name, ts.Process?.Pid, _lastExit, ts.Result.Killed, ts.Result.Survivors);
        MoveTo(UnitState.Stopped, new Stopped(Now, Id, Name, ts.Process?.Pid, ts.Result.Survivors));
        foreach (var w in _stopWaiters) w.TrySetResult(result);
        _stopWaiters.Clear();
        FinishRun();
        if (_restartAfterStop)
        {
            _restartAfterStop = false;
            _stopRequested = false;
            Launch();
        }
    }

    private void FinishRun()
    {
        if (_process is null)
        {
            foreach (var w in _exitWaiters) w.TrySetResult(_lastExit ?? ExitStatus.NotCollected);
            _exitWaiters.Clear();
        }
    }

    private void SetStatus(ProcessStatus to, bool publish = true)
    {
        var from = _status;
        if (from == to) return;
        _status = to;
        _snapshot = BuildSnapshot();
        if (publish) Publish(new StatusChanged(Now, Id, Name, _process?.Pid, _state, from, to));
    }

    /// <summary>The only place the state changes: checks the table, publishes the event and a new snapshot.</summary>
    private void MoveTo(UnitState to, UnitEvent ev)
    {
        if (!UnitTransitions.IsAllowed(_state, to))
            throw new InvalidOperationException($"unit {Name}: transition {_state} → {to} is not in the table (event {ev.Kind})");
        _state = to;
        if (to != UnitState.Running && _process is null && _status is not (ProcessStatus.Initial or ProcessStatus.Terminated))
            _status = ProcessStatus.Terminated;
        _snapshot = BuildSnapshot();
        Publish(ev);
    }

    private void Publish(UnitEvent ev) => _owner.Publish(ev);

    internal DateTimeOffset Now => _time.GetUtcNow();
    internal TimeProvider Time => _time;

    private UnitSnapshot BuildSnapshot() => new(
        Id, Name, _state, _status, _process?.Pid, _startTime,
        _argv.Count > 0 ? _argv[0] : (Spec.Script ?? ""), _argv.Count > 1 ? _argv.Skip(1).ToArray() : [],
        _restartCount, _lastExit, IsAttached, Spec.Detach, _nextRestartIn)
    {
        Ready = Readiness,
        Gauges = _gauges,
    };

    /// <summary>Line-splits a run's output and hands each whole line to the unit's log (reactor thread).</summary>
    private sealed class UnitOutput(Unit unit) : IOutputReceiver
    {
        private readonly LineSplitter _out = new(unit.Log.MaxLine), _err = new(unit.Log.MaxLine);
        private long _lastAt; // TimeProvider timestamp of the last chunk read; 0 = nothing yet (output-stall probes)

        public long? LastLineAt() => Volatile.Read(ref _lastAt) is var t && t != 0 ? t : null;

        public void OnData(int pid, StreamKind stream, ReadOnlySpan<byte> data)
        {
            Volatile.Write(ref _lastAt, unit._time.GetTimestamp());
            var time = unit._time.GetUtcNow(); // when the chunk was read: one clock read per read(), not per line
            unit.Log.Chunk(time, pid, stream, data, stream == StreamKind.Stdout ? _out : _err, final: false);
        }

        public bool Behind(StreamKind stream) => unit.Log.Behind(stream);

        public bool ResumeWhenCaughtUp(StreamKind stream, Action resume) => unit.Log.ResumeWhenCaughtUp(stream, resume);

        public void OnEnd(int pid, StreamKind stream) =>
            unit.Log.Chunk(unit._time.GetUtcNow(), pid, stream, [], stream == StreamKind.Stdout ? _out : _err, final: true);
    }
}

/// <summary>How a stop went: the exit of the main process, who needed SIGKILL, who survived even that.</summary>
public sealed record StopResult(int UnitId, string Name, int? Pid, ExitStatus? Exit, IReadOnlyList<int> Killed, IReadOnlyList<int> Survivors)
{
    public bool Clean => Survivors.Count == 0;
}
