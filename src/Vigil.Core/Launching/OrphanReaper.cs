using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Vigil.Launching;

/// <summary>
/// Makes Vigil a child subreaper (prctl PR_SET_CHILD_SUBREAPER) so descendants whose parent died are reparented
/// to Vigil instead of init, where Vigil can still find and stop them; then reaps those orphans when they exit.
/// Reaping is by specific PID only (waitpid(pid, WNOHANG)) and skips Vigil's own spawned children, which their
/// pidfd owners reap: never waitpid(-1).
/// Which zombies are ours to reap: by default only those that belong to a unit — in a session Vigil created by
/// spawning, or recorded as a unit's descendant during a tree stop — so a library host that also uses
/// System.Diagnostics.Process keeps its own children's exit codes. The vigil executable never uses Process and
/// sets <see cref="ReapAllOrphans"/>, so a daemon that double-forked out of its session is reaped too.
/// One per process, in its <see cref="ProcessHost"/>: a zombie is the process's child whichever supervisor's unit it
/// came from, and every sweep must know every child a pidfd owner reaps (else one supervisor's sweep would take
/// another's exit status), so the sets below are shared by the supervisors of a host, on purpose and in the open.
/// </summary>
public sealed class OrphanReaper
{
    /// <summary>Held while spawning and tracking a child (and by sweeps while they decide), so no sweep can reap a
    /// child between its spawn and its tracking.</summary>
    internal readonly object SpawnLock = new();
    private readonly HashSet<int> Tracked = [];
    // The three sets below forget entries that a full sweep no longer finds in /proc. The scan runs without the lock,
    // so an entry added while it ran (a process attached and spared a moment after the scan listed /proc) would look
    // gone: each entry remembers the scan epoch it was added in, and only those added before the scan began are pruned.
    private readonly EpochSet Sessions = new();
    private readonly EpochSet KnownDescendants = new();
    private readonly EpochSet Spared = new();
    private long _epoch;
    private volatile ILogger _log;
    private volatile bool _reapAll;
    private volatile int _spareSession; // 0: none; else a zombie child in this session is left to its owner

    internal OrphanReaper(bool reapAllOrphans, ILogger log)
    {
        _reapAll = reapAllOrphans;
        _log = log;
    }

    /// <summary>Reap every zombie child that no pidfd owner reaps (safe only when nothing in the process uses System.Diagnostics.Process).</summary>
    public bool ReapAllOrphans => _reapAll;

    /// <summary>From now on, reap every orphan and report to <paramref name="log"/> (see <see cref="ProcessHost.ForExecutable"/>).</summary>
    internal void ReapAll(ILogger log)
    {
        _log = log; // a session spared by ReapAllOutside stays spared: the program still uses Process
        _reapAll = true;
    }

    /// <summary>From now on, reap every orphan that is not in <paramref name="session"/> (the process's own: the
    /// children System.Diagnostics.Process starts stay in it and are reaped by it), and report to
    /// <paramref name="log"/> (see <see cref="ProcessHost.ForProgramUsingProcess"/>).</summary>
    internal void ReapAllOutside(int session, ILogger log)
    {
        _log = log;
        _spareSession = session;
        _reapAll = true;
    }
    private PosixSignalRegistration? _sigchld;
    private int _sweepPending;
    private long _reaped;

    /// <summary>Number of orphaned descendants reaped so far.</summary>
    public long ReapedCount => Interlocked.Read(ref _reaped);

    /// <summary>True once the process is a child subreaper (after <see cref="Enable"/>, where the kernel allows it).</summary>
    public bool IsSubreaper { get; private set; }

    /// <summary>Idempotent. Call once at start-up, before spawning.</summary>
    internal void Enable()
    {
        lock (SpawnLock)
        {
            if (_sigchld != null) return;
            IsSubreaper = Native.prctl(Native.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
            _sigchld = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, _ => RequestSweep());
        }
    }

    internal void Track(int pid) // caller holds SpawnLock
    {
        Tracked.Add(pid);
        Sessions.Add(pid, Volatile.Read(ref _epoch)); // spawned with POSIX_SPAWN_SETSID: the child's PID is its session id
    }

    /// <summary>True for a child spawned by Vigil (its pidfd owner reaps it). Caller holds <see cref="SpawnLock"/>.</summary>
    internal bool IsTrackedLocked(int pid) => Tracked.Contains(pid);

    /// <summary>Marks processes found in a unit's tree as ours to reap should they become orphaned zombies.</summary>
    internal void Claim(IEnumerable<int> pids)
    {
        lock (SpawnLock) foreach (var p in pids) KnownDescendants.Add(p, Volatile.Read(ref _epoch));
    }

    /// <summary>A child the program started by other means (System.Diagnostics.Process), for instance in a session of
    /// its own (through <c>setsid</c>), where a reaper set up by <see cref="ProcessHost.ForProgramUsingProcess"/> would
    /// take it for an orphan: never reaped here, even once a tree stop has claimed it, so its starter keeps its exit
    /// status (the runtime aborts the process when a child it started has been reaped behind its back). Attaching a
    /// unit to the program's own child spares it too. Forgotten once the process is gone.</summary>
    public void Spare(int pid)
    {
        lock (SpawnLock) Spared.Add(pid, Volatile.Read(ref _epoch));
    }

    // No sweep here: a spawned child's exit is reaped by its pidfd owner, and orphans raise their own SIGCHLD.
    // (A sweep per exit cost a /proc scan on the restart path.)
    internal void Untrack(int pid)
    {
        lock (SpawnLock) Tracked.Remove(pid);
    }

    private static readonly TimeSpan MinSweepInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan FullSweepInterval = TimeSpan.FromSeconds(10);
    private long _lastFullSweep;
    private long _lastSweep;

    /// <summary>
    /// Coalesces bursts of SIGCHLD into one sweep at a time, at most one per 100 ms: a sweep scans all of /proc,
    /// and a crash loop raises SIGCHLD for every run. An orphan stays a zombie for 100 ms at most.
    /// </summary>
    public void RequestSweep()
    {
        if (Interlocked.Exchange(ref _sweepPending, 1) == 1) return;
        var since = System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastSweep));
        var wait = since >= MinSweepInterval ? TimeSpan.Zero : MinSweepInterval - since;
        if (wait == TimeSpan.Zero) ThreadPool.UnsafeQueueUserWorkItem(_ => RunSweep(), null);
        else _ = Task.Delay(wait).ContinueWith(_ => RunSweep(), TaskScheduler.Default);

        void RunSweep()
        {
            Interlocked.Exchange(ref _sweepPending, 0);
            Interlocked.Exchange(ref _lastSweep, System.Diagnostics.Stopwatch.GetTimestamp());
            // On a pool thread: an exception here would end the process and orphan every child. Report, go on; the next
            // SIGCHLD sweeps again.
            try { Sweep(); }
            catch (Exception e) { LaunchingLog.ReapFailed(_log, e.Message, e); }
        }
    }

    /// <summary>Tests: runs between a sweep's scan of /proc and its decisions.</summary>
    internal Action? AfterScan { get; set; }

    /// <summary>Tests: the next sweep scans the whole of /proc (and prunes).</summary>
    internal void FullSweepNext() => Interlocked.Exchange(ref _lastFullSweep, 0);

    /// <summary>Tests: whether <paramref name="pid"/> is spared.</summary>
    internal bool IsSpared(int pid)
    {
        lock (SpawnLock) return Spared.Contains(pid);
    }

    /// <summary>Reaps every zombie child of Vigil that no pidfd owner is responsible for. Returns how many.</summary>
    public unsafe int Sweep()
    {
        int self = Environment.ProcessId, n = 0;
        // Scan /proc without the lock (milliseconds with many processes; spawns wait on the lock). Deciding under
        // the lock is still race-free: a child spawned after the scan is not in it, and one spawned before is
        // tracked by the time we hold the lock (spawn and Track happen together under it).
        // Usually only Vigil's own children are read (/proc/self/task/*/children): a sweep runs on every SIGCHLD
        // (at most 10 a second), and exec probes raise one per check. Every 10 s, or without that file, the whole of
        // /proc, which also prunes the session and descendant sets.
        long epoch = Interlocked.Increment(ref _epoch); // before the scan: what is added from here on is not pruned by it
        var children = ProcFs.ChildrenOfSelf();
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        bool full = children is null || System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastFullSweep), now) >= FullSweepInterval;
        List<ProcStat> all;
        if (full)
        {
            Interlocked.Exchange(ref _lastFullSweep, now);
            all = ProcFs.All();
        }
        else
        {
            all = new List<ProcStat>(children!.Count);
            foreach (var pid in children) if (ProcFs.TryReadStat(pid, out var st)) all.Add(st);
        }
        AfterScan?.Invoke();
        lock (SpawnLock)
        {
            var liveSessions = new HashSet<int>();
            var livePids = new HashSet<int>();
            foreach (var p in all)
            {
                livePids.Add(p.Pid);
                liveSessions.Add(p.Session);
                if (p.ParentPid != self || p.State != OsState.Zombie || Tracked.Contains(p.Pid) || Spared.Contains(p.Pid)) continue;
                if (!Sessions.Contains(p.Session) && !KnownDescendants.Contains(p.Pid)
                    && (!ReapAllOrphans || p.Session == _spareSession)) continue;
                int status;
                if (Native.waitpid(p.Pid, &status, Native.WNOHANG) == p.Pid) n++;
            }
            // Forget sessions and descendants that no longer exist, so the sets stay as small as the live tree.
            if (full)
            {
                Sessions.PruneBefore(epoch, s => liveSessions.Contains(s) || Tracked.Contains(s));
                KnownDescendants.PruneBefore(epoch, livePids.Contains);
                Spared.PruneBefore(epoch, livePids.Contains);
            }
        }
        Interlocked.Add(ref _reaped, n);
        return n;
    }

    /// <summary>PIDs (or session ids), each with the scan epoch it was added in.</summary>
    private sealed class EpochSet
    {
        private readonly Dictionary<int, long> _added = [];

        public void Add(int id, long epoch) => _added[id] = epoch;
        public bool Contains(int id) => _added.ContainsKey(id);

        /// <summary>Forgets the ids added before scan <paramref name="epoch"/> began that it found gone.</summary>
        public void PruneBefore(long epoch, Func<int, bool> stillThere)
        {
            List<int>? gone = null;
            foreach (var (id, added) in _added)
                if (added < epoch && !stillThere(id)) (gone ??= []).Add(id);
            if (gone is not null) foreach (var id in gone) _added.Remove(id);
        }
    }
}
