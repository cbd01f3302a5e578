namespace Vigil.Launching;

/// <summary>
/// Stops a whole process tree, escalating and bounded (CliWrap's graceful-then-forceful path, plus a last wait):
/// the stop signal to the leader's process group and to every descendant found (also those that left the group
/// with setsid), SIGCONT so a stopped process can act on it, a grace period, SIGKILL to everything still alive,
/// and a bounded wait that reports survivors. Every signal to a non-child goes through the start-time check.
/// </summary>
public static class ProcessTree
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan Rescan = TimeSpan.FromMilliseconds(200);

    /// <summary>Stops <paramref name="r"/>'s tree; what it finds is claimed with <paramref name="os"/>'s reaper.</summary>
    internal static async Task<TreeStopResult> TerminateAsync(TreeStopRequest r, TimeProvider tp, OsLauncher os, CancellationToken ct = default)
    {
        var targets = new Dictionary<int, ProcessIdentity>();
        var leader = r.Leader;
        foreach (var k in r.Known) targets.TryAdd(k.Pid, k);
        Collect(r, targets, os.Scans, maxAge: TimeSpan.Zero);

        void SendAll(int sig)
        {
            leader?.SignalGroup(sig);
            leader?.Signal(sig);
            foreach (var t in targets.Values) t.Signal(sig);
        }

        SendAll(r.Signal);
        if (r.Signal != Signals.SIGCONT && r.Signal != Signals.SIGKILL) SendAll(Signals.SIGCONT);

        os.Reaper.Claim(targets.Keys);
        var all = new SortedSet<int>(targets.Keys);
        if (leader is not null) all.Add(leader.Pid);

        if (!await WaitGoneAsync(r, targets, all, r.Grace, tp, os, ct, signalNew: r.Signal))
        {
            var killed = Remaining(r, targets);
            r.OnEscalate?.Invoke(killed);
            SendAll(Signals.SIGKILL);
            r.Scope?.KillAll(); // cgroup.kill: every member, including one forked a moment ago
            await WaitGoneAsync(r, targets, all, r.KillWait, tp, os, ct, signalNew: Signals.SIGKILL);
            var survivors = Remaining(r, targets);
            if (survivors.Count == 0) r.Scope?.Release();
            return new TreeStopResult([.. all], killed, survivors);
        }
        r.Scope?.Release();
        return new TreeStopResult([.. all], [], []);
    }

    /// <summary>What is still alive: the leader until reaped, live targets, and (cgroup mode) whoever is in the cgroup.</summary>
    private static List<int> Remaining(TreeStopRequest r, Dictionary<int, ProcessIdentity> targets)
    {
        var alive = Alive(r.Leader, targets);
        if (r.Scope?.Cgroup is not null)
            foreach (var pid in r.Scope.Members())
                if (!alive.Contains(pid)) alive.Add(pid);
        alive.Sort();
        return alive;
    }

    /// <summary>Polls until the leader is reaped and every target is gone; new descendants found meanwhile get <paramref name="signalNew"/>.</summary>
    private static async Task<bool> WaitGoneAsync(TreeStopRequest r, Dictionary<int, ProcessIdentity> targets, SortedSet<int> all,
        TimeSpan limit, TimeProvider tp, OsLauncher os, CancellationToken ct, int signalNew)
    {
        long start = tp.GetTimestamp();
        var lastScan = start;
        while (true)
        {
            // Cgroup mode: gone means the kernel says the cgroup is empty, whatever we did or did not find in /proc.
            if (Alive(r.Leader, targets).Count == 0 && r.Scope?.Populated != true) return true;
            var elapsed = tp.GetElapsedTime(start);
            if (elapsed >= limit) return false;
            if (tp.GetElapsedTime(lastScan) >= Rescan)
            {
                lastScan = tp.GetTimestamp();
                var fresh = Collect(r, targets, os.Scans, Poll);
                os.Reaper.Claim(fresh.Select(f => f.Pid));
                foreach (var added in fresh)
                {
                    all.Add(added.Pid);
                    added.Signal(signalNew);
                    added.Signal(Signals.SIGCONT);
                }
            }
            var wait = limit - elapsed < Poll ? limit - elapsed : Poll;
            var delay = Task.Delay(wait, tp, ct);
            if (r.Leader is { HasExited: false } l) await Task.WhenAny(l.Exited, delay).ConfigureAwait(false);
            else await delay.ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
        }
    }

    private static List<int> Alive(IProcessHandle? leader, Dictionary<int, ProcessIdentity> targets)
    {
        var alive = new List<int>();
        // The leader counts until its handle has seen the exit (reaped), so the caller always gets its status.
        if (leader is { HasExited: false }) alive.Add(leader.Pid);
        foreach (var t in targets.Values)
            if (t.IsAlive) alive.Add(t.Pid);
        return alive;
    }

    /// <summary>Adds the leader's descendants, the session's members and descendants of known targets; returns the new ones.</summary>
    private static List<ProcessIdentity> Collect(TreeStopRequest r, Dictionary<int, ProcessIdentity> targets, ProcScanCache scans, TimeSpan maxAge)
    {
        var added = new List<ProcessIdentity>();
        if (r.Scope?.Cgroup is not null)
        {
            // Cgroup mode: the cgroup is the membership; one read of cgroup.procs instead of a /proc scan. The first
            // collect still walks the tree, for the moment between posix_spawn and the move into the cgroup.
            foreach (var pid in r.Scope.Members())
                if (pid != r.Leader?.Pid && !targets.ContainsKey(pid) && ProcessIdentity.Of(pid) is { } id && targets.TryAdd(pid, id)) added.Add(id);
            if (maxAge != TimeSpan.Zero) return added;
        }
        var snapshot = scans.Snapshot(maxAge);
        void Add(ProcStat p)
        {
            if (r.Leader is { } l && p.Pid == l.Pid) return;
            if (targets.TryAdd(p.Pid, new ProcessIdentity(p.Pid, p.StartTime))) added.Add(targets[p.Pid]);
        }
        if (r.Scope is { Cgroup: null } marked)
        {
            // Marker mode: whoever carries the run's marker, wherever it went (a double-forked daemon).
            foreach (var st in marked.Marked(snapshot)) Add(st);
        }
        int root = r.Leader is { HasExited: false } leader ? leader.Pid : -1;
        foreach (var p in ProcFs.Descendants(root, r.Session, snapshot)) Add(p);
        foreach (var t in targets.Values.ToList())
            if (t.IsAlive)
                foreach (var p in ProcFs.Descendants(t.Pid, 0, snapshot)) Add(p);
        return added;
    }

    /// <summary>Live processes of a finished run (see <see cref="ILauncher.Leftovers"/>).</summary>
    internal static IReadOnlyList<ProcessIdentity> Leftovers(int session, IReadOnlyCollection<ProcessIdentity> known, ProcScanCache scans, RunScope? scope = null)
    {
        var found = new Dictionary<int, ProcessIdentity>();
        IReadOnlyList<ProcStat>? snapshot = null; // one /proc scan at most, shared by the marker and the session
        if (scope?.Cgroup is not null)
        {
            // Cgroup mode: the cgroup's members are exactly what is left (one small read, on the restart path).
            foreach (var pid in scope.Members())
                if (ProcessIdentity.Of(pid) is { } id) found.TryAdd(pid, id);
        }
        else if (scope is not null)
        {
            // Marker mode: a process that left the session (double fork) is found by its marker.
            snapshot = scans.Snapshot(TimeSpan.Zero);
            foreach (var st in scope.Marked(snapshot)) found.TryAdd(st.Pid, new ProcessIdentity(st.Pid, st.StartTime));
        }
        // A spawned child leads its session and its group (same id). kill(-group, 0) answers "is anyone left in
        // the group?" with one syscall; only then is the /proc scan (milliseconds with many processes) worth it.
        // This runs on every crash, so it is on the restart-latency path. Members that moved to another group of
        // the same session without leaving it are missed here, but still found by a stop.
        if (session > 0 && known.Count == 0 && Native.kill(-session, 0) != 0) return [.. found.Values];
        if (session > 0)
            foreach (var p in ProcFs.Descendants(-1, session, snapshot ?? scans.Snapshot(TimeSpan.Zero)))
                found.TryAdd(p.Pid, new ProcessIdentity(p.Pid, p.StartTime));
        foreach (var k in known)
            if (k.IsAlive) found.TryAdd(k.Pid, k);
        return [.. found.Values];
    }
}
