using System.Runtime.InteropServices;
using Vigil.Specs;

namespace Vigil.Launching;

// Overview
// --------
// Why Vigil spawns children itself instead of through System.Diagnostics.Process:
// - Every child must lead its own process group (so a stop signal reaches the whole group), and
//   ProcessStartInfo cannot do that on Unix. posix_spawn with POSIX_SPAWN_SETSID makes the child a session and
//   group leader before exec, with no wrapper process and no window where the child runs in Vigil's group.
// - Process.ExitCode folds "killed by signal N" into 128+N; waitid(2) gives CLD_EXITED / CLD_KILLED / CLD_DUMPED
//   and the exact value, which is what Vigil reports.
// - glibc's posix_spawn (vfork-style clone) returns exec failures as its result, so a missing file or a
//   permission problem is a typed SpawnFailure, not a mysterious exit code 127.
// Reaping: each child gets a pidfd (pidfd_open) registered with the Reactor; when it becomes readable we call
// waitid(P_PIDFD, WNOHANG). Only the owner of a pidfd reaps that child, so there is no waitpid(-1) anywhere.
// Vigil never starts children through Process, so the runtime's SIGCHLD handling has no children of ours to
// reap. Orphaned grandchildren reparented to Vigil (it is a child subreaper) are reaped by the OrphanReaper with
// waitpid on their specific PIDs. Signals to a child go through pidfd_send_signal, which cannot hit a
// recycled PID; signals to other processes check /proc/PID/stat's start time first (see ProcessIdentity).
// The child gets a clean signal state: default dispositions for every signal (the runtime ignores SIGPIPE,
// and ignored dispositions survive exec) and an empty mask.
public static unsafe class Launcher
{
    private const int X_OK = 1, F_OK = 0, ENOTDIR = 20;

    /// <summary>The search path when the child's environment has no PATH.</summary>
    internal const string DefaultPath = "/usr/local/bin:/usr/bin:/bin";

    /// <summary>Starts a process, watched by <paramref name="os"/>'s reactor. Never throws for problems with the request
    /// itself: those come back as a <see cref="SpawnFailure"/>.</summary>
    internal static SpawnResult Spawn(LaunchRequest req, OsLauncher os)
    {
        if (req.Argv.Count == 0 || string.IsNullOrEmpty(req.Argv[0]))
            return new SpawnFailure(SpawnErrorKind.NotFound, "empty command");
        var cwd = req.WorkingDirectory;
        if (CheckWorkingDirectory(cwd) is { } badCwd) return badCwd;
        var envPath = FindEnv(req.Environment, "PATH") ?? DefaultPath;
        var resolved = ResolveExecutable(req.Argv[0], cwd, envPath);
        if (resolved.Failure is { } f) return f;

        int* outPipe = stackalloc int[2] { -1, -1 };
        int* errPipe = stackalloc int[2] { -1, -1 };
        int* inPipe = stackalloc int[2] { -1, -1 };
        int devNull = -1, terminal = -1;
        IpcChannel? ipc = null;
        int ipcChildEnd = -1;
        byte* fa = (byte*)NativeMemory.AllocZeroed(Native.FileActionsSize);
        byte* attr = (byte*)NativeMemory.AllocZeroed(Native.SpawnAttrSize);
        byte* sigs = stackalloc byte[Native.SigSetSize];
        byte* path = null, cwdZ = null;
        byte** argv = null, envp = null;
        try
        {
            fixed (byte* nul = "/dev/null\0"u8)
                devNull = Native.open(nul, Native.O_RDWR | Native.O_CLOEXEC, 0);
            if (devNull < 0) return Fail("open /dev/null", Native.Errno);
            bool pipes = req.Output == OutputMode.Pipe && req.Terminal is null;
            if (pipes)
            {
                if (Native.pipe2(outPipe, Native.O_CLOEXEC) < 0 || Native.pipe2(errPipe, Native.O_CLOEXEC) < 0)
                    return Fail("creating its output pipes", Native.Errno);
                // 1 MiB pipes (the unprivileged maximum by default) instead of 64 KiB: a flooding child blocks and
                // wakes far less often. Pages are only used while data sits in the pipe. Best effort.
                Native.fcntl(outPipe[0], Native.F_SETPIPE_SZ, 1 << 20);
                Native.fcntl(errPipe[0], Native.F_SETPIPE_SZ, 1 << 20);
                // Our read ends must never block the reactor (its loop reads until EAGAIN); the child's write ends
                // are separate open file descriptions and stay blocking, as programs expect.
                if (Native.fcntl(outPipe[0], Native.F_SETFL, Native.O_NONBLOCK) < 0 || Native.fcntl(errPipe[0], Native.F_SETFL, Native.O_NONBLOCK) < 0)
                    return Fail("fcntl(O_NONBLOCK)", Native.Errno);
            }

            if (req.Input is { } input && !FillInput(inPipe, input.Span, out int inputErrno)) return Fail("creating its input pipe", inputErrno);

            Native.posix_spawn_file_actions_init(fa);
            Native.posix_spawn_file_actions_adddup2(fa, inPipe[0] >= 0 ? inPipe[0] : devNull, 0);
            if (pipes)
            {
                Native.posix_spawn_file_actions_adddup2(fa, outPipe[1], 1);
                Native.posix_spawn_file_actions_adddup2(fa, errPipe[1], 2);
            }
            else if (req.Output == OutputMode.Null)
            {
                Native.posix_spawn_file_actions_adddup2(fa, devNull, 1);
                Native.posix_spawn_file_actions_adddup2(fa, devNull, 2);
            }
            if (req.Ipc && !AddIpcChannel(fa, out ipc, out ipcChildEnd, out int ipcErrno)) return Fail("creating its IPC channel (socketpair)", ipcErrno);
            if (req.Terminal is { } term && req.Output == OutputMode.Pipe && (terminal = Pty.Open(term, fa, out var what, out int ptyErrno)) < 0)
                return Fail(what, ptyErrno);
            cwdZ = Native.Utf8Z(cwd);
            Native.posix_spawn_file_actions_addchdir_np(fa, cwdZ);

            Native.posix_spawnattr_init(attr);
            Native.posix_spawnattr_setflags(attr, (short)(Native.POSIX_SPAWN_SETSID | Native.POSIX_SPAWN_SETSIGMASK | Native.POSIX_SPAWN_SETSIGDEF));
            Native.sigemptyset(sigs);
            Native.posix_spawnattr_setsigmask(attr, sigs);
            Native.sigfillset(sigs);
            Native.posix_spawnattr_setsigdefault(attr, sigs);

            path = Native.Utf8Z(resolved.Path!);
            argv = Native.Utf8ZArray(req.Argv);
            var env = terminal >= 0 ? Pty.WithTerm(req.Environment) : req.Environment;
            if (req.Scope is { } scope) env = WithMarker(env, scope.Marker);
            envp = Native.Utf8ZArray(ipc is null ? env : IpcChannel.WithChannel(env));

            int pid, rc, pidfd, pidfdErrno = 0;
            var reaper = os.Reaper;
            lock (reaper.SpawnLock)
            {
                rc = Native.posix_spawn(out pid, path, fa, attr, argv, envp);
                if (rc != 0) return MapSpawnError(rc, req.Argv[0], resolved.Path!);
                // Into the run's cgroup before the new program can fork (see Membership's overview), and back to the
                // open-file limit Vigil was started with (Vigil raised its own; see ResourceLimits).
                req.Scope?.Join(pid);
                os.Host.ApplyOpenFileLimit(pid);
                // The child cannot be reaped by anyone but us (see Overview), so pidfd_open cannot race with a reap.
                pidfd = Native.PidfdOpen(pid);
                if (pidfd < 0) pidfdErrno = Native.Errno;
                else reaper.Track(pid);
            }
            if (pidfd < 0)
            {
                // No handle, so no way to watch it: the child must not run on unsupervised. It is still ours to reap.
                Native.kill(pid, Signals.SIGKILL);
                int ignored;
                while (Native.waitpid(pid, &ignored, 0) < 0 && Native.Errno == Native.EINTR) { }
                req.Scope?.Release();
                return pidfdErrno == 38 /* ENOSYS */
                    ? new SpawnFailure(SpawnErrorKind.Other, "pidfd_open is not available: Vigil needs Linux 5.3 or later")
                    : Fail("watching it (pidfd_open)", pidfdErrno);
            }
            ProcFs.TryReadStat(pid, out var st);
            if (req.Scope is { } sc) sc.NotBefore = st.StartTime;
            var child = new ChildProcess(os, pid, pidfd, st.StartTime, resolved.Path!, req, pipes ? outPipe[0] : terminal, pipes ? errPipe[0] : -1, ipc);
            if (pipes) { outPipe[0] = -1; errPipe[0] = -1; }
            terminal = -1; // the child's reader owns it now
            ipc = null; // the child's now
            child.Begin();
            return child;
        }
        finally
        {
            if (outPipe[0] >= 0) Native.close(outPipe[0]);
            if (outPipe[1] >= 0) Native.close(outPipe[1]);
            if (errPipe[0] >= 0) Native.close(errPipe[0]);
            if (errPipe[1] >= 0) Native.close(errPipe[1]);
            if (inPipe[0] >= 0) Native.close(inPipe[0]);
            if (inPipe[1] >= 0) Native.close(inPipe[1]);
            if (devNull >= 0) Native.close(devNull);
            if (ipcChildEnd >= 0) Native.close(ipcChildEnd);
            ipc?.CloseUnregistered();
            if (terminal >= 0) Native.close(terminal);
            Native.posix_spawn_file_actions_destroy(fa);
            Native.posix_spawnattr_destroy(attr);
            NativeMemory.Free(fa);
            NativeMemory.Free(attr);
            if (path != null) NativeMemory.Free(path);
            if (cwdZ != null) NativeMemory.Free(cwdZ);
            Native.FreeArray(argv);
            Native.FreeArray(envp);
        }

        SpawnFailure Fail(string what, int errno) => new(ResourceLimits.IsExhaustion(errno) ? SpawnErrorKind.Resources : SpawnErrorKind.Other,
            $"cannot start '{req.Argv[0]}': {what} failed: {ResourceLimits.Describe(errno)}");
    }

    /// <summary>A Node IPC channel for the child, as child_process.fork makes one (see <see cref="IpcChannel"/>): after the
    /// stdio dup2s, so a socket end that happens to be numbered 1 or 2 in Vigil is already copied where it belongs.</summary>
    private static bool AddIpcChannel(byte* fa, out IpcChannel? parent, out int childEnd, out int errno)
    {
        (parent, childEnd, errno) = IpcChannel.Create();
        if (parent is null) return false;
        Native.posix_spawn_file_actions_adddup2(fa, childEnd, IpcChannel.ChildFd);
        return true;
    }

    /// <summary>A pipe holding <paramref name="input"/> whose write end is closed, so the child reads it, then end of file.
    /// Written before the spawn, without blocking: what does not fit in the pipe (1 MiB where allowed, else 64 KiB) is
    /// cut, which suits the small messages it is for (a hook's event).</summary>
    private static bool FillInput(int* fds, ReadOnlySpan<byte> input, out int errno)
    {
        errno = 0;
        if (Native.pipe2(fds, Native.O_CLOEXEC) < 0) { errno = Native.Errno; return false; }
        if (input.Length > 65536) Native.fcntl(fds[1], Native.F_SETPIPE_SZ, 1 << 20);
        Native.fcntl(fds[1], Native.F_SETFL, Native.O_NONBLOCK);
        fixed (byte* p = input)
            for (int done = 0; done < input.Length;)
            {
                nint n = Native.write(fds[1], p + done, input.Length - done);
                if (n > 0) done += (int)n;
                else if (n < 0 && Native.Errno == Native.EINTR) continue;
                else break; // full (EAGAIN): the rest is cut
            }
        Native.close(fds[1]);
        fds[1] = -1;
        return true;
    }

    /// <summary>The environment with VIGIL_SCOPE set to the run's marker (replacing one inherited from an outer Vigil).</summary>
    private static List<string> WithMarker(IReadOnlyList<string> env, string marker)
    {
        var list = new List<string>(env.Count + 1);
        foreach (var kv in env)
            if (!kv.StartsWith(Membership.MarkerVariable + "=", StringComparison.Ordinal)) list.Add(kv);
        list.Add(Membership.MarkerVariable + "=" + marker);
        return list;
    }

    private static SpawnFailure MapSpawnError(int errno, string argv0, string path) => errno switch
    {
        Native.ENOENT => new(SpawnErrorKind.NotFound, $"cannot execute '{argv0}': {path} not found (or its interpreter is missing)"),
        Native.EACCES => new(SpawnErrorKind.PermissionDenied, $"cannot execute '{argv0}': permission denied for {path}"),
        Native.ENOEXEC => new(SpawnErrorKind.NotExecutable, $"cannot execute '{argv0}': {path} is not an executable format (add a #! line or set an interpreter)"),
        _ when ResourceLimits.IsExhaustion(errno) => new(SpawnErrorKind.Resources, $"cannot start '{argv0}': {ResourceLimits.Describe(errno)}"),
        _ => new(SpawnErrorKind.Other, $"cannot execute '{argv0}' ({path}): {Native.Describe(errno)}"),
    };

    internal readonly record struct Resolution(string? Path, SpawnFailure? Failure);

    /// <summary>Why the child could not chdir to <paramref name="cwd"/>, from the errno of access(2) on it: a folder
    /// inside one we may not search (0700 of another user) is "permission denied", not "does not exist", which is
    /// all Directory.Exists can say.</summary>
    internal static SpawnFailure? CheckWorkingDirectory(string cwd)
    {
        if (Limits.HasNul(cwd)) return new(SpawnErrorKind.BadWorkingDirectory, $"working directory '{cwd.Replace("\0", "\\0")}': {Limits.NulMessage}");
        // X_OK on a folder is search permission, which chdir needs.
        int errno = AccessErrno(cwd, X_OK);
        return errno switch
        {
            0 when Directory.Exists(cwd) => null,
            0 or ENOTDIR => new(SpawnErrorKind.BadWorkingDirectory, $"working directory '{cwd}' is not a folder"),
            Native.EACCES => new(SpawnErrorKind.PermissionDenied, $"working directory '{cwd}': permission denied (it, or a folder on the way, is not searchable by uid {Native.geteuid()})"),
            Native.ENOENT => new(SpawnErrorKind.BadWorkingDirectory, $"working directory '{cwd}' does not exist"),
            _ => new(SpawnErrorKind.BadWorkingDirectory, $"working directory '{cwd}': {Native.Describe(errno)}"),
        };
    }

    /// <summary>0 when access(2) allows <paramref name="mode"/> on <paramref name="path"/>, else its errno.</summary>
    private static int AccessErrno(string path, int mode)
    {
        byte* p = Native.Utf8Z(path);
        try { return Native.access(p, mode) == 0 ? 0 : Native.Errno; }
        finally { NativeMemory.Free(p); }
    }

    /// <summary>Finds the file exec would run, so a failure can say what was looked for and where.</summary>
    internal static Resolution ResolveExecutable(string argv0, string cwd, string pathVar)
    {
        if (Limits.HasNul(argv0))
            return new(null, new SpawnFailure(SpawnErrorKind.NotFound, $"cannot execute '{argv0.Replace("\0", "\\0")}': the program name {Limits.NulMessage}"));
        if (argv0.Contains('/'))
        {
            var full = Path.GetFullPath(argv0, cwd);
            if (!File.Exists(full))
            {
                if (Directory.Exists(full))
                    return new(null, new SpawnFailure(SpawnErrorKind.PermissionDenied, $"cannot execute '{argv0}': {full} is a directory"));
                // File.Exists is false as well when a folder on the way may not be searched (stat fails with EACCES).
                return new(null, AccessErrno(full, F_OK) == Native.EACCES
                    ? new SpawnFailure(SpawnErrorKind.PermissionDenied, $"cannot execute '{argv0}': permission denied for {full} (a folder on the way is not searchable by uid {Native.geteuid()})")
                    : new SpawnFailure(SpawnErrorKind.NotFound, $"cannot execute '{argv0}': {full} does not exist"));
            }
            return CheckExecutable(argv0, full);
        }
        string? denied = null;
        foreach (var dir in pathVar.Split(':'))
        {
            var candidate = Path.Combine(dir.Length == 0 ? cwd : Path.GetFullPath(dir, cwd), argv0);
            if (File.Exists(candidate)) return CheckExecutable(argv0, candidate);
            // As execvp(3): a candidate we may not reach makes the final error EACCES, not ENOENT.
            if (denied is null && AccessErrno(candidate, F_OK) == Native.EACCES) denied = candidate;
        }
        if (denied is not null)
            return new(null, new SpawnFailure(SpawnErrorKind.PermissionDenied, $"cannot execute '{argv0}': permission denied for {denied} (a folder on the way is not searchable by uid {Native.geteuid()}, so it may be there; no other PATH entry has it)"));
        return new(null, new SpawnFailure(SpawnErrorKind.NotFound, $"cannot execute '{argv0}': command not found in PATH ({pathVar})"));
    }

    private static Resolution CheckExecutable(string argv0, string full)
    {
        byte* p = Native.Utf8Z(full);
        try
        {
            if (Native.access(p, X_OK) == 0) return new(full, null);
            return new(null, new SpawnFailure(SpawnErrorKind.PermissionDenied, $"cannot execute '{argv0}': {full} is not executable (chmod +x, or run it through an interpreter)"));
        }
        finally { NativeMemory.Free(p); }
    }

    internal static string? FindEnv(IReadOnlyList<string> env, string key)
    {
        foreach (var kv in env)
            if (kv.Length > key.Length && kv[key.Length] == '=' && kv.StartsWith(key, StringComparison.Ordinal))
                return kv[(key.Length + 1)..];
        return null;
    }
}

public enum OutputMode { Pipe, Null, Inherit }

/// <summary>What to start: argv (argv[0] resolved through PATH), the folder, the complete environment (KEY=VALUE).</summary>
public sealed record LaunchRequest(IReadOnlyList<string> Argv, string WorkingDirectory, IReadOnlyList<string> Environment)
{
    public OutputMode Output { get; init; } = OutputMode.Pipe;
    /// <summary>Receives raw stdout/stderr bytes on the reactor thread; must not block.</summary>
    public IOutputReceiver? Receiver { get; init; }
    /// <summary>The run's membership (cgroup and marker), or null for processes that belong to no unit (probes).</summary>
    public RunScope? Scope { get; init; }
    /// <summary>What the child reads on stdin, then end of file (at most what one pipe holds); null: /dev/null.</summary>
    public ReadOnlyMemory<byte>? Input { get; init; }
    /// <summary>Give the child a Node IPC channel on fd 3 (NODE_CHANNEL_FD), as child_process.fork does.</summary>
    public bool Ipc { get; init; }
    /// <summary>Takes the lines the child sends on its IPC channel (reactor thread); null: they are drained and dropped.</summary>
    public IIpcReceiver? IpcReceiver { get; init; }
    /// <summary>With <see cref="OutputMode.Pipe"/>: a pseudo-terminal of this size instead of pipes (stdin, stdout and
    /// stderr, and the controlling terminal; its output reaches <see cref="Receiver"/> as stdout). See <see cref="Pty"/>.</summary>
    public Specs.TerminalSpec? Terminal { get; init; }
    /// <summary>Run inside a window of tmux instead (see <see cref="TmuxServer"/>); <see cref="Terminal"/> is then ignored.</summary>
    public TmuxLaunch? Tmux { get; init; }
}

public enum StreamKind { Stdout, Stderr }

public interface IOutputReceiver
{
    void OnData(int pid, StreamKind stream, ReadOnlySpan<byte> data);
    void OnEnd(int pid, StreamKind stream);

    /// <summary>Flow control, asked after each <see cref="OnData"/>: true when the consumer of this stream (a log
    /// file behind a flood) wants the reader to stop reading the pipe for now.</summary>
    bool Behind(StreamKind stream) => false;

    /// <summary>Registers the paused <paramref name="reader"/>, to be resumed once when the consumer has caught up;
    /// false when it already has (the reader then goes on at once).</summary>
    bool ResumeWhenCaughtUp(StreamKind stream, IPausedReader reader) => false;
}

/// <summary>A pipe reader that stopped reading because its consumer is behind (see <see cref="IOutputReceiver.Behind"/>).</summary>
public interface IPausedReader
{
    /// <summary>Reads again; called once per pause, from any thread.</summary>
    void Resume();
}

/// <summary>Either a started process (a <see cref="ChildProcess"/>, or a fake from a test launcher) or a <see cref="SpawnFailure"/>.</summary>
public readonly struct SpawnResult
{
    public IProcessHandle? Child { get; }
    public SpawnFailure? Failure { get; }
    private SpawnResult(IProcessHandle? c, SpawnFailure? f) { Child = c; Failure = f; }
    public static implicit operator SpawnResult(ChildProcess c) => new(c, null);
    public static implicit operator SpawnResult(SpawnFailure f) => new(null, f);
    /// <summary>For <see cref="ILauncher"/> implementations other than <see cref="OsLauncher"/> (tests): a started process.</summary>
    public static SpawnResult FromHandle(IProcessHandle handle) => new(handle ?? throw new ArgumentNullException(nameof(handle)), null);
}
