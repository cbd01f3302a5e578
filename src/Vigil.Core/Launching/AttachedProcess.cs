namespace Vigil.Launching;

/// <summary>
/// A process Vigil did not start, watched through a pidfd (readable when it exits; works for non-children).
/// Its exit status can only be collected if it happens to be Vigil's child; otherwise it is reported as unknown.
/// </summary>
public sealed unsafe class AttachedProcess : IProcessHandle, Reactor.IHandler
{
    private readonly int _pidfd;
    private readonly object _gate = new();
    private bool _exited, _closed;
    private readonly TaskCompletionSource<ExitStatus> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private AttachedProcess(int pid, int pidfd, ProcStat stat)
    {
        Pid = pid;
        _pidfd = pidfd;
        Identity = new ProcessIdentity(pid, stat.StartTime);
        Session = stat.Session == pid ? pid : 0;
        IsGroupLeader = stat.ProcessGroup == pid;
    }

    /// <summary>Opens a watch on <paramref name="pid"/>; throws <see cref="ArgumentException"/> when there is no such live process.</summary>
    internal static AttachedProcess Open(int pid, OsLauncher os)
    {
        if (pid <= 0) throw new ArgumentException($"pid must be positive, got {pid}", nameof(pid));
        int fd = Native.PidfdOpen(pid);
        if (fd < 0) throw new ArgumentException($"cannot attach to pid {pid}: {Native.Describe(Native.Errno)}", nameof(pid));
        // Read the start time after opening the pidfd: if the PID was recycled in between, the stat belongs to the
        // process the pidfd refers to anyway (a pidfd pins the process it was opened for).
        if (!ProcFs.TryReadStat(pid, out var st) || st.State is OsState.Zombie or OsState.Dead)
        {
            Native.close(fd);
            throw new ArgumentException($"cannot attach to pid {pid}: it has exited", nameof(pid));
        }
        var p = new AttachedProcess(pid, fd, st);
        if (st.ParentPid != Environment.ProcessId) os.Reaper.Claim([pid]); // if it is orphaned to us later, reap it
        else os.Reaper.Spare(pid); // our child, but not Vigil's spawn: its starter reaps it
        os.Reactor.Register(fd, p, closeOnRemove: true);
        return p;
    }

    public int Pid { get; }
    public ProcessIdentity Identity { get; }
    public int Session { get; }
    public bool IsGroupLeader { get; }
    public Task<ExitStatus> Exited => _exit.Task;
    public bool HasExited => _exit.Task.IsCompleted;

    bool Reactor.IHandler.OnReady(int fd, uint events)
    {
        byte* info = stackalloc byte[Native.SigInfoSize];
        new Span<byte>(info, Native.SigInfoSize).Clear();
        var status = ExitStatus.NotCollected;
        // Only succeeds if it is our child; ECHILD otherwise (then the status is not ours to know). WNOWAIT: peek,
        // never reap — an attached process may be a child of the host's own System.Diagnostics.Process, whose
        // exit code is not ours to take. Orphans adopted by Vigil are reaped by OrphanReaper.
        if (Native.waitid(Native.P_PIDFD, _pidfd, info, Native.WEXITED | Native.WNOHANG | Native.WNOWAIT) == 0 && *(int*)(info + 16) != 0)
        {
            int code = *(int*)(info + 8), st = *(int*)(info + 24);
            status = code == Native.CLD_EXITED ? ExitStatus.Exited(st) : ExitStatus.Killed(st, code == Native.CLD_DUMPED);
        }
        lock (_gate) _exited = true;
        _exit.TrySetResult(status);
        return false;
    }

    public bool Signal(int signal)
    {
        lock (_gate) return !_closed && !_exited && Native.PidfdSendSignal(_pidfd, signal) == 0;
    }

    public bool SignalGroup(int signal)
    {
        // Only a group leader that is still alive: while it lives its PID (= the group id) cannot be recycled.
        lock (_gate) return !_closed && !_exited && IsGroupLeader && Identity.IsAlive && Native.kill(-Pid, signal) == 0;
    }

    public void Dispose()
    {
        lock (_gate) _closed = true;
    }
}
