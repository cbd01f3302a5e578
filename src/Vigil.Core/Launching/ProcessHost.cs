using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Vigil.Launching;

// Overview
// --------
// Most of what the engine keeps belongs to one supervisor: its reactor (epoll thread), its /proc scan cache and its
// membership are created by the supervisor's OsLauncher and end with it. A few things belong to the process and
// cannot be had twice: PR_SET_CHILD_SUBREAPER, the SIGCHLD registration that sweeps orphans, the set of children
// whose pidfd owners reap them (a sweep that did not know another supervisor's children would take their exit
// status) and the open-file limit. Those live here, in one object the executable creates once and passes to every
// supervisor it makes (vigil run: with ReapAllOrphans, since it never uses System.Diagnostics.Process). The C# API
// needs no ceremony: a supervisor made without one uses Default, created on first use, which reaps only what belongs
// to units, so a host that also uses Process keeps its own children's exit codes.
/// <summary>The per-process side of supervision: child subreaper, orphan reaping, the open-file limit.</summary>
public sealed class ProcessHost
{
    private static readonly Lazy<ProcessHost> s_host = new(() => new ProcessHost());
    private readonly object _gate = new();
    private bool _prepared;
    private Native.RLimit? _childOpenFiles; // set once, under _gate, before the first spawn

    /// <param name="reapAllOrphans">Reap every zombie child no pidfd owner reaps (only when nothing in the process
    /// uses System.Diagnostics.Process); see <see cref="OrphanReaper"/>.</param>
    /// <param name="logger">Where the reaper reports a failed sweep; nothing by default.</param>
    // Private: there is one per process (two would each think the other's children orphans).
    private ProcessHost()
    {
        Reaper = new OrphanReaper(reapAllOrphans: false, NullLogger.Instance);
    }

    /// <summary>The process's host, as the C# API uses it: reaps only what belongs to units (unless
    /// <see cref="ForExecutable"/> was called in this process).</summary>
    public static ProcessHost Default => s_host.Value;

    /// <summary>
    /// The same one host, set up for a program that never starts children through System.Diagnostics.Process (the vigil
    /// executable): every zombie child no unit reaps is an orphan of its units, reaped too, and failed sweeps are
    /// reported to <paramref name="logger"/>. Switching that on is for the rest of the process.
    /// </summary>
    public static ProcessHost ForExecutable(ILogger logger)
    {
        var host = s_host.Value;
        host.Reaper.ReapAll(logger);
        return host;
    }

    /// <summary>
    /// The same one host, set up for a program that also starts children through System.Diagnostics.Process (a test
    /// host, a tool that embeds the engine): every zombie child no unit reaps is reaped too, except those in the
    /// process's own session, where Process's children stay (taking one of their exit statuses would leave a
    /// WaitForExit waiting forever). Orphans of units and of started supervisors live in sessions of their own.
    /// Switching that on is for the rest of the process.
    /// </summary>
    public static ProcessHost ForProgramUsingProcess(ILogger logger)
    {
        var host = s_host.Value;
        if (!ProcFs.TryReadStat(Environment.ProcessId, out var self))
            throw new InvalidOperationException("cannot read /proc/self/stat to learn the process's session");
        host.Reaper.ReapAllOutside(self.Session, logger);
        return host;
    }

    /// <summary>Reaps orphaned descendants reparented to this process.</summary>
    public OrphanReaper Reaper { get; }

    /// <summary>Before the first spawn: raises the open-file limit and, if asked, makes the process a child subreaper.
    /// Idempotent.</summary>
    internal void Prepare(bool subreaper)
    {
        if (subreaper) Reaper.Enable();
        lock (_gate)
        {
            if (_prepared) return;
            _prepared = true;
            _childOpenFiles = ResourceLimits.RaiseOpenFiles();
        }
    }

    /// <summary>Gives a just-spawned child the open-file limit Vigil was started with (systemd's), when Vigil raised its own.</summary>
    internal void ApplyOpenFileLimit(int pid)
    {
        if (_childOpenFiles is { } limit) ResourceLimits.ApplyToChild(pid, limit);
    }
}
