using System.Collections.Immutable;
using System.Threading.Channels;
using Vigil.Launching;
using Vigil.Logs;
using Vigil.Specs;

namespace Vigil.Supervision;

// Overview
// --------
// A unit is one managed process over its whole life (several runs). All of its state lives in the fields below
// and is changed only by Loop(), which handles one message at a time from _inbox: requests from the API (start,
// stop, kill, restart, signal), the child's exit (from the reactor), timer expiries, status observations, probe
// reports, and news from other threads (a stop's escalation, a leftover cleanup, a log file's trouble, a probe
// action's end), which are posted here rather than published where they happen, so a unit's events come out of one
// thread in causal order. Each message is looked up in UnitTransitions' table by (state, message kind); the cell
// names the action to run and the states it may lead to. Every event goes out through MoveTo(), which refuses a
// state the cell does not list, then publishes the event and a fresh snapshot; readers only ever see snapshots.
// Long work (stopping a tree) runs as a task that posts a message when it is done, so the loop is never blocked by a
// process that refuses to die.
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
    private UnitRule _rule = new(UnitAction.Ignore, []); // the cell of the message being handled: what MoveTo may do
    private UnitMessage _handling;
    private IProcessHandle? _process;
    private long _runStartedAt;
    private DateTimeOffset? _startTime;
    private RestartHistory _history = RestartHistory.Fresh;
    private int _restartCount;
    private ExitStatus? _lastExit;
    private int _timerGeneration;
    private ITimer? _restartTimer;
    private TimeSpan? _nextRestartIn;
    private DateTimeOffset _restartScheduledAt; // when the pending restart (_nextRestartIn) was scheduled
    private IReadOnlyList<string> _argv = [];
    private IReadOnlyList<string> _args = [];
    private string? _stopWhy; // why the stop under way began: the expected exit's event says it
    private readonly List<TaskCompletionSource<StopResult>> _stopWaiters = [];
    private readonly List<TaskCompletionSource<ExitStatus>> _exitWaiters = [];
    // Completed by the loop once it has told the cleanup of an ended run's leftovers: the next run waits for it.
    private Task _leftoversTold = Task.CompletedTask;

    internal Unit(Supervisor owner, int id, ProcessSpec spec, TimeProvider time, ILauncher launcher, bool attached, OutputSink? sink = null)
    {
        _owner = owner;
        Id = id;
        _spec = spec;
        Name = spec.DisplayName;
        _time = time;
        _launcher = launcher;
        _origin = time.GetTimestamp();
        IsAttached = attached || spec.Attach is not null;
        SetArgv(spec.Command.IsDefaultOrEmpty ? [] : [.. spec.Command, .. spec.Args]);
        Log = OutputLog.Open(new LogIdentity(id, Name), spec.Log, sink, owner.LogFiles, time, new LogObserver(this));
        _snapshot = BuildSnapshot();
        _ = Task.Run(Loop);
    }

    internal IOutputLog Log { get; }

    /// <summary>The process of the current run, if any (read from any thread: metrics sample its tree).</summary>
    internal IProcessHandle? CurrentProcess => Volatile.Read(ref _process);

    public int Id { get; }
    public string Name { get; }
    public ProcessSpec Spec => _spec;
    private volatile ProcessSpec _spec;

    /// <summary>A reload that changed only what the running process does not depend on (its hooks): the unit keeps
    /// its run and reads the new spec from now on.</summary>
    internal void ApplyInPlace(ProcessSpec spec) => _spec = spec;
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

    /// <summary>A log file's trouble (any thread): published by the loop, stamped with its time and state.</summary>
    internal void PublishLogEvent(UnitEvent ev) => Post(new LogNewsMsg(ev));

    /// <summary>Starts the unit if no process runs or is scheduled; a unit in backoff starts now, and a unit being
    /// stopped starts again once the stop is over.</summary>
    public Task StartAsync() => Ask<bool>(tcs => new StartMsg(tcs));

    /// <summary>Graceful stop: stop signal to the group + SIGCONT, grace, SIGKILL to the tree. No restart follows.</summary>
    public Task<StopResult> StopAndWaitAsync(CancellationToken cancel = default) => StopAndWaitAsync("stop requested", cancel);

    /// <summary>As <see cref="StopAndWaitAsync(CancellationToken)"/>, with the reason the stop-requested event gives.</summary>
    public Task<StopResult> StopAndWaitAsync(string why, CancellationToken cancel = default) =>
        Ask<StopResult>(tcs => new StopMsg(tcs, why, false)).WaitAsync(cancel);

    /// <summary>SIGKILL to the whole tree at once (no grace; also during a graceful stop); no restart follows.</summary>
    public Task<StopResult> Kill() => Ask<StopResult>(tcs => new StopMsg(tcs, "kill requested", true));

    /// <summary>Stops (gracefully) and starts again; resets the restart schedule. Completes once the restart is under way.</summary>
    public Task RestartAsync() => Ask<bool>(tcs => new RestartMsg(tcs));

    /// <summary>Sends a signal to the running process (not its group), from the unit's loop. False when none runs.</summary>
    public Task<bool> SignalAsync(int signal) => Ask<bool>(tcs => new SignalMsg(tcs, signal));

    /// <summary>Waits for the current process to exit; returns the last exit at once if none runs.</summary>
    public Task<ExitStatus> WaitForExitAsync(CancellationToken cancel = default) =>
        Ask<ExitStatus>(tcs => new WaitExitMsg(tcs)).WaitAsync(cancel);

    internal void Post(Message m) => _inbox.Writer.TryWrite(m);

    /// <summary>Last resort at shutdown, outside the loop (which did not answer in time): SIGKILL to the current run,
    /// its cgroup and its process group. Also the loop's own escalation of a stop under way.</summary>
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

    // ---- messages -------------------------------------------------------------------------------------------------

    internal abstract record Message;

    /// <summary>A request: someone waits for its answer, which it always gets.</summary>
    private abstract record Request : Message
    {
        /// <summary>The answer when there is nothing to do.</summary>
        public abstract void Answer(Unit u);
    }

    private sealed record StartMsg(TaskCompletionSource<bool> Done) : Request
    {
        public override void Answer(Unit u) => Done.TrySetResult(true);
    }

    private sealed record StopMsg(TaskCompletionSource<StopResult> Done, string Why, bool Kill) : Request
    {
        public override void Answer(Unit u) => Done.TrySetResult(new StopResult(u.Id, u.Name, null, u._lastExit, [], []));
    }

    private sealed record RestartMsg(TaskCompletionSource<bool> Done) : Request
    {
        public override void Answer(Unit u) => Done.TrySetResult(true);
    }

    private sealed record SignalMsg(TaskCompletionSource<bool> Done, int Signal) : Request
    {
        public override void Answer(Unit u) => Done.TrySetResult(false);
    }

    private sealed record WaitExitMsg(TaskCompletionSource<ExitStatus> Done) : Request
    {
        public override void Answer(Unit u) => Done.TrySetResult(u._lastExit ?? ExitStatus.NotCollected);
    }

    private sealed record ChildExited(IProcessHandle Process, ExitStatus Status) : Message;
    private sealed record TimerFired(int Generation) : Message;
    private sealed record TreeStopped(IProcessHandle? Process, TreeStopResult Result) : Message;
    /// <param name="Lasting">The same status was seen on the previous observation too (a disk sleep that lasts).</param>
    internal sealed record StatusObserved(int Pid, ProcessStatus Status, bool Lasting = false) : Message;
    internal sealed record AdoptMsg(IProcessHandle Process) : Message;
    /// <summary>The supervisor is going away and this unit is detached: leave its process running, never restart it.</summary>
    internal sealed record ReleaseMsg : Message;

    /// <summary>News from another thread, published by the loop as an event of the unit's current state.</summary>
    private abstract record NewsMsg(UnitMessage Kind) : Message
    {
        public abstract UnitEvent Make(Unit u);

        /// <summary>Called by the loop once the event is out.</summary>
        public virtual void Told() { }
    }

    private sealed record EscalatedMsg(IProcessHandle Process, IReadOnlyList<int> Killed, TimeSpan Grace) : NewsMsg(UnitMessage.Escalated)
    {
        public override UnitEvent Make(Unit u) => new StopEscalated(u.Now, u.Id, u.Name, Process.Pid, u._state, Killed, Grace);
    }

    private sealed record LeftoversMsg(TreeStopResult Result, TaskCompletionSource Done) : NewsMsg(UnitMessage.LeftoversCleaned)
    {
        public override UnitEvent Make(Unit u) => new LeftoversCleaned(u.Now, u.Id, u.Name, u._state, Result.Targets, Result.Survivors);
        public override void Told() => Done.TrySetResult();
    }

    private sealed record LogNewsMsg(UnitEvent Event) : NewsMsg(UnitMessage.LogNews)
    {
        public override UnitEvent Make(Unit u) => Event with { Time = u.Now, State = u._state };
    }

    /// <summary>What kind of message this is for the table; messages about something no longer current are stale.</summary>
    private UnitMessage Classify(Message m) => m switch
    {
        StartMsg => UnitMessage.Start,
        StopMsg { Kill: true } => UnitMessage.Kill,
        StopMsg => UnitMessage.Stop,
        RestartMsg => UnitMessage.Restart,
        SignalMsg => UnitMessage.Signal,
        WaitExitMsg => UnitMessage.WaitExit,
        AdoptMsg => UnitMessage.Attach,
        ReleaseMsg => UnitMessage.Release,
        ChildExited e when ReferenceEquals(e.Process, _process) => UnitMessage.Exited,
        TreeStopped => UnitMessage.StopDone,
        TimerFired t when t.Generation == _timerGeneration => UnitMessage.Timer,
        AttachLooked a when a.Generation == _attachGeneration => UnitMessage.AttachPoll,
        StatusObserved so when _process?.Pid == so.Pid && (so.Status != _status || so.Lasting) => UnitMessage.Status,
        ProbeMsg pm when pm.Report.Run != _run || _process is null => UnitMessage.Stale,
        ProbeMsg { Report: { Kind: Health.ProbeReportKind.Failed, Probe.Action: Specs.ProbeAction.Restart or Specs.ProbeAction.Kill } } => UnitMessage.ProbeFailed,
        ProbeMsg => UnitMessage.ProbeNews,
        NewsMsg n => n.Kind,
        _ => UnitMessage.Stale,
    };

    // ---- the loop -------------------------------------------------------------------------------------------------

    private async Task Loop()
    {
        await foreach (var m in _inbox.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try { Handle(m); }
            catch (Exception e)
            {
                // A request caught in the error is still answered: a stop when the abort is over, the rest now.
                if (m is StopMsg s) { if (!_stopWaiters.Contains(s.Done)) _stopWaiters.Add(s.Done); }
                else (m as Request)?.Answer(this);
                Abort(e);
            }
            if (_process is null && _exitWaiters.Count > 0)
            {
                foreach (var w in _exitWaiters) w.TrySetResult(_lastExit ?? ExitStatus.NotCollected);
                _exitWaiters.Clear();
            }
        }
    }

    private void Handle(Message m)
    {
        _handling = Classify(m);
        _rule = UnitTransitions.Rule(_state, _handling);
        switch (_rule.Action)
        {
            case UnitAction.Ignore:
                break;
            case UnitAction.Answer:
                ((Request)m).Answer(this);
                break;
            case UnitAction.Launch:
                if (m is TimerFired t && !RestartIsDue(t)) break;
                if (m is RestartMsg) _history = _history.Reset();
                Launch();
                (m as Request)?.Answer(this);
                break;
            case UnitAction.Adopt:
                Adopt(((AdoptMsg)m).Process);
                break;
            case UnitAction.BeginStop:
                BeginStop(m);
                break;
            case UnitAction.Join:
                _stopWaiters.Add(((StopMsg)m).Done);
                break;
            case UnitAction.Redirect:
                Redirect(m);
                break;
            case UnitAction.Escalate:
                var kill = (StopMsg)m;
                _stopWaiters.Add(kill.Done);
                KillNow();
                MoveTo(UnitState.Stopping, new StopRequested(Now, Id, Name, _process?.Pid, kill.Why, Signals.SIGKILL, UnitState.Stopping));
                break;
            case UnitAction.MarkStopped:
                NewTimerGeneration();
                NewAttachGeneration();
                _nextRestartIn = null;
                MoveTo(UnitState.Stopped, new Stopped(Now, Id, Name, null, []));
                ((Request)m).Answer(this);
                break;
            case UnitAction.Decide:
                OnRunEnded(((ChildExited)m).Status);
                break;
            case UnitAction.RecordExit:
                RecordExit(((ChildExited)m).Status);
                break;
            case UnitAction.FinishStop or UnitAction.FinishThenLaunch or UnitAction.FinishThenDecide:
                FinishStop((TreeStopped)m);
                break;
            case UnitAction.Release:
                NewTimerGeneration();
                StopProbes();
                _owner.StatusWatcher.Unwatch(this);
                MoveTo(UnitState.Released, new Released(Now, Id, Name, _process?.Pid));
                break;
            case UnitAction.Retire:
                NewTimerGeneration();
                NewAttachGeneration();
                _nextRestartIn = null;
                MoveTo(UnitState.Exited, new NotRestarting(Now, Id, Name, ReleasedWhy));
                break;
            case UnitAction.Signal:
                var sig = (SignalMsg)m;
                sig.Done.TrySetResult(_process is { } p && p.Signal(sig.Signal));
                break;
            case UnitAction.WaitExit:
                var wait = (WaitExitMsg)m;
                if (_process is null) wait.Answer(this);
                else _exitWaiters.Add(wait.Done);
                break;
            case UnitAction.UpdateStatus:
                var so = (StatusObserved)m;
                ObserveStatus(so.Status, so.Lasting);
                break;
            case UnitAction.Probe:
                OnProbe(((ProbeMsg)m).Report);
                break;
            case UnitAction.Follow:
                Follow((AttachLooked)m);
                break;
            case UnitAction.Note:
                var news = (NewsMsg)m;
                Note(news.Make(this));
                news.Told();
                break;
            default:
                throw new InvalidOperationException($"unit {Name}: action {_rule.Action} for {_handling} in {_state} has no handler");
        }
    }

    private const string ReleasedWhy = "detached and released: the supervisor has shut down";

    // ---- starting -------------------------------------------------------------------------------------------------

    /// <summary>For a timer that fired: false when the restart must wait more (a long delay's next piece, or the
    /// previous run's leftovers still being stopped), after arranging to be told again.</summary>
    private bool RestartIsDue(TimerFired t)
    {
        if (_time.GetTimestamp() < _restartDueAt && ArmRestartTimer(t.Generation)) return false; // a long delay, waited in pieces
        if (_leftoversTold.IsCompleted) return true;
        // Leftovers of the previous run still hold their ports: start only when they are gone, and after the event that
        // says so (this timer's message may be queued ahead of the cleanup's news: the retry is posted behind it).
        int gen = _timerGeneration;
        _leftoversTold.ContinueWith(_ => Post(new TimerFired(gen)), TaskScheduler.Default);
        return false;
    }

    private void Launch()
    {
        NewTimerGeneration();
        _nextRestartIn = null;
        if (Spec.Attach is not null)
        {
            LaunchAttached();
            return;
        }
        if (IsAttached)
        {
            // We never had the command line of an adopted process, so there is nothing to start again.
            MoveTo(UnitState.Exited, new NotRestarting(Now, Id, Name, "attached process: Vigil did not start it and cannot restart it"));
            return;
        }
        var cwd = CommandResolver.WorkingDirectory(Spec);
        var (argv, failure) = CommandResolver.Argv(Spec, cwd);
        var probeEnv = PrepareProbes();
        var output = Spec.Detach ? null : Log.BeginRun();
        // A detached unit outlives Vigil on purpose, so it belongs to no run scope: no later Vigil stops it as a leftover.
        var scope = failure is null && !Spec.Detach ? _owner.Membership?.NewRun(Name) : null;
        if (output is not null) Log.Prepare();
        // Taken before the spawn, so no line of the new run is older than its spawned event.
        var at = Now;
        SpawnResult result = failure is not null ? failure : _launcher.Spawn(new LaunchRequest(argv!, cwd,
            CommandResolver.Environment(Spec, probeEnv?.ToDictionary(kv => kv.Key, kv => (string?)kv.Value)))
        {
            Output = Spec.Detach ? OutputMode.Null : OutputMode.Pipe,
            Terminal = Spec.Tty,
            Tmux = Spec.Tmux is { } tmux ? new TmuxLaunch(_owner.TmuxSocket, tmux.Session, Name) { Size = tmux.Size } : null,
            Receiver = output,
            Scope = scope,
            Ipc = failure is null && CommandResolver.UsesIpc(Spec, argv!),
            IpcReceiver = Volatile.Read(ref _probes) is { } runProbes ? new ChannelMessages(runProbes) : null,
        });
        if (result.Failure is { } f)
        {
            scope?.Release();
            StopProbes();
            _lastExit = null;
            var failTime = Now;
            var next = DecideRestart(new RunOutcome(true, TimeSpan.Zero), out var ev);
            MoveTo(next, new SpawnFailed(failTime, Id, Name, next, f));
            Note(ev);
            return;
        }
        var child = result.Child!;
        // The run could not get its cgroup (made or joined): it is still tracked, by its marker; say so once per run.
        if (scope?.Degraded is { } degraded) SupervisionLog.RunDegraded(_owner.Log, Name, child.Pid, degraded);
        SetArgv(argv!);
        Bind(child);
        if (_startTime is not null || _lastExit is not null || _restartCount > 0) _restartCount++;
        _startTime = at;
        ApplyAffinity(child);
        MoveTo(UnitState.Running, new Spawned(at, Id, Name, child.Pid, string.Join(' ', argv!), _restartCount));
        StartProbes(child, output is null ? static () => null : output.LastOutputAt, cwd);
    }

    private void Adopt(IProcessHandle p)
    {
        Bind(p);
        SetArgv(ProcFs.ReadCmdline(p.Pid));
        // Ligato's GetStartTime: when the process started (from /proc), not when Vigil found it.
        _startTime = ProcFs.TryReadStat(p.Pid, out var st) && st.StartTime == p.Identity.StartTime && ProcFs.WallClockOf(st.StartTime) is { } began ? began : Now;
        MoveTo(UnitState.Running, new Spawned(Now, Id, Name, p.Pid, "(attached) " + string.Join(' ', _argv), 0));
        PrepareProbes();
        StartProbes(p, static () => null, CommandResolver.WorkingDirectory(Spec));
    }

    private void SetArgv(IReadOnlyList<string> argv)
    {
        _argv = argv;
        _args = argv.Count > 1 ? argv.Skip(1).ToArray() : [];
    }

    private Task _outputClosed = Task.CompletedTask;

    /// <summary>Completes when the output pipes of the unit's latest run have been read to their end.</summary>
    internal Task OutputClosed => Volatile.Read(ref _outputClosed);

    private void Bind(IProcessHandle p)
    {
        Volatile.Write(ref _process, p);
        Volatile.Write(ref _outputClosed, p.OutputClosed);
        _runStartedAt = _time.GetTimestamp();
        _status = _shownStatus = ProcessStatus.Running;
        _ = p.Exited.ContinueWith(t => Post(new ChildExited(p, t.Result)), TaskScheduler.Default);
        _owner.StatusWatcher.Watch(this, p.Pid);
    }

    // ---- a run ends -----------------------------------------------------------------------------------------------

    /// <summary>Forgets the ended process of the run (loop-owned bookkeeping); returns how long it ran.</summary>
    private TimeSpan Unbind(IProcessHandle p, ExitStatus status)
    {
        var ran = _time.GetElapsedTime(_runStartedAt);
        _lastRan = ran;
        _lastExit = status;
        Volatile.Write(ref _process, null);
        StopProbes();
        _owner.StatusWatcher.Unwatch(this);
        p.Dispose();
        return ran;
    }

    /// <summary>The process ended by itself (Running) or after Vigil let it go (Released): the policy decides.</summary>
    private void OnRunEnded(ExitStatus status)
    {
        var p = _process!;
        var ran = Unbind(p, status);
        var exitTime = Now; // taken before the policy's event so the printed times stay in order
        var next = DecideRestart(new RunOutcome(!status.Success, ran), out var ev);
        ObserveStatus(ProcessStatus.Terminated, lasting: true, publish: false);
        MoveTo(next, new Exited(exitTime, Id, Name, p.Pid, next, status, ran, Expected: false));
        Note(ev);
        // After the exit's events (its own event comes when it is done); a restart, even at once, is a later message
        // of this loop, so it still finds the cleanup and waits for it.
        CleanLeftovers(p);
    }

    /// <summary>The process ended during a stop (the tree stop reports separately), or after one it outlived (it survived
    /// SIGKILL, e.g. in disk sleep): reported without a state change; no restart follows a stop.</summary>
    private void RecordExit(ExitStatus status)
    {
        var p = _process!;
        var ran = Unbind(p, status);
        Note(new Exited(Now, Id, Name, p.Pid, _state, status, ran, Expected: true) { Why = _stopWhy });
        ObserveStatus(ProcessStatus.Terminated, lasting: true);
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
        var told = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _leftoversTold = told.Task;
        int[] pids = [.. left.Select(l => l.Pid)];
        _ = _launcher.TerminateAsync(req, _time).ContinueWith(
            t => Post(new LeftoversMsg(t.IsCompletedSuccessfully ? t.Result : new TreeStopResult(pids, [], pids), told)), TaskScheduler.Default);
    }

    /// <summary>Runs the pure policy and returns the next state; <paramref name="ev"/> is the event that explains it.</summary>
    private UnitState DecideRestart(RunOutcome outcome, out UnitEvent ev)
    {
        var now = _time.GetElapsedTime(_origin);
        RestartDecision d;
        if (_state == UnitState.Released) d = new RestartDecision(RestartAction.None, default, ReleasedWhy);
        else if (Spec.Attach is not null) return AfterAttachedRun(out ev);
        else if (IsAttached) d = new RestartDecision(RestartAction.None, default, "attached process: Vigil did not start it and cannot restart it");
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
        _restartScheduledAt = Now;
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

    /// <summary>Invalidates any pending restart (its TimerFired will be stale) and releases its timer.</summary>
    private int NewTimerGeneration()
    {
        _restartTimer?.Dispose();
        _restartTimer = null;
        return ++_timerGeneration;
    }

    // ---- stopping -------------------------------------------------------------------------------------------------

    /// <summary>A running (or released) process: stop signal (or SIGKILL) to the tree in a task that posts TreeStopped when
    /// done. The message says what follows: nothing (stop, kill), a start (restart), the policy (a failed probe).</summary>
    private void BeginStop(Message m)
    {
        var p = _process!;
        string why;
        bool kill;
        UnitState to;
        switch (m)
        {
            case StopMsg s:
                (why, kill, to) = (s.Why, s.Kill, UnitState.Stopping);
                _stopWaiters.Add(s.Done);
                break;
            case RestartMsg:
                (why, kill, to) = ("restart requested", false, UnitState.Restarting);
                _history = _history.Reset();
                break;
            case ProbeMsg { Report: var r }:
                Note(new Unhealthy(Now, Id, Name, p.Pid, _state, r.Probe.Name, r.Detail, r.FailedChecks, r.Probe.Action));
                (why, kill, to) = (r.Detail, r.Probe.Action == Specs.ProbeAction.Kill, UnitState.StoppingUnhealthy);
                break;
            default:
                throw new InvalidOperationException($"unit {Name}: {m.GetType().Name} does not begin a stop");
        }
        _stopWhy = to == UnitState.StoppingUnhealthy ? "unhealthy: " + why : why;
        int sig = kill ? Signals.SIGKILL : Spec.Stop.Signal;
        var grace = kill ? TimeSpan.Zero : Spec.Stop.Timeout;
        StopProbes();
        MoveTo(to, new StopRequested(Now, Id, Name, p.Pid, why, sig, to) { MessageFirst = SendsStoppingMessage(p, sig) ? grace : null });
        (m as RestartMsg)?.Answer(this);
        var req = new TreeStopRequest(p, p.Session, [], sig, grace, Spec.Stop.KillWait)
        {
            Scope = p.Scope,
            // Called from the stop task: the loop publishes it, before the exit and the stop's end it precedes.
            OnEscalate = killed => Post(new EscalatedMsg(p, killed, grace)),
        };
        _ = TerminateAsync(p, req).ContinueWith(
            t => Post(new TreeStopped(p, t.IsCompletedSuccessfully ? t.Result : new TreeStopResult([p.Pid], [], [p.Pid]))),
            TaskScheduler.Default);
    }

    /// <summary>A stop is under way: it goes on, and the request changes what follows it (a start, or nothing).</summary>
    private void Redirect(Message m)
    {
        var (why, to) = m switch
        {
            StopMsg s => (s.Why, UnitState.Stopping),
            ReleaseMsg => ("Vigil is shutting down", UnitState.Stopping),
            RestartMsg => ("restart requested", UnitState.Restarting),
            StartMsg => ("start requested", UnitState.Restarting),
            _ => throw new InvalidOperationException($"unit {Name}: {m.GetType().Name} does not redirect a stop"),
        };
        if (m is RestartMsg) _history = _history.Reset();
        MoveTo(to, new StopRequested(Now, Id, Name, _process?.Pid, why, null, to));
        if (m is StopMsg stop) _stopWaiters.Add(stop.Done); // answered when the stop is over
        else (m as Request)?.Answer(this);
    }

    /// <summary>The tree stop is over: account for the exit if its message has not come yet, then what the cell says.</summary>
    private void FinishStop(TreeStopped? ts)
    {
        // The tree stop can finish before the exit message arrives: account for the exit first, in order.
        if (ts?.Process is { } p && ReferenceEquals(p, _process) && p.Exited.IsCompletedSuccessfully)
            RecordExit(p.Exited.Result);
        _stopWhy = null;
        int? pid = ts?.Process?.Pid;
        var survivors = ts?.Result.Survivors ?? [];
        if (_rule.Action == UnitAction.FinishThenDecide)
        {
            // Stopped because a probe failed: a failed run, and the restart policy decides, as after a crash.
            var next = DecideRestart(new RunOutcome(true, _lastRan), out var ev);
            MoveTo(next, ev);
            return;
        }
        bool thenStart = _rule.Action == UnitAction.FinishThenLaunch;
        var result = new StopResult(Id, Name, pid, _lastExit, ts?.Result.Killed ?? [], survivors);
        if (thenStart) Note(new Stopped(Now, Id, Name, pid, survivors, _state));
        else MoveTo(UnitState.Stopped, new Stopped(Now, Id, Name, pid, survivors));
        foreach (var w in _stopWaiters) w.TrySetResult(result);
        _stopWaiters.Clear();
        if (thenStart) Launch();
    }

    // ---- internal errors ------------------------------------------------------------------------------------------

    // After an internal error the unit's state can no longer be trusted: its tree is killed and it ends Stopped,
    // answering every request meanwhile, so neither the other units nor Vigil's shutdown can be wedged by it. From
    // Stopped it is a normal unit again (pending timers, probes and status polling are gone), so 'vigil start' works.
    private void Abort(Exception e)
    {
        SupervisionLog.UnitFault(_owner.Log, Name, e.ToString(), e);
        try
        {
            _handling = UnitMessage.Fault;
            _rule = UnitTransitions.Rule(_state, UnitMessage.Fault);
            NewTimerGeneration();
            _nextRestartIn = null;
            StopProbes();
            _owner.StatusWatcher.Unwatch(this);
            if (_state == UnitState.Aborting)
            {
                FinishStop(null); // an error while aborting: stop waiting for the kill
                return;
            }
            var p = _process;
            MoveTo(UnitState.Aborting, new InternalError(Now, Id, Name, p?.Pid, UnitState.Aborting, $"{e.GetType().Name}: {e.Message}"));
            if (p is not null && !p.HasExited)
            {
                _ = _launcher.TerminateAsync(new TreeStopRequest(p, p.Session, [], Signals.SIGKILL, TimeSpan.Zero, Spec.Stop.KillWait) { Scope = p.Scope }, _time)
                    .ContinueWith(t => Post(new TreeStopped(p, t.IsCompletedSuccessfully ? t.Result : new TreeStopResult([p.Pid], [], [p.Pid]))), TaskScheduler.Default);
                return;
            }
            FinishStop(null);
        }
        catch (Exception again)
        {
            // Not even the abort works: answer whoever waits, so nothing hangs on this unit.
            SupervisionLog.AbortFailed(_owner.Log, Name, again.ToString(), again);
            foreach (var w in _stopWaiters) w.TrySetResult(new StopResult(Id, Name, null, _lastExit, [], []));
            _stopWaiters.Clear();
        }
    }

    // ---- state and events -----------------------------------------------------------------------------------------

    /// <summary>The only place the state changes and the only way out for events: checks that the table's cell for the
    /// message being handled allows <paramref name="to"/> (the unit's own state for an event that changes nothing),
    /// then publishes the event and a new snapshot.</summary>
    private void MoveTo(UnitState to, UnitEvent ev)
    {
        if (!_rule.Allows(to))
            throw new InvalidOperationException($"unit {Name}: {_state} → {to} (event {ev.Kind}) is not in the table for {_handling} in {_state} ({_rule})");
        if (ev.State != to)
            throw new InvalidOperationException($"unit {Name}: event {ev.Kind} says {ev.State}, but the unit moves to {to}");
        _state = to;
        if (to != UnitState.Running && _process is null && _status is not (ProcessStatus.Initial or ProcessStatus.Terminated))
        {
            NotifyStatus(_status, ProcessStatus.Terminated);
            _status = ProcessStatus.Terminated;
        }
        _snapshot = BuildSnapshot();
        _owner.Publish(ev);
        Notify(ev);
    }

    /// <summary>An event that does not change the state (the cell must list the unit's own state).</summary>
    private void Note(UnitEvent ev) => MoveTo(_state, ev);

    // ---- /proc status -----------------------------------------------------------------------------------------------

    private ProcessStatus _status = ProcessStatus.Initial;      // the last observed: the snapshot's Status
    private ProcessStatus _shownStatus = ProcessStatus.Initial; // what the last status event said (or would have)

    /// <summary>
    /// A new /proc status of the current process (or <see cref="ProcessStatus.Terminated"/> at its exit). The snapshot
    /// follows every change. With <see cref="StatusEvents.All"/> every change is an event. With
    /// <see cref="StatusEvents.Significant"/> (the default) the flips between running and sleeping a busy process
    /// makes all the time are not (they were a third of a ten-minute run's events): only a move to or from stopped,
    /// tracing stop, zombie, dead, terminated, unavailable, or a disk sleep seen on two observations in a row (a short
    /// one is ordinary I/O). Its From is the status the previous event told, so the events read as a chain.
    /// </summary>
    private void ObserveStatus(ProcessStatus to, bool lasting, bool publish = true)
    {
        var before = _status;
        if (to != before)
        {
            _status = to;
            _snapshot = BuildSnapshot();
            NotifyStatus(before, to);
        }
        if (_owner.Options.StatusEvents == StatusEvents.All)
        {
            _shownStatus = to;
            if (publish && to != before) Note(new StatusChanged(Now, Id, Name, _process?.Pid, _state, before, to));
            return;
        }
        if (to == ProcessStatus.DiskSleep && !lasting) return; // not yet: it may be a moment of I/O
        var from = _shownStatus;
        _shownStatus = to;
        if (publish && from != to && (IsNotable(from) || IsNotable(to)))
            Note(new StatusChanged(Now, Id, Name, _process?.Pid, _state, from, to));
    }

    /// <summary>A status worth an event in <see cref="StatusEvents.Significant"/> mode (a disk sleep only once it lasts).</summary>
    private static bool IsNotable(ProcessStatus s) => s is not (ProcessStatus.Running or ProcessStatus.Sleeping or ProcessStatus.Idle or ProcessStatus.Initial);

    internal DateTimeOffset Now => _time.GetUtcNow();
    internal TimeProvider Time => _time;

    private UnitSnapshot BuildSnapshot() => new(
        Id, Name, _state, _status, _process?.Pid, _startTime,
        _argv.Count > 0 ? _argv[0] : (Spec.Script ?? ""), _args,
        _restartCount, _lastExit, IsAttached, Spec.Detach, _nextRestartIn)
    {
        Ready = Readiness,
        Gauges = _gauges,
        NextRestartAt = _nextRestartIn is { } d ? _restartScheduledAt + d : null,
        RestartAttempt = _history.Attempt,
    };

    /// <summary>The log's news: a file's trouble goes to the loop (<see cref="PublishLogEvent"/>), lines to the
    /// supervisor's output listeners.</summary>
    private sealed class LogObserver(Unit unit) : ILogObserver
    {
        public void FileFailed(string path, string why) => Tell(new LogFailed(unit.Now, unit.Id, unit.Name, unit.State, path, why));

        public void FileResumed(string path, long dropped) => Tell(new LogResumed(unit.Now, unit.Id, unit.Name, unit.State, path, dropped));

        public void FileReopened(string path, string why) => Tell(new LogReopened(unit.Now, unit.Id, unit.Name, unit.State, path, why));

        public bool WantsLines => unit._owner.HasOutputSinks;

        public void Line(OutputLine line) => unit._owner.PublishOutput(line);

        private void Tell(UnitEvent ev) => unit.PublishLogEvent(ev);
    }
}

/// <summary>How a stop went: the exit of the main process, who needed SIGKILL, who survived even that.</summary>
public sealed record StopResult(int UnitId, string Name, int? Pid, ExitStatus? Exit, IReadOnlyList<int> Killed, IReadOnlyList<int> Survivors)
{
    public bool Clean => Survivors.Count == 0;
}
