using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Vigil.Launching;

/// <summary>A live process a unit owns: spawned by Vigil (<see cref="ChildProcess"/>) or adopted (<see cref="AttachedProcess"/>).</summary>
public interface IProcessHandle : IDisposable
{
    int Pid { get; }
    ProcessIdentity Identity { get; }
    /// <summary>Completes when the process is gone, with its status when Vigil could collect it.</summary>
    Task<ExitStatus> Exited { get; }
    bool HasExited { get; }
    /// <summary>Signals the process itself, race-free (pidfd).</summary>
    bool Signal(int signal);
    /// <summary>Signals its process group if it leads one and has not exited; false otherwise.</summary>
    bool SignalGroup(int signal);
    /// <summary>The session whose members belong to this unit (its own session when Vigil spawned it), or 0.</summary>
    int Session { get; }
    /// <summary>Completes when every output pipe of the process has been read to its end (at once when Vigil reads
    /// none). A pipe can outlive the process: unread lines still in it, or a grandchild holding it open.</summary>
    Task OutputClosed => Task.CompletedTask;
    /// <summary>The run's membership (its cgroup, or its marker), when Vigil started it as a unit's run.</summary>
    RunScope? Scope => null;
    /// <summary>Vigil's end of the process's Node IPC channel, when it was started with one.</summary>
    IIpcChannel? Ipc => null;
}

/// <summary>How units create and stop processes; the OS implementation is <see cref="OsLauncher"/>, tests plug in fakes.</summary>
public interface ILauncher
{
    SpawnResult Spawn(LaunchRequest request);
    IProcessHandle Attach(int pid);
    /// <summary>Stops a process tree: stop signal + SIGCONT, grace, SIGKILL to every descendant, bounded wait.</summary>
    Task<TreeStopResult> TerminateAsync(TreeStopRequest request, TimeProvider time, CancellationToken cancel = default);
    /// <summary>Live processes of a finished run (its cgroup or marker, and its session) that would otherwise be left behind.</summary>
    IReadOnlyList<ProcessIdentity> Leftovers(int session, IReadOnlyCollection<ProcessIdentity> known, RunScope? scope = null);
    /// <summary>How a supervisor on this launcher tracks its units' processes (cgroup or marker); null when the
    /// launcher starts no OS processes (tests).</summary>
    Membership? CreateMembership(string instance, TrackingMode mode) => null;
    /// <summary>Marks processes of a unit's tree as ones to reap should they become orphaned zombies.</summary>
    void Claim(IEnumerable<int> pids) { }
    /// <summary>Reaps orphaned zombies now (a supervisor does at the end of its shutdown).</summary>
    void ReapOrphans() { }
    /// <summary>Every process on the machine from a /proc scan at most <paramref name="maxAge"/> old (shared by the
    /// resource probes and <c>vigil ls</c> of one supervisor).</summary>
    IReadOnlyList<ProcStat> Scan(TimeSpan maxAge) => ProcFs.All();
}

/// <param name="Leader">The unit's main process, if it is still running.</param>
/// <param name="Session">Its session id (processes in it belong to the unit even after reparenting), or 0.</param>
/// <param name="Known">Descendants recorded earlier (their parent links may be gone).</param>
/// <param name="OnEscalate">Called with the PIDs that get SIGKILL when the grace period runs out.</param>
public sealed record TreeStopRequest(IProcessHandle? Leader, int Session, IReadOnlyCollection<ProcessIdentity> Known, int Signal, TimeSpan Grace, TimeSpan KillWait)
{
    public Action<IReadOnlyList<int>>? OnEscalate { get; init; }
    /// <summary>The run's membership: in cgroup mode the cgroup's members are targets and "gone" means it is empty.</summary>
    public RunScope? Scope { get; init; }
}

/// <param name="Targets">Every process the stop was aimed at (leader and descendants).</param>
/// <param name="Killed">Those still alive after the grace period, which got SIGKILL.</param>
/// <param name="Survivors">Those still alive after the SIGKILL wait.</param>
public sealed record TreeStopResult(IReadOnlyList<int> Targets, IReadOnlyList<int> Killed, IReadOnlyList<int> Survivors)
{
    public bool Escalated => Killed.Count > 0;
}

/// <summary>
/// Starts and stops real processes. Owns what one supervisor needs of its own: the reactor (epoll thread) that reaps its
/// children and reads their pipes, and its /proc scan cache; shares the per-process reaper of its
/// <see cref="ProcessHost"/>. A supervisor made without a launcher creates one and disposes it with itself.
/// </summary>
public sealed class OsLauncher : ILauncher, IDisposable
{
    /// <param name="host">The process's host (subreaper, orphan reaping); <see cref="ProcessHost.Default"/> when null.</param>
    /// <param name="subreaper">Make the process a child subreaper so orphaned grandchildren can still be found, stopped and reaped.</param>
    /// <param name="logger">Where a failing reactor handler is reported; nothing by default.</param>
    public OsLauncher(ProcessHost? host = null, bool subreaper = true, ILogger? logger = null)
    {
        Host = host ?? ProcessHost.Default;
        Host.Prepare(subreaper);
        Reactor = new Reactor(logger ?? NullLogger.Instance);
    }

    /// <summary>The per-process side this launcher's children are reaped through.</summary>
    public ProcessHost Host { get; }
    internal OrphanReaper Reaper => Host.Reaper;
    internal Reactor Reactor { get; }
    internal ProcScanCache Scans { get; } = new();

    public SpawnResult Spawn(LaunchRequest request) =>
        request.Tmux is { } tmux ? _tmux.GetOrAdd(tmux.Socket, s => new TmuxServer(this, s)).Spawn(request, tmux) : Launcher.Spawn(request, this);

    // One tmux server per socket, started at its first unit's run and killed at the end (Dispose).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TmuxServer> _tmux = new(StringComparer.Ordinal);
    public IProcessHandle Attach(int pid) => AttachedProcess.Open(pid, this);
    public Task<TreeStopResult> TerminateAsync(TreeStopRequest request, TimeProvider time, CancellationToken cancel = default) =>
        ProcessTree.TerminateAsync(request, time, this, cancel);
    public IReadOnlyList<ProcessIdentity> Leftovers(int session, IReadOnlyCollection<ProcessIdentity> known, RunScope? scope = null) =>
        ProcessTree.Leftovers(session, known, Scans, scope);
    public Membership CreateMembership(string instance, TrackingMode mode) => Membership.Create(instance, mode, Reaper);
    public void Claim(IEnumerable<int> pids) => Reaper.Claim(pids);
    public void ReapOrphans() => Reaper.Sweep();
    public IReadOnlyList<ProcStat> Scan(TimeSpan maxAge) => Scans.Snapshot(maxAge);

    /// <summary>Kills the tmux servers it started (their units are stopped by then) and lets the reactor end once
    /// nothing is watched: children still running (detached units') are watched, read and reaped until they exit.</summary>
    public void Dispose()
    {
        // Before the reactor goes: killing a tmux server takes a tmux command, a child the reactor reaps.
        foreach (var server in _tmux.Values) server.Kill();
        Reactor.Dispose();
    }
}
