using System.Runtime.InteropServices;

namespace Vigil.Launching;

/// <summary>
/// The process of a tmux unit's run: the program in a tmux pane, watched through a pidfd (it is the tmux server's
/// child, so tmux reaps it; its status comes from the kernel, see <see cref="ExitFromKernel"/>, or else from the dead pane). Its output comes through the FIFO
/// pipe-pane writes (see <see cref="TmuxServer"/>).
/// </summary>
public sealed class TmuxPane : IProcessHandle, Reactor.IHandler
{
    private readonly TmuxServer _server;
    private readonly int _pidfd;
    private readonly object _gate = new();
    private bool _exited, _closed;
    private readonly TaskCompletionSource<ExitStatus> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly IOutputReceiver? _receiver;
    private readonly string _fifo;

    private TmuxPane(TmuxServer server, string paneId, int pid, int pidfd, ulong startTime, LaunchRequest req, string fifo)
    {
        _server = server;
        PaneId = paneId;
        Pid = pid;
        _pidfd = pidfd;
        Identity = new ProcessIdentity(pid, startTime);
        Scope = req.Scope;
        _receiver = req.Receiver;
        _fifo = fifo;
    }

    /// <summary>Watches the pane's process and reads its FIFO; takes over <paramref name="reader"/>.</summary>
    internal static TmuxPane Open(TmuxServer server, OsLauncher os, string paneId, int pid, LaunchRequest req, int reader, string fifo)
    {
        int pidfd = Native.PidfdOpen(pid);
        ProcFs.TryReadStat(pid, out var st);
        var pane = new TmuxPane(server, paneId, pid, pidfd, st.StartTime, req, fifo);
        os.Reactor.Register(reader, new FifoReader(pane, os.Reactor, reader), closeOnRemove: true);
        // Already gone (a program that ends at once, and reaped): tmux has its status.
        if (pidfd < 0) pane.CollectExit();
        else os.Reactor.Register(pidfd, pane, closeOnRemove: true);
        return pane;
    }

    public int Pid { get; }
    /// <summary>tmux's id of the pane (<c>%N</c>): a target for tmux commands.</summary>
    public string PaneId { get; }
    /// <summary>The tmux server's socket.</summary>
    public string Socket => _server.Socket;
    public ProcessIdentity Identity { get; }
    // tmux makes the pane's process the leader of a new session on the pane's terminal.
    public int Session => Pid;
    public RunScope? Scope { get; }
    public Task<ExitStatus> Exited => _exit.Task;
    public bool HasExited => _exit.Task.IsCompleted;
    public Task OutputClosed => _outputClosed.Task;

    bool Reactor.IHandler.OnReady(int fd, uint events)
    {
        CollectExit();
        return false;
    }

    /// <summary>The process ended: its status from the kernel (or else from the dead pane), then the pane is killed
    /// (which ends the pipe). Runs before the reactor closes the pidfd, which may still hold the status.</summary>
    private void CollectExit()
    {
        lock (_gate) _exited = true;
        var known = ExitFromKernel.Read(Identity, _pidfd);
        _server.EndPaneAsync(PaneId, known).ContinueWith(t => _exit.TrySetResult(t.IsCompletedSuccessfully ? t.Result : ExitStatus.NotCollected), TaskScheduler.Default);
    }

    public bool Signal(int signal)
    {
        lock (_gate) return !_closed && !_exited && _pidfd >= 0 && Native.PidfdSendSignal(_pidfd, signal) == 0;
    }

    public bool SignalGroup(int signal)
    {
        // While it lives its PID (the group's id) cannot be recycled.
        lock (_gate) return !_closed && !_exited && Identity.IsAlive && Native.kill(-Pid, signal) == 0;
    }

    public void Dispose()
    {
        lock (_gate) _closed = true;
    }

    private void OutputEnded()
    {
        _receiver?.OnEnd(Pid, StreamKind.Stdout);
        try { File.Delete(_fifo); }
        catch (IOException) { }
        _outputClosed.TrySetResult();
    }

    /// <summary>Reads the pane's output from the FIFO pipe-pane's <c>cat</c> writes; the end is when tmux closes the pipe.</summary>
    private sealed unsafe class FifoReader(TmuxPane pane, Reactor reactor, int fd) : Reactor.IHandler, IPausedReader
    {
        private readonly byte[] _buffer = new byte[64 * 1024];

        public bool OnReady(int ready, uint events)
        {
            for (int round = 0; round < 16; round++)
            {
                nint n;
                fixed (byte* p = _buffer) n = Native.read(fd, p, _buffer.Length);
                if (n > 0)
                {
                    var receiver = pane._receiver;
                    receiver?.OnData(pane.Pid, StreamKind.Stdout, _buffer.AsSpan(0, (int)n));
                    if (receiver is not null && receiver.Behind(StreamKind.Stdout))
                    {
                        // The log file is behind a flood: stop reading until it catches up, as ChildProcess's pipe reader
                        // does (pipe-pane's cat then blocks on the FIFO; tmux holds what it has not written yet).
                        reactor.Pause(fd);
                        if (!receiver.ResumeWhenCaughtUp(StreamKind.Stdout, this)) Resume();
                        return true;
                    }
                    continue;
                }
                if (n < 0 && (Native.Errno == Native.EAGAIN || Native.Errno == Native.EINTR)) return true;
                pane.OutputEnded(); // EOF: the writer (pipe-pane's cat) is gone
                return false;
            }
            return true;
        }

        public void OnAbandoned() => pane.OutputEnded();

        public void Resume() => reactor.Resume(fd);
    }
}

/// <summary>FIFOs in a private folder, for output that comes from a process Vigil did not start (tmux's pipe-pane).</summary>
internal static unsafe class Fifo
{
    [DllImport("libc", SetLastError = true)] private static extern int mkfifo(byte* path, uint mode);

    /// <summary>Makes <paramref name="folder"/>/<paramref name="name"/> (mode 0600; the folder 0700) and opens its
    /// read end without blocking; null with <paramref name="error"/> when it cannot.</summary>
    public static string? Make(string folder, string name, out int reader, out string error)
    {
        reader = -1;
        error = "";
        if (PrivateFolder.MakeOrCheck(folder) is { } refused) { error = $"folder {folder}: {refused}"; return null; }
        var path = Path.Combine(folder, name);
        File.Delete(path); // a previous Vigil's, of the same run number
        byte* p = Native.Utf8Z(path);
        try
        {
            if (mkfifo(p, 0x180) < 0) { error = $"mkfifo {path}: {Native.Describe(Native.Errno)}"; return null; }
            // Non-blocking: open succeeds with no writer yet, and the reactor's reads never wait.
            reader = Native.open(p, Native.O_RDONLY | Native.O_NONBLOCK | Native.O_CLOEXEC, 0);
            if (reader < 0) { error = $"open {path}: {Native.Describe(Native.Errno)}"; File.Delete(path); return null; }
            return path;
        }
        finally { NativeMemory.Free(p); }
    }
}
