using System.Globalization;
using System.Text;

namespace Vigil.Launching;

// Overview
// --------
// Which processes belong to a run of a unit, in a way a process cannot escape.
// - A daemon that double-forks out of its session (`setsid -f sleep 1; exit`) is no longer a descendant of the run's
//   main process and no longer in its session: the descendant walk and the session scan both miss it. So each run
//   gets a scope every process it starts inherits:
// - Cgroup mode: where a writable cgroup v2 hierarchy exists (root, or a delegated subtree; on hybrid hosts it is
//   mounted at /sys/fs/cgroup/unified), each run gets its own cgroup, <own cgroup>/vigil-<instance>/<unit>-<run>.
//   Membership is then the kernel's: every fork lands in its parent's cgroup, and only a privileged process can
//   leave. Stop = the stop signal to every member, then cgroup.kill; "gone" = cgroup.events says "populated 0".
//   The main process is moved in right after posix_spawn returns. glibc's posix_spawn returns only once the child
//   has called execve (CLONE_VFORK), so the new program has not yet run a single instruction of its own when the
//   move happens; the first stop and leftover scans also sweep its session and descendants into the cgroup.
//   (clone3's CLONE_INTO_CGROUP would close even that window, but it needs a fork in native code.)
// - Marker mode, where no cgroup can be made: every process of a run inherits VIGIL_SCOPE=<instance>/<unit>-<run>
//   in its environment, read back from /proc/PID/environ, plus the descendant walk and the session. A process
//   that both escapes its session and scrubs its environment is then invisible; cgroup mode has no such hole.
// Both modes set the marker, so a test (or an operator) can find a run's processes with one grep.
// Membership is per supervisor instance. An instance with a stable name (vigil run: one per config file) finds
// what a previous Vigil of the same config left running (its cgroups, and processes carrying its marker) so it
// can stop them before starting fresh ones.

/// <summary>How a supervisor tells which processes belong to a unit's run.</summary>
public enum TrackingMode
{
    /// <summary>Cgroup v2 where one can be made, else <see cref="Marker"/>.</summary>
    Auto,
    /// <summary>Only the inherited VIGIL_SCOPE marker plus the descendant walk (also what Auto falls back to).</summary>
    Marker,
}

/// <summary>The membership bookkeeping of one supervisor instance: where its cgroups live, or that it uses markers.</summary>
public sealed class Membership
{
    public const string MarkerVariable = "VIGIL_SCOPE";
    private const string InstancePrefix = "vigil-";
    private int _run;

    private readonly OrphanReaper _reaper;

    private Membership(string instance, string? cgroupRoot, string description, OrphanReaper reaper)
    {
        _reaper = reaper;
        Instance = instance;
        CgroupRoot = cgroupRoot;
        Description = description;
    }

    /// <summary>The instance name: stable for one config file (vigil run), unique per supervisor otherwise.</summary>
    public string Instance { get; }

    /// <summary>The instance's cgroup folder (…/vigil-&lt;instance&gt;), or null in marker mode.</summary>
    public string? CgroupRoot { get; }

    public bool UsesCgroups => CgroupRoot is not null;

    /// <summary>One line for the start of `vigil run`: which mode, and where.</summary>
    public string Description { get; }

    /// <summary>Sets up the instance's bookkeeping: its cgroup folder if one can be made (see Overview), else marker mode.</summary>
    /// <param name="reaper">The process's orphan reaper: its spawn lock orders the cgroup sweeps with spawns, and it
    /// knows which of Vigil's children were spawned (not orphans).</param>
    public static Membership Create(string instance, TrackingMode mode, OrphanReaper reaper)
    {
        if (instance.Length == 0 || instance.Contains('/') || instance.Contains('\0'))
            throw new ArgumentException($"invalid instance name '{instance}'", nameof(instance));
        if (mode == TrackingMode.Marker)
            return new(instance, null, $"membership: {MarkerVariable} marker + descendant walk (cgroups not requested)", reaper);
        var (parent, why) = Cgroups.WritableParent();
        if (parent is null)
            return new(instance, null, $"membership: {MarkerVariable} marker + descendant walk ({why})", reaper);
        var root = Path.Combine(parent, InstancePrefix + instance);
        int rc = Cgroups.MakeDir(root);
        if (rc != 0 && rc != Native.EEXIST)
            return new(instance, null, $"membership: {MarkerVariable} marker + descendant walk (cannot create {root}: {Native.Describe(rc)})", reaper);
        Cgroups.PruneStale(parent, root);
        return new(instance, root, $"membership: cgroup v2, one cgroup per run under {root}", reaper);
    }

    /// <summary>A unique instance name for a supervisor with no stable identity (the C# API without a config file).</summary>
    public static string EphemeralInstance() =>
        string.Create(CultureInfo.InvariantCulture, $"lib-{Environment.ProcessId}-{Interlocked.Increment(ref s_ephemeral)}");
    private static int s_ephemeral;

    /// <summary>A stable instance name for a config file: its name and a hash of its absolute path.</summary>
    public static string InstanceFor(string absoluteConfigPath)
    {
        var hash = Sha256.HashData(Encoding.UTF8.GetBytes(absoluteConfigPath));
        return Sanitize(Path.GetFileNameWithoutExtension(absoluteConfigPath), 'c', 40) + "-" + Convert.ToHexStringLower(hash, 0, 4);
    }

    /// <summary>A new scope for one run of <paramref name="unitName"/>: its cgroup is created now (marker mode: none).</summary>
    public RunScope NewRun(string unitName)
    {
        var unit = Sanitize(unitName);
        while (true)
        {
            int run = Interlocked.Increment(ref _run);
            var leaf = string.Create(CultureInfo.InvariantCulture, $"{unit}-{run}");
            var marker = Instance + "/" + leaf;
            if (CgroupRoot is null) return new RunScope(marker, null, null, _reaper);
            var dir = Path.Combine(CgroupRoot, leaf);
            int rc = Cgroups.MakeDir(dir);
            // The instance folder can vanish under us (an operator's rmdir, or a later Vigil pruning it while empty).
            if (rc == Native.ENOENT && Cgroups.MakeDir(CgroupRoot) is 0 or Native.EEXIST) rc = Cgroups.MakeDir(dir);
            // Taken: a survivor of a previous Vigil of this instance may sit in it; never share a cgroup, take the next number.
            if (rc == Native.EEXIST) continue;
            return rc == 0
                ? new RunScope(marker, dir, null, _reaper)
                : new RunScope(marker, null, $"cannot create cgroup {dir}: {Native.Describe(rc)}; this run is tracked by marker", _reaper);
        }
    }

    /// <summary>Names as they appear in cgroup folder names: [A-Za-z0-9_.], anything else as '_', never empty or
    /// starting with a dot (<paramref name="lead"/> is put first then), at most <paramref name="max"/> characters.</summary>
    internal static string Sanitize(string name, char lead = 'u', int max = 64)
    {
        var sb = new StringBuilder(name.Length);
        foreach (var c in name) sb.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' ? c : '_');
        if (sb.Length == 0 || sb[0] == '.') sb.Insert(0, lead);
        if (sb.Length > max) sb.Length = max;
        return sb.ToString();
    }

    /// <summary>
    /// What a previous Vigil of this instance left running, grouped by unit: the members of its cgroups, and every
    /// process carrying its marker. Called before the first run (its own scopes do not exist yet).
    /// </summary>
    public IReadOnlyList<LeftoverGroup> FindPrevious()
    {
        var byUnit = new Dictionary<string, Dictionary<int, ProcessIdentity>>(StringComparer.Ordinal);
        void Add(string leaf, int pid)
        {
            if (pid == Environment.ProcessId) return;
            if (ProcessIdentity.Of(pid) is not { } id || !id.IsAlive) return;
            var unit = UnitOfLeaf(leaf);
            if (!byUnit.TryGetValue(unit, out var set)) byUnit[unit] = set = [];
            set.TryAdd(pid, id);
        }
        if (CgroupRoot is not null)
            foreach (var dir in Cgroups.SubDirs(CgroupRoot))
                foreach (var pid in Cgroups.Members(dir)) Add(Path.GetFileName(dir), pid);
        var prefix = Instance + "/";
        foreach (var (pid, scope) in Markers.All())
            if (scope.StartsWith(prefix, StringComparison.Ordinal)) Add(scope[prefix.Length..], pid);
        return [.. byUnit.Select(kv => new LeftoverGroup(kv.Key, [.. kv.Value.Values]))];
    }

    /// <summary>Removes the instance's empty run cgroups and, unless <paramref name="keepRoot"/>, then its own folder
    /// (at shutdown). Busy ones stay.</summary>
    public void RemoveEmpty(bool keepRoot = false)
    {
        if (CgroupRoot is null) return;
        foreach (var dir in Cgroups.SubDirs(CgroupRoot)) Cgroups.RemoveDir(dir);
        if (!keepRoot) Cgroups.RemoveDir(CgroupRoot);
    }

    private static string UnitOfLeaf(string leaf)
    {
        int dash = leaf.LastIndexOf('-');
        return dash > 0 && int.TryParse(leaf.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _) ? leaf[..dash] : leaf;
    }
}

/// <summary>Processes a previous Vigil left running for one unit (by the unit's name as it appears in its scope).</summary>
public sealed record LeftoverGroup(string Unit, IReadOnlyList<ProcessIdentity> Processes);

/// <summary>One run's membership: its marker, and its cgroup folder in cgroup mode.</summary>
public sealed class RunScope
{
    private readonly OrphanReaper _reaper;

    internal RunScope(string marker, string? cgroup, string? degraded, OrphanReaper reaper)
    {
        _reaper = reaper;
        Marker = marker;
        Cgroup = cgroup;
        Degraded = degraded;
    }

    /// <summary>The value of VIGIL_SCOPE every process of the run inherits: &lt;instance&gt;/&lt;unit&gt;-&lt;run&gt;.</summary>
    public string Marker { get; }

    /// <summary>The run's cgroup folder, or null (marker mode, or the cgroup could not be made or joined).</summary>
    public string? Cgroup { get; private set; }

    /// <summary>The start time (clock ticks since boot) of the run's main process: nothing older belongs to the run.</summary>
    public ulong NotBefore { get; internal set; }

    /// <summary>Why this run is tracked by marker although the instance uses cgroups (null when it is not).</summary>
    public string? Degraded { get; private set; }

    private Timer? _resweep; // held so it is not collected before it fires

    /// <summary>Moves <paramref name="pid"/> into the run's cgroup. On failure the run falls back to its marker (see
    /// <see cref="Degraded"/>). Caller holds the spawn lock.</summary>
    public void Join(int pid)
    {
        if (Cgroup is null) return;
        int rc = Cgroups.AddProcess(Cgroup, pid);
        if (rc == 0)
        {
            SweepEarlyForks(pid);
            // The kernel's children lists may miss a process that is being created at the moment they are read
            // (proc(5)); once more a little later, when every fork from before the move has settled.
            _resweep = new Timer(static s =>
            {
                var (scope, leader) = ((RunScope, int))s!;
                lock (scope._reaper.SpawnLock) scope.SweepEarlyForks(leader);
                scope._resweep?.Dispose();
            }, (this, pid), 20, Timeout.Infinite);
            return;
        }
        if (rc == Native.ESRCH) return; // it already exited: nothing to track
        Degraded = $"cannot move {pid} into {Cgroup}: {Native.Describe(rc)}; this run is tracked by marker";
        Cgroups.RemoveDir(Cgroup);
        Cgroup = null;
    }

    /// <summary>
    /// The move into the cgroup takes a fifth of a millisecond, and a fast program (a shell running `setsid -f
    /// daemon`) can fork within it: that child would stay outside. So right after the move, everything the new
    /// process has started so far, and every child of Vigil's that carries this run's marker (a double-forked daemon
    /// whose parent already exited is reparented to Vigil, the subreaper), is moved in too, repeated until nothing new
    /// turns up. Whatever any of them forks from then on is born inside. Caller holds the spawn lock.
    /// </summary>
    private void SweepEarlyForks(int leader)
    {
        if (Cgroup is null) return;
        // Each round reads the children of everything moved so far (a fork before its move is listed there) and then
        // Vigil's own children (where such a fork went if its parent exited meanwhile). A round that finds nothing
        // new ends it: anything forked from a moved process after its move is already inside.
        var moved = new HashSet<int> { leader };
        for (int round = 0; round < 32; round++)
        {
            var found = new List<int>();
            foreach (var m in moved)
                foreach (var c in ProcFs.ChildrenOf(m))
                    if (!moved.Contains(c)) found.Add(c);
            foreach (var c in MarkedOrphansLocked())
                if (!moved.Contains(c)) found.Add(c);
            if (found.Count == 0) return;
            foreach (var pid in found)
                if (moved.Add(pid)) Cgroups.AddProcess(Cgroup!, pid);
        }
    }

    /// <summary>Last line of defence in cgroup mode: children of Vigil (where an orphan goes) that carry this run's
    /// marker but are not in its cgroup, i.e. a fork that slipped past the sweeps, are moved in.</summary>
    private void MoveStrays()
    {
        if (Cgroup is null) return;
        lock (_reaper.SpawnLock)
            foreach (var c in MarkedOrphansLocked()) Cgroups.AddProcess(Cgroup, c);
    }

    /// <summary>Children of Vigil that it did not spawn (orphans it inherited as the subreaper) carrying this run's
    /// marker. An orphan goes to the subreaper's first live thread, the main thread (kernel/exit.c,
    /// find_alive_thread): one read instead of one per thread of Vigil. Caller holds the spawn lock.</summary>
    private List<int> MarkedOrphansLocked()
    {
        var found = new List<int>();
        foreach (var c in ProcFs.ChildrenOfTask(Environment.ProcessId, Environment.ProcessId))
            if (!_reaper.IsTrackedLocked(c) && Markers.Has(c, Marker)) found.Add(c);
        return found;
    }

    /// <summary>The live members: the cgroup's processes, or (marker mode) the processes that carry the marker.</summary>
    public List<int> Members()
    {
        if (Cgroup is null) return [.. Marked(ProcFs.All()).Select(p => p.Pid)];
        MoveStrays();
        return Cgroups.Members(Cgroup);
    }

    /// <summary>Marker mode: the live processes of <paramref name="snapshot"/> that carry the run's marker. Only those
    /// started since the run began (<see cref="NotBefore"/>) can, so only their environments are read.</summary>
    internal IEnumerable<ProcStat> Marked(IReadOnlyList<ProcStat> snapshot)
    {
        foreach (var p in snapshot)
            if (p.StartTime >= NotBefore && p.State is not (OsState.Zombie or OsState.Dead) && p.Pid != Environment.ProcessId
                && Markers.Has(p.Pid, Marker))
                yield return p;
    }

    /// <summary>Cgroup mode: true while any process is in the cgroup (cgroup.events). Marker mode: null (unknown).</summary>
    public bool? Populated => Cgroup is null ? null : Cgroups.Populated(Cgroup);

    /// <summary>Cgroup mode: SIGKILL to every member at once, new forks included (cgroup.kill, Linux 5.14); false otherwise.</summary>
    public bool KillAll()
    {
        if (Cgroup is null) return false;
        if (Cgroups.Kill(Cgroup)) return true;
        foreach (var pid in Cgroups.Members(Cgroup)) Native.kill(pid, Signals.SIGKILL); // older kernels: one by one
        return true;
    }

    /// <summary>Removes the run's cgroup once it is empty (rmdir refuses a populated cgroup, so this is always safe).</summary>
    public void Release()
    {
        if (Cgroup is { } dir && Cgroups.Populated(dir) == false) Cgroups.RemoveDir(dir);
    }

    public override string ToString() => Cgroup ?? Marker;
}

/// <summary>The VIGIL_SCOPE marker in /proc/PID/environ.</summary>
internal static class Markers
{
    private static readonly byte[] Key = Encoding.ASCII.GetBytes(Membership.MarkerVariable + "=");

    /// <summary>True when the process's environment holds exactly VIGIL_SCOPE=<paramref name="marker"/>.</summary>
    public static bool Has(int pid, string marker) => Read(pid) == marker;

    /// <summary>The VIGIL_SCOPE value of every process that has one.</summary>
    public static List<(int Pid, string Scope)> All()
    {
        var list = new List<(int, string)>();
        foreach (var p in ProcFs.All())
            if (p.Pid != Environment.ProcessId && p.State is not (OsState.Zombie or OsState.Dead) && Read(p.Pid) is { } s) list.Add((p.Pid, s));
        return list;
    }

    /// <summary>The VIGIL_SCOPE value in /proc/PID/environ (the environment the process was started with), or null.</summary>
    public static string? Read(int pid)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/environ")); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        var span = bytes.AsSpan();
        while (span.Length > 0)
        {
            int end = span.IndexOf((byte)0);
            var entry = end < 0 ? span : span[..end];
            if (entry.StartsWith(Key)) return Encoding.UTF8.GetString(entry[Key.Length..]);
            if (end < 0) break;
            span = span[(end + 1)..];
        }
        return null;
    }
}
