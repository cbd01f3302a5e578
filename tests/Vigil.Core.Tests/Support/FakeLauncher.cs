using Vigil.Launching;

namespace Vigil.Tests.Support;

/// <summary>How a <see cref="FakeProcess"/> reacts to signals.</summary>
public enum FakeStopBehaviour
{
    /// <summary>Dies of any signal but SIGCONT (like a process with default dispositions).</summary>
    Obeys,
    /// <summary>Survives everything except SIGKILL (a process that traps SIGTERM and carries on).</summary>
    IgnoresTerm,
    /// <summary>Survives even SIGKILL until the test calls <see cref="FakeProcess.Exit"/> (a process stuck in disk sleep).</summary>
    Unkillable,
}

/// <summary>A process that exists only in the test: it exits when the test says so or when a signal kills it.</summary>
public sealed class FakeProcess(int pid, IReadOnlyList<string> argv, TimeSpan spawnedAt, FakeStopBehaviour behaviour) : IProcessHandle
{
    // Continuations run asynchronously so that a test calling Exit() never runs the unit's code on its own thread.
    private readonly TaskCompletionSource<ExitStatus> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();
    private readonly List<int> _signals = [];
    private readonly Dictionary<int, TaskCompletionSource> _signalWaiters = [];

    public int Pid { get; } = pid;
    public ProcessIdentity Identity => new(Pid, 0);
    public IReadOnlyList<string> Argv { get; } = argv;
    /// <summary>Fake-clock time of the spawn.</summary>
    public TimeSpan SpawnedAt { get; } = spawnedAt;
    public FakeStopBehaviour Behaviour { get; } = behaviour;
    public Task<ExitStatus> Exited => _exited.Task;
    public bool HasExited => _exited.Task.IsCompleted;
    public int Session => Pid;
    public bool Disposed { get; private set; }

    /// <summary>Every signal sent to the process or its group, in order.</summary>
    public IReadOnlyList<int> Signals { get { lock (_gate) return _signals.ToList(); } }

    /// <summary>Completes when <paramref name="signal"/> has been sent (at once if it already was).</summary>
    public Task Received(int signal)
    {
        lock (_gate)
        {
            if (_signals.Contains(signal)) return Task.CompletedTask;
            if (!_signalWaiters.TryGetValue(signal, out var w))
                _signalWaiters[signal] = w = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return w.Task;
        }
    }

    /// <summary>Makes the process end now with <paramref name="status"/>; false if it had already ended.</summary>
    public bool Exit(ExitStatus status) => _exited.TrySetResult(status);

    public bool Signal(int signal)
    {
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            if (HasExited) return false;
            _signals.Add(signal);
            _signalWaiters.Remove(signal, out waiter);
        }
        waiter?.TrySetResult();
        bool dies = Behaviour switch
        {
            FakeStopBehaviour.Obeys => signal is not (global::Vigil.Launching.Signals.SIGCONT or 0),
            FakeStopBehaviour.IgnoresTerm => signal == global::Vigil.Launching.Signals.SIGKILL,
            _ => false,
        };
        if (dies) Exit(ExitStatus.Killed(signal));
        return true;
    }

    /// <summary>A spawned process leads its own group, so the group signal reaches it too.</summary>
    public bool SignalGroup(int signal) => Signal(signal);

    public void Dispose() => Disposed = true;

    public override string ToString() => $"fake#{Pid}";
}

/// <param name="At">Fake-clock time of the attempt.</param>
/// <param name="Process">The process started, or null when the attempt failed.</param>
public sealed record SpawnRecord(int Index, IReadOnlyList<string> Argv, TimeSpan At, FakeProcess? Process, SpawnFailure? Failure);

/// <summary>
/// An <see cref="ILauncher"/> that starts <see cref="FakeProcess"/>es and stops them on the fake clock: stop signal,
/// grace on <see cref="FakeTimeProvider"/>, SIGKILL, kill wait. It records every spawn attempt.
/// </summary>
public sealed class FakeLauncher(FakeTimeProvider time) : ILauncher
{
    // Far above Linux's pid_max (2^22): should a fake PID ever reach a real syscall or /proc, it names nothing.
    private int _nextPid = 50_000_000;
    private readonly object _gate = new();
    private readonly List<SpawnRecord> _spawns = [];
    private readonly List<TaskCompletionSource<SpawnRecord>> _waiters = [];
    private readonly List<TreeStopRequest> _stops = [];
    private readonly Queue<SpawnFailure> _failures = new();

    /// <summary>How the processes started from now on react to signals.</summary>
    public FakeStopBehaviour NextBehaviour { get; set; } = FakeStopBehaviour.Obeys;

    public IReadOnlyList<SpawnRecord> Spawns { get { lock (_gate) return _spawns.ToList(); } }
    public int SpawnCount { get { lock (_gate) return _spawns.Count; } }
    public IReadOnlyList<TreeStopRequest> StopRequests { get { lock (_gate) return _stops.ToList(); } }

    /// <summary>The next <paramref name="n"/> spawn attempts fail with <paramref name="failure"/> (default: command not found).</summary>
    public void FailNext(int n, SpawnFailure? failure = null)
    {
        lock (_gate)
            for (int i = 0; i < n; i++)
                _failures.Enqueue(failure ?? new SpawnFailure(SpawnErrorKind.NotFound, "cannot execute 'worker': command not found in PATH (fake)"));
    }

    /// <summary>Completes with spawn attempt number <paramref name="index"/> (0-based) once it happened.</summary>
    public Task<SpawnRecord> Spawn(int index)
    {
        lock (_gate)
        {
            if (index < _spawns.Count) return Task.FromResult(_spawns[index]);
            while (_waiters.Count <= index) _waiters.Add(new TaskCompletionSource<SpawnRecord>(TaskCreationOptions.RunContinuationsAsynchronously));
            return _waiters[index].Task;
        }
    }

    /// <summary>When set, the next spawn throws it (an internal error of the launcher, not a spawn failure).</summary>
    public Exception? ThrowOnNextSpawn { get => _throw; set => _throw = value; }
    private Exception? _throw;

    SpawnResult ILauncher.Spawn(LaunchRequest request)
    {
        if (Interlocked.Exchange(ref _throw, null) is { } boom) throw boom;
        SpawnRecord rec;
        TaskCompletionSource<SpawnRecord>? waiter = null;
        lock (_gate)
        {
            int index = _spawns.Count;
            var at = time.Elapsed;
            rec = _failures.TryDequeue(out var f)
                ? new SpawnRecord(index, request.Argv, at, null, f)
                : new SpawnRecord(index, request.Argv, at, new FakeProcess(++_nextPid, request.Argv, at, NextBehaviour), null);
            _spawns.Add(rec);
            if (index < _waiters.Count) waiter = _waiters[index];
        }
        waiter?.TrySetResult(rec);
        return rec.Process is { } p ? SpawnResult.FromHandle(p) : rec.Failure!;
    }

    /// <summary>A fake process with that PID (external units in unit tests); a PID of <see cref="NotAttachable"/> is refused
    /// as a process that is not running.</summary>
    public IProcessHandle Attach(int pid)
    {
        if (NotAttachable.Contains(pid)) throw new ArgumentException($"cannot attach to pid {pid}: it has exited", nameof(pid));
        var p = new FakeProcess(pid, [], time.Elapsed, NextBehaviour);
        lock (_gate) _attached.Add(p);
        return p;
    }

    private readonly List<FakeProcess> _attached = [];

    /// <summary>The fake processes attached so far, in order.</summary>
    public IReadOnlyList<FakeProcess> Attached { get { lock (_gate) return _attached.ToList(); } }

    /// <summary>PIDs <see cref="Attach"/> refuses.</summary>
    public HashSet<int> NotAttachable { get; } = [];

    public IReadOnlyList<ProcessIdentity> Leftovers(int session, IReadOnlyCollection<ProcessIdentity> known, RunScope? scope = null) => [];

    /// <summary>When set, a tree stop never finishes (a wedged stop: only Vigil's shutdown bound ends the wait).</summary>
    public bool StopsNeverFinish { get; set; }

    public async Task<TreeStopResult> TerminateAsync(TreeStopRequest request, TimeProvider clock, CancellationToken cancel = default)
    {
        lock (_gate) _stops.Add(request);
        if (StopsNeverFinish)
        {
            request.Leader?.SignalGroup(request.Signal);
            await Task.Delay(Timeout.Infinite, cancel).ConfigureAwait(false);
        }
        if (request.Leader is not FakeProcess leader) return new TreeStopResult([], [], []);
        int[] pid = [leader.Pid];

        // Arm the grace timer before the first signal: a test that has seen the signal arrive knows the timer exists,
        // so its next Advance(grace) cannot slip in before the timer is created (which would make the stop hang).
        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var grace = DelayOrNever(request.Grace, clock, done.Token);
        leader.SignalGroup(request.Signal);
        if (request.Signal is not (global::Vigil.Launching.Signals.SIGKILL or global::Vigil.Launching.Signals.SIGCONT)) leader.SignalGroup(global::Vigil.Launching.Signals.SIGCONT);
        await Task.WhenAny(leader.Exited, grace).ConfigureAwait(false);
        if (leader.HasExited)
        {
            done.Cancel(); // disposes the grace timer, so the fake clock holds no stale timers
            return new TreeStopResult(pid, [], []);
        }

        request.OnEscalate?.Invoke(pid);
        var killWait = DelayOrNever(request.KillWait, clock, done.Token);
        leader.Signal(global::Vigil.Launching.Signals.SIGKILL);
        await Task.WhenAny(leader.Exited, killWait).ConfigureAwait(false);
        done.Cancel();
        return new TreeStopResult(pid, pid, leader.HasExited ? [] : pid);
    }

    /// <summary>Task.Delay on the fake clock that ends quietly (not faulted) when cancelled.</summary>
    private static Task DelayOrNever(TimeSpan d, TimeProvider clock, CancellationToken ct) =>
        d <= TimeSpan.Zero ? Task.CompletedTask : Task.Delay(d, clock, ct).ContinueWith(_ => { }, TaskScheduler.Default);
}
