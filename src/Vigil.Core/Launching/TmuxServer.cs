using System.Globalization;
using System.Text;
using Vigil.Specs;

namespace Vigil.Launching;

// Overview
// --------
// tmux: { session: S } runs a unit inside a tmux window an operator can attach to, on a tmux server Vigil owns: its
// own socket (<runtime dir>/<instance>.tmux.sock; the runtime dir is 0700 and checked), no user config (-f /dev/null),
// exit-empty off (the server outlives its last session until Vigil kills it) and remain-on-exit on (a dead pane
// stays, so its exit status can be read: the pane's process is the tmux server's child, not Vigil's).
// A run: new-session (or new-window in an existing session) runs `env -i -- VARS… argv…`, so the process gets exactly
// the unit's environment (with its VIGIL_SCOPE marker) and env execs in place: #{pane_pid} is the program itself, a
// session leader on the pane's terminal. In the same tmux command list, pipe-pane starts `cat` into a FIFO Vigil
// reads: commands of one list run before the server reads the new pane's first output, so no line is missed.
// Vigil watches #{pane_pid} through a pidfd (TmuxPane); when it exits, the kernel gives its exit (ExitFromKernel:
// tmux 3.3 now and then misses a pane's SIGCHLD), else #{pane_dead_status} / #{pane_dead_signal} do, and the pane is killed (which closes the pipe: the FIFO's end is the run's end of output).
// Stopping is as for any unit: the stop signal to the pane's process group and session, then SIGKILL.
// tmux client commands are run through Launcher.Spawn like any child (reaped by pidfd), never through Process.
/// <summary>Vigil's own tmux server on one socket: starts it, runs units in its windows, kills it at the end.</summary>
internal sealed class TmuxServer
{
    private readonly OsLauncher _os;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _started;
    private int _runs;

    /// <summary>How long one tmux client command may take before it is given up.</summary>
    internal static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(15);

    public TmuxServer(OsLauncher os, string socket)
    {
        _os = os;
        Socket = socket;
    }

    public string Socket { get; }

    /// <summary>The server's PID once it runs (0 before).</summary>
    public int Pid { get; private set; }

    /// <summary>The result of one tmux client command.</summary>
    internal readonly record struct Result(int Code, string Out, string Err)
    {
        public bool Ok => Code == 0;
    }

    /// <summary>Runs <c>tmux -S socket -f /dev/null ARGS…</c> to its end; a client that starts the server passes it
    /// <paramref name="marker"/> as VIGIL_SCOPE (the server keeps the environment it was started with).</summary>
    internal async Task<Result> RunAsync(IReadOnlyList<string> args, string? marker = null)
    {
        var output = new Collector();
        var env = new List<string>();
        foreach (System.Collections.DictionaryEntry kv in Environment.GetEnvironmentVariables())
            // TMUX (Vigil itself inside someone's tmux) makes some tmux commands refuse to nest.
            if ((string)kv.Key is not ("TMUX" or "TMUX_PANE" or Membership.MarkerVariable)) env.Add($"{kv.Key}={kv.Value}");
        if (marker is not null) env.Add(Membership.MarkerVariable + "=" + marker);
        var spawn = _os.Spawn(new LaunchRequest(["tmux", "-S", Socket, "-f", "/dev/null", .. args], "/", env) { Receiver = output });
        if (spawn.Failure is { } f) return new Result(-1, "", f.Message);
        var child = spawn.Child!;
        try
        {
            var status = await child.Exited.WaitAsync(CommandTimeout, TimeProvider.System).ConfigureAwait(false);
            await child.OutputClosed.WaitAsync(CommandTimeout, TimeProvider.System).ConfigureAwait(false);
            return new Result(status.Code ?? -1, output.Text(StreamKind.Stdout), output.Text(StreamKind.Stderr));
        }
        catch (TimeoutException)
        {
            child.Signal(Signals.SIGKILL);
            return new Result(-1, "", $"tmux {string.Join(' ', args)} did not answer within {Durations.Format(CommandTimeout)}");
        }
        finally { child.Dispose(); }
    }

    /// <summary>Starts the server unless it runs; a server left on the socket by a previous Vigil of the same instance
    /// (killed before it could stop it) is killed first, with every pane in it.</summary>
    /// <param name="scope">The first run's scope: the server carries its instance's marker as a unit "tmux-server" of
    /// its own, so the next Vigil of the instance finds it among the previous one's leftovers (Membership.FindPrevious)
    /// even if Vigil was killed and no tmux unit starts again.</param>
    private async Task<string?> EnsureStartedAsync(RunScope? scope)
    {
        if (_started) return null;
        if (File.Exists(Socket)) await RunAsync(["kill-server"]).ConfigureAwait(false);
        var marker = scope?.Marker is { } m && m.IndexOf('/') is > 0 and var slash ? m[..slash] + "/tmux-server-0" : null;
        var r = await RunAsync(["start-server", ";", "set-option", "-s", "exit-empty", "off", ";", "set-option", "-g", "-w", "remain-on-exit", "on", ";",
            "display-message", "-p", "#{pid}"], marker).ConfigureAwait(false);
        if (!r.Ok) return $"cannot start tmux on {Socket}: {r.Err.Trim()}";
        if (int.TryParse(r.Out.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            Pid = pid;
            // The server daemonizes: reparented to Vigil (a subreaper), it is an orphan of ours to reap when it exits.
            _os.Claim([pid]);
        }
        _started = true;
        return null;
    }

    /// <summary>Starts a run in a window of <paramref name="t"/>'s session (see Overview). Blocks the caller for the few
    /// tmux commands it takes.</summary>
    public SpawnResult Spawn(LaunchRequest req, TmuxLaunch t) => SpawnAsync(req, t).GetAwaiter().GetResult();

    private async Task<SpawnResult> SpawnAsync(LaunchRequest req, TmuxLaunch t)
    {
        if (req.Argv.Count == 0 || string.IsNullOrEmpty(req.Argv[0])) return new SpawnFailure(SpawnErrorKind.NotFound, "empty command");
        if (Launcher.CheckWorkingDirectory(req.WorkingDirectory) is { } badCwd) return badCwd;
        var resolved = Launcher.ResolveExecutable(req.Argv[0], req.WorkingDirectory, Launcher.FindEnv(req.Environment, "PATH") ?? Launcher.DefaultPath);
        if (resolved.Failure is { } notFound) return notFound;
        await _gate.WaitAsync().ConfigureAwait(false);
        string? fifo = null;
        int reader = -1;
        try
        {
            if (await EnsureStartedAsync(req.Scope).ConfigureAwait(false) is { } notStarted) return new SpawnFailure(SpawnErrorKind.Other, notStarted);
            var run = string.Create(CultureInfo.InvariantCulture, $"vigil-run-{++_runs}");
            fifo = Fifo.Make(Socket + ".pipes", run, out reader, out var fifoError);
            if (fifo is null) return new SpawnFailure(SpawnErrorKind.Other, $"cannot start '{req.Argv[0]}' in tmux: {fifoError}");
            var env = new List<string>(req.Environment.Count + 2);
            foreach (var kv in req.Environment)
                if (!kv.StartsWith(Membership.MarkerVariable + "=", StringComparison.Ordinal)) env.Add(kv);
            if (req.Scope is { } scope) env.Add(Membership.MarkerVariable + "=" + scope.Marker);
            if (Launcher.FindEnv(env, "TERM") is null) env.Add("TERM=screen"); // tmux's own default-terminal
            string[] size = ["-x", Num(t.Size.Columns), "-y", Num(t.Size.Rows)];
            bool exists = (await RunAsync(["has-session", "-t", "=" + t.Session]).ConfigureAwait(false)).Ok;
            // The window is made under a name no other has, so the pipe-pane and rename that follow in the same list
            // find it (new-window -d does not make it the current window), then takes the unit's name.
            string[] create = exists
                ? ["new-window", "-d", "-t", "=" + t.Session + ":", "-n", run]
                : ["new-session", "-d", "-s", t.Session, "-n", run, .. size];
            var window = "=" + t.Session + ":=" + run;
            var r = await RunAsync([.. create, "-c", req.WorkingDirectory, "-P", "-F", "#{pane_id} #{pane_pid}",
                "env", "-i", "--", .. env, resolved.Path!, .. req.Argv.Skip(1),
                ";", "pipe-pane", "-O", "-t", window, "exec cat > " + ShellQuote(fifo),
                ";", "rename-window", "-t", window, t.Window]).ConfigureAwait(false);
            if (!r.Ok) return new SpawnFailure(SpawnErrorKind.Other, $"cannot start '{req.Argv[0]}' in tmux session {t.Session}: {r.Err.Trim()}");
            var parts = r.Out.Trim().Split(' ');
            if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                return new SpawnFailure(SpawnErrorKind.Other, $"tmux did not say which process it started (it said '{r.Out.Trim()}')");
            req.Scope?.Join(pid);
            var pane = TmuxPane.Open(this, _os, parts[0], pid, req, reader, fifo);
            reader = -1;
            fifo = null;
            return SpawnResult.FromHandle(pane);
        }
        finally
        {
            if (reader >= 0) Native.close(reader);
            if (fifo is not null) File.Delete(fifo);
            _gate.Release();
        }
    }

    /// <summary>After the pane's process exited: its status from the dead pane, then the pane is killed (which closes
    /// its pipe, the end of the run's output).</summary>
    /// <param name="known">The status when the kernel gave it (see <see cref="ExitFromKernel"/>): tmux is then not asked.</param>
    internal async Task<ExitStatus> EndPaneAsync(string paneId, ExitStatus? known = null)
    {
        if (known is { } fromKernel)
        {
            await RunAsync(["kill-pane", "-t", paneId]).ConfigureAwait(false);
            return fromKernel;
        }
        var status = ExitStatus.NotCollected;
        // tmux has the status a moment after the pidfd fires: once it has reaped the process (SIGCHLD). The pane can
        // already read as dead before that (tmux 3.3 closes it at the terminal's end of file, with both status fields
        // still empty), so it is asked until one of them is there. Bounded (5 s), on real time: tmux is a real process.
        for (int i = 0; i < 200; i++)
        {
            var r = await RunAsync(["display-message", "-p", "-t", paneId, "#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}"]).ConfigureAwait(false);
            if (!r.Ok) return status; // the pane is gone (killed from outside): its status went with it
            var f = r.Out.Trim().Split(':');
            if (f.Length == 3 && f[0] == "1")
            {
                if (int.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var sig) && sig > 0) { status = ExitStatus.Killed(sig); break; }
                if (int.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out var code)) { status = ExitStatus.Exited(code); break; }
            }
            await Task.Delay(TimeSpan.FromMilliseconds(25), TimeProvider.System).ConfigureAwait(false);
        }
        await RunAsync(["kill-pane", "-t", paneId]).ConfigureAwait(false);
        return status;
    }

    /// <summary>Kills the server and every window in it (Vigil's shutdown), waiting at most <see cref="CommandTimeout"/>.</summary>
    public void Kill()
    {
        if (!_started) return;
        int pidfd = Pid > 0 ? Native.PidfdOpen(Pid) : -1;
        RunAsync(["kill-server"]).GetAwaiter().GetResult();
        _started = false;
        if (pidfd >= 0)
        {
            // The server is Vigil's child (see EnsureStartedAsync), and it exits a moment after kill-server answers:
            // wait for that and reap it here, or a Vigil about to exit would hand it to init as a zombie.
            if (!WaitExit(pidfd, 5000))
            {
                Native.PidfdSendSignal(pidfd, Signals.SIGKILL);
                WaitExit(pidfd, 5000);
            }
            Native.close(pidfd);
        }
        try { Directory.Delete(Socket + ".pipes", recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)] private static extern unsafe int poll(long* fds, nuint count, int timeoutMs);

    /// <summary>Waits at most <paramref name="ms"/> for the process of <paramref name="pidfd"/> to exit and reaps it if it is
    /// Vigil's child; true when it has exited.</summary>
    private static unsafe bool WaitExit(int pidfd, int ms)
    {
        long pfd = (uint)pidfd | ((long)Native.EPOLLIN << 32); // struct pollfd { int fd; short events, revents; }
        int rc;
        do rc = poll(&pfd, 1, ms);
        while (rc < 0 && Native.Errno == Native.EINTR);
        if (rc <= 0) return false;
        byte* info = stackalloc byte[Native.SigInfoSize];
        Native.waitid(Native.P_PIDFD, pidfd, info, Native.WEXITED | Native.WNOHANG); // ECHILD when not ours: nothing to reap
        return true;
    }

    private static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>'…' for sh, with any ' inside closed, escaped and reopened.</summary>
    internal static string ShellQuote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    /// <summary>Keeps what a tmux client prints.</summary>
    private sealed class Collector : IOutputReceiver
    {
        private readonly MemoryStream _out = new(), _err = new();

        public void OnData(int pid, StreamKind stream, ReadOnlySpan<byte> data)
        {
            var s = stream == StreamKind.Stdout ? _out : _err;
            lock (s) s.Write(data);
        }

        public void OnEnd(int pid, StreamKind stream) { }

        public string Text(StreamKind stream)
        {
            var s = stream == StreamKind.Stdout ? _out : _err;
            lock (s) return Encoding.UTF8.GetString(s.GetBuffer(), 0, (int)s.Length);
        }
    }
}

/// <summary>Where a tmux unit's run goes: the server's socket, the session, the window's name and size.</summary>
public sealed record TmuxLaunch(string Socket, string Session, string Window)
{
    public TerminalSpec Size { get; init; } = TerminalSpec.Default;
}
