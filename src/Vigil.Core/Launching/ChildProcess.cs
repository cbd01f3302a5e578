namespace Vigil.Launching;

/// <summary>A process Vigil spawned: its pidfd, its exit, and its output pipes (see <see cref="Launcher"/>).</summary>
public sealed unsafe class ChildProcess : IProcessHandle, Reactor.IHandler
{
    private readonly int _pidfd;
    private readonly object _gate = new();
    private bool _closed;
    private volatile bool _reaped;
    private readonly TaskCompletionSource<ExitStatus> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _openStreams;
    private readonly int _outFd, _errFd;
    private readonly Reactor _reactor;
    private readonly OrphanReaper _reaper;

    internal ChildProcess(OsLauncher os, int pid, int pidfd, ulong startTime, string path, LaunchRequest request, int outFd, int errFd, IpcChannel? ipc = null)
    {
        _reactor = os.Reactor;
        _reaper = os.Reaper;
        Pid = pid;
        _pidfd = pidfd;
        Identity = new ProcessIdentity(pid, startTime);
        ExecutablePath = path;
        // Only what the run needs from the request: the argv and the environment (every variable, the bulk of an
        // idle unit's memory otherwise) are not kept for the child's life.
        _receiver = request.Receiver;
        Scope = request.Scope;
        _outFd = outFd;
        _errFd = errFd;
        _ipc = ipc;
        _ipcReceiver = request.IpcReceiver;
        _openStreams = (outFd >= 0 ? 1 : 0) + (errFd >= 0 ? 1 : 0);
        if (_openStreams == 0) _outputClosed.TrySetResult();
    }

    public int Pid { get; }
    public ProcessIdentity Identity { get; }
    public string ExecutablePath { get; }
    private readonly IOutputReceiver? _receiver;
    private readonly IpcChannel? _ipc;
    private readonly IIpcReceiver? _ipcReceiver;

    /// <summary>Vigil's end of the child's Node IPC channel, when it was started with one.</summary>
    public IIpcChannel? Ipc => _ipc;
    // From the task, not _reaped: whoever sees HasExited must also find Exited completed.
    public bool HasExited => _exited.Task.IsCompleted;
    public int Session => Pid; // spawned with POSIX_SPAWN_SETSID
    public RunScope? Scope { get; }

    /// <summary>Completes once the child is reaped, with its exact status.</summary>
    public Task<ExitStatus> Exited => _exited.Task;

    /// <summary>Completes when both output pipes reached end of file (a grandchild holding them open delays this, not <see cref="Exited"/>).</summary>
    public Task OutputClosed => _outputClosed.Task;

    internal void Begin()
    {
        if (_outFd >= 0) _reactor.Register(_outFd, new PipeReader(this, StreamKind.Stdout, _outFd), closeOnRemove: true);
        if (_errFd >= 0) _reactor.Register(_errFd, new PipeReader(this, StreamKind.Stderr, _errFd), closeOnRemove: true);
        _ipc?.Begin(_reactor, Pid, _ipcReceiver);
        _reactor.Register(_pidfd, this, closeOnRemove: true);
    }

    // The reactor ended with the child still running (its epoll failed, or the child came after the reactor's end):
    // nobody watches its pidfd now, so it becomes the orphan reaper's to reap like any other child of a unit's session.
    void Reactor.IHandler.OnAbandoned()
    {
        lock (_gate) _closed = true;
        _reaper.Untrack(Pid);
    }

    bool Reactor.IHandler.OnReady(int fd, uint events)
    {
        byte* info = stackalloc byte[Native.SigInfoSize];
        new Span<byte>(info, Native.SigInfoSize).Clear();
        int rc;
        do rc = Native.waitid(Native.P_PIDFD, _pidfd, info, Native.WEXITED | Native.WNOHANG);
        while (rc < 0 && Native.Errno == Native.EINTR);
        if (rc < 0)
        {
            // ECHILD: someone else reaped it (only possible if a foreign waitpid(-1) ran). Report what we know.
            Finish(ExitStatus.NotCollected);
            return false;
        }
        int sigPid = *(int*)(info + 16);
        if (sigPid == 0) return true; // not exited yet (spurious wake-up)
        int code = *(int*)(info + 8);
        int status = *(int*)(info + 24);
        Finish(code switch
        {
            Native.CLD_EXITED => ExitStatus.Exited(status),
            Native.CLD_DUMPED => ExitStatus.Killed(status, coreDumped: true),
            _ => ExitStatus.Killed(status),
        });
        return false;
    }

    private volatile bool _sentKill; // a SIGKILL went to it (or its group) through this handle

    private void Finish(ExitStatus status)
    {
        // Under the gate: Signal() checks _reaped under it, and the reactor closes the pidfd only after we return.
        lock (_gate) _reaped = true;
        _reaper.Untrack(Pid);
        // A grandchild that inherited the channel's fd must not keep it open for Vigil: the run is over.
        _ipc?.Shutdown();
        // A SIGKILL we sent ourselves (a stop's escalation, a probe's kill) needs no look at the kernel log.
        if (status.Signal != Signals.SIGKILL || _sentKill) { _exited.TrySetResult(status); return; }
        // Was it the OOM killer? Off the reactor thread: the kernel log may take a few milliseconds to read.
        ThreadPool.UnsafeQueueUserWorkItem(_ =>
        {
            bool oom = false;
            try { oom = OomKills.Killed(Identity, Scope?.Cgroup); }
            catch (Exception) { } // only a better word for the exit is lost; the exit itself must be reported
            _exited.TrySetResult(status with { OomKilled = oom });
        }, null);
    }

    /// <summary>Sends a signal to the child itself through its pidfd: cannot reach a process that reused the PID.</summary>
    public bool Signal(int signal)
    {
        lock (_gate)
        {
            if (_closed || _reaped) return false;
            if (Native.PidfdSendSignal(_pidfd, signal) != 0) return false;
            if (signal == Signals.SIGKILL) _sentKill = true;
            return true;
        }
    }

    /// <summary>
    /// Sends a signal to the child's process group (the child leads it). Only while the child is unreaped: then its
    /// PID, and so the group id, cannot have been recycled.
    /// </summary>
    public bool SignalGroup(int signal)
    {
        lock (_gate)
        {
            if (_closed || _reaped) return false;
            if (Native.kill(-Pid, signal) != 0) return false;
            if (signal == Signals.SIGKILL) _sentKill = true;
            return true;
        }
    }

    private void StreamEnded(StreamKind kind)
    {
        _receiver?.OnEnd(Pid, kind);
        if (Interlocked.Decrement(ref _openStreams) == 0) _outputClosed.TrySetResult();
    }

    /// <summary>Stops signalling through this handle. The pidfd itself is closed by the reactor once the child is reaped.</summary>
    public void Dispose()
    {
        lock (_gate) _closed = true;
    }

    private sealed class PipeReader(ChildProcess owner, StreamKind kind, int fd) : Reactor.IHandler, IPausedReader
    {
        [ThreadStatic] private static byte[]? t_buffer;

        public bool OnReady(int ready, uint events)
        {
            var buf = t_buffer ??= new byte[256 * 1024];
            // Bounded work per wake-up so one flooding child cannot starve the others.
            for (int round = 0; round < 16; round++)
            {
                nint n;
                fixed (byte* p = buf) n = Native.read(fd, p, buf.Length);
                if (n > 0)
                {
                    var receiver = owner._receiver;
                    receiver?.OnData(owner.Pid, kind, buf.AsSpan(0, (int)n));
                    if (receiver is not null && receiver.Behind(kind))
                    {
                        // The log file is behind a flood: stop reading this pipe (the child blocks on it, as it would
                        // writing the file itself) until the writer catches up. Paused before registering, so a resume
                        // that comes at once is never lost. Every other child is still served.
                        owner._reactor.Pause(fd);
                        if (!receiver.ResumeWhenCaughtUp(kind, this)) Resume();
                        return true;
                    }
                    if (n < buf.Length) return true; // a short read: most likely drained (level-triggered epoll wakes us if not)
                    continue; // the fd is non-blocking, so another read cannot hang the reactor
                }
                if (n < 0 && (Native.Errno == Native.EAGAIN || Native.Errno == Native.EINTR)) return true;
                owner.StreamEnded(kind); // EOF, or an error we cannot recover from
                return false;
            }
            return true;
        }

        public void Resume() => owner._reactor.Resume(fd);
    }
}

/// <summary>A PID plus its start time: names one process for its whole life, never a later one that reused the PID.</summary>
public readonly record struct ProcessIdentity(int Pid, ulong StartTime)
{
    public bool IsAlive => ProcFs.IsAlive(Pid, StartTime);

    /// <summary>Signals the process only if /proc/PID/stat still shows the same start time (the PID-reuse guard).</summary>
    public bool Signal(int signal) => ProcFs.TryReadStat(Pid, out var st) && st.StartTime == StartTime && Native.kill(Pid, signal) == 0;

    public static ProcessIdentity? Of(int pid) => ProcFs.TryReadStat(pid, out var st) ? new ProcessIdentity(pid, st.StartTime) : null;

    public override string ToString() => Pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
