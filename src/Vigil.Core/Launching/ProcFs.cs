using System.Globalization;

namespace Vigil.Launching;

/// <summary>The OS state of a process as /proc reports it (the State: line of /proc/PID/status).</summary>
public enum OsState
{
    Running, Sleeping, DiskSleep, Stopped, TracingStop, Zombie, Dead, Idle, Unknown,
}

/// <summary>The fields of /proc/PID/stat that Vigil uses.</summary>
/// <param name="StartTime">Field 22: start time in clock ticks since boot; with the PID it identifies a process.</param>
/// <param name="CpuTicks">Fields 14 + 15 (utime + stime): CPU time of the process itself, in clock ticks (<see cref="ProcFs.ClockTicksPerSecond"/>).</param>
/// <param name="ChildCpuTicks">Fields 16 + 17 (cutime + cstime): CPU time of the children it has waited for, in clock ticks.</param>
/// <param name="RssPages">Field 24: resident set size in pages (<see cref="Environment.SystemPageSize"/>).</param>
public readonly record struct ProcStat(int Pid, OsState State, int ParentPid, int ProcessGroup, int Session, ulong StartTime,
    ulong CpuTicks = 0, ulong ChildCpuTicks = 0, long RssPages = 0);

/// <summary>Reads /proc with no allocation on the hot path (status polls run for every unit).</summary>
public static unsafe class ProcFs
{
    public static OsState ParseState(char c) => c switch
    {
        'R' => OsState.Running,
        'S' => OsState.Sleeping,
        'D' => OsState.DiskSleep,
        'T' => OsState.Stopped,
        't' => OsState.TracingStop,
        'Z' => OsState.Zombie,
        'X' or 'x' => OsState.Dead,
        'I' => OsState.Idle,
        _ => OsState.Unknown,
    };

    /// <summary>The lower-case words /proc/PID/status uses ("disk sleep", "tracing stop").</summary>
    public static string Describe(OsState s) => s switch
    {
        OsState.DiskSleep => "disk sleep",
        OsState.TracingStop => "tracing stop",
        _ => s.ToString().ToLowerInvariant(),
    };

    public static bool TryReadStat(int pid, out ProcStat stat)
    {
        stat = default;
        Span<byte> path = stackalloc byte[32];
        if (!TryFormatPath(path, pid, "/stat"u8)) return false;
        Span<byte> buf = stackalloc byte[1024];
        int n = ReadSmallFile(path, buf);
        return n > 0 && TryParseStat(buf[..n], out stat);
    }

    /// <summary>Parses a /proc/PID/stat line. The command name may hold spaces and ')' so we split after the last ')'.</summary>
    public static bool TryParseStat(ReadOnlySpan<byte> line, out ProcStat stat)
    {
        stat = default;
        int open = line.IndexOf((byte)'(');
        int close = line.LastIndexOf((byte)')');
        if (open <= 0 || close < open || close + 2 >= line.Length) return false;
        if (!int.TryParse(line[..(open - 1)], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) return false;
        var rest = line[(close + 2)..];
        // rest: field 3 (state) onward, separated by single spaces.
        OsState state = ParseState((char)rest[0]);
        int field = 3;
        long ppid = 0, pgrp = 0, session = 0, cutime = 0, cstime = 0, rss = 0; ulong start = 0, utime = 0, stime = 0;
        int i = 1;
        while (i < rest.Length && field < 24)
        {
            if (rest[i] != (byte)' ') { i++; continue; }
            field++;
            i++;
            int j = i;
            while (j < rest.Length && rest[j] != (byte)' ' && rest[j] != (byte)'\n') j++;
            var tok = rest[i..j];
            switch (field)
            {
                case 4: long.TryParse(tok, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out ppid); break;
                case 5: long.TryParse(tok, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out pgrp); break;
                case 6: long.TryParse(tok, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out session); break;
                case 14: ulong.TryParse(tok, NumberStyles.None, CultureInfo.InvariantCulture, out utime); break;
                case 15: ulong.TryParse(tok, NumberStyles.None, CultureInfo.InvariantCulture, out stime); break;
                case 16: long.TryParse(tok, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out cutime); break;
                case 17: long.TryParse(tok, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out cstime); break;
                case 22: ulong.TryParse(tok, NumberStyles.None, CultureInfo.InvariantCulture, out start); break;
                case 24: long.TryParse(tok, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out rss); break;
            }
            i = j;
        }
        if (field < 22) return false; // fields 23 and 24 (vsize, rss) are read when present
        stat = new ProcStat(pid, state, (int)ppid, (int)pgrp, (int)session, start,
            utime + stime, (ulong)Math.Max(0, cutime + cstime), Math.Max(0, rss));
        return true;
    }

    /// <summary>The unit of the CPU times in /proc (sysconf(_SC_CLK_TCK), 100 on Linux).</summary>
    public static long ClockTicksPerSecond { get; } = Native.sysconf(Native._SC_CLK_TCK) is > 0 and var hz ? hz : 100;

    /// <summary>When the machine booted (<c>btime</c> of /proc/stat, whole seconds); null when unreadable.</summary>
    public static DateTimeOffset? BootTime
    {
        get
        {
            try
            {
                foreach (var line in File.ReadLines("/proc/stat"))
                    if (line.StartsWith("btime ", StringComparison.Ordinal) && long.TryParse(line.AsSpan(6).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var s))
                        return DateTimeOffset.FromUnixTimeSeconds(s);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            return null;
        }
    }

    /// <summary>The wall-clock time of a start time in clock ticks since boot (/proc/PID/stat field 22); null when
    /// the boot time is unknown. Precise to the boot time's second.</summary>
    public static DateTimeOffset? WallClockOf(ulong startTicks) =>
        BootTime is { } boot ? boot + TimeSpan.FromSeconds((double)startTicks / ClockTicksPerSecond) : null;

    /// <summary>
    /// A fresh stat of <paramref name="root"/> and of every live process of its tree (<see cref="Descendants"/>:
    /// children by parent links and members of <paramref name="session"/>); the tree's shape may come from a shared
    /// <paramref name="snapshot"/>, but each member's numbers are read now, and a PID reused since the snapshot is
    /// skipped. Empty when the root is gone.
    /// </summary>
    public static List<ProcStat> Tree(int root, int session, IReadOnlyList<ProcStat>? snapshot = null)
    {
        var tree = new List<ProcStat>();
        if (!TryReadStat(root, out var r) || r.State is OsState.Zombie or OsState.Dead) return tree;
        tree.Add(r);
        foreach (var d in Descendants(root, session, snapshot))
            if (TryReadStat(d.Pid, out var now) && now.StartTime == d.StartTime && now.State is not (OsState.Zombie or OsState.Dead))
                tree.Add(now);
        return tree;
    }

    /// <summary>The children of this process (of every one of its threads: an orphan is reparented to one of them),
    /// from <c>/proc/self/task/*/children</c>: a few small reads instead of one per process on the machine. Null when
    /// the kernel does not provide the file (CONFIG_PROC_CHILDREN). The kernel documents it as possibly missing a
    /// child that is being created or reaped at that moment, so callers also scan everything now and then.</summary>
    public static List<int>? ChildrenOfSelf() => ChildrenOfAllTasks("self", nullIfUnsupported: true);

    /// <summary>The children of <paramref name="pid"/> (of all its threads), from /proc/PID/task/*/children; empty when
    /// it is gone or the kernel lacks the file.</summary>
    public static List<int> ChildrenOf(int pid) => ChildrenOfAllTasks(pid.ToString(CultureInfo.InvariantCulture), nullIfUnsupported: false)!;

    /// <summary>The children one thread of <paramref name="pid"/> created or was given (/proc/PID/task/TID/children).</summary>
    public static List<int> ChildrenOfTask(int pid, int tid)
    {
        var pids = new List<int>();
        try { ParseChildren(File.ReadAllText(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/task/{tid}/children")), pids); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return pids;
    }

    /// <summary>/proc/<paramref name="proc"/>/task/*/children together. When the kernel lacks the file (no
    /// CONFIG_PROC_CHILDREN): null with <paramref name="nullIfUnsupported"/>, else what was read. Empty when the process is gone.</summary>
    private static List<int>? ChildrenOfAllTasks(string proc, bool nullIfUnsupported)
    {
        var pids = new List<int>();
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{proc}/task"))
            {
                try { ParseChildren(File.ReadAllText(Path.Combine(task, "children")), pids); }
                catch (FileNotFoundException) { if (nullIfUnsupported) return null; }
                catch (DirectoryNotFoundException) { } // the thread ended meanwhile
            }
        }
        catch (IOException) { return nullIfUnsupported ? null : pids; }
        catch (UnauthorizedAccessException) { }
        return pids;
    }

    private static void ParseChildren(string text, List<int> into)
    {
        foreach (var part in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            if (int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) into.Add(pid);
    }

    /// <summary>Every process on the machine, one read of each /proc/PID/stat.</summary>
    public static List<ProcStat> All()
    {
        var list = new List<ProcStat>(256);
        try
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                var name = Path.GetFileName(dir.AsSpan());
                if (name.Length == 0 || !char.IsAsciiDigit(name[0])) continue;
                if (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && TryReadStat(pid, out var st))
                    list.Add(st);
            }
        }
        // Out of file descriptors (EMFILE) or memory: what was read so far; callers scan again later. A scan must never
        // throw on the pool threads that run it (it would take Vigil down with every child).
        catch (IOException) { }
        return list;
    }

    /// <summary>
    /// The live descendants of <paramref name="root"/> (not the root itself), following parent links,
    /// plus every live process of <paramref name="session"/> when it is given: a grandchild whose parent
    /// already exited was reparented to Vigil, but still sits in the unit's session unless it called setsid.
    /// </summary>
    public static List<ProcStat> Descendants(int root, int session = 0, IReadOnlyList<ProcStat>? snapshot = null)
    {
        var all = snapshot ?? All();
        var byParent = new Dictionary<int, List<ProcStat>>();
        foreach (var p in all)
        {
            if (!byParent.TryGetValue(p.ParentPid, out var l)) byParent[p.ParentPid] = l = [];
            l.Add(p);
        }
        var result = new List<ProcStat>();
        var seen = new HashSet<int> { root };
        var queue = new Queue<int>();
        queue.Enqueue(root);
        if (session > 0)
            foreach (var p in all)
                if (p.Session == session && p.Pid != root && p.State is not (OsState.Zombie or OsState.Dead) && seen.Add(p.Pid))
                {
                    result.Add(p);
                    queue.Enqueue(p.Pid);
                }
        while (queue.Count > 0)
        {
            if (!byParent.TryGetValue(queue.Dequeue(), out var kids)) continue;
            foreach (var k in kids)
            {
                if (!seen.Add(k.Pid)) continue;
                queue.Enqueue(k.Pid);
                if (k.State is not (OsState.Zombie or OsState.Dead)) result.Add(k);
            }
        }
        return result;
    }

    /// <summary>True when PID still names the process that had <paramref name="startTime"/> and it has not exited.</summary>
    public static bool IsAlive(int pid, ulong startTime) =>
        TryReadStat(pid, out var st) && st.StartTime == startTime && st.State is not (OsState.Zombie or OsState.Dead);

    public static string[] ReadCmdline(int pid)
    {
        try
        {
            var bytes = File.ReadAllBytes($"/proc/{pid}/cmdline");
            var s = System.Text.Encoding.UTF8.GetString(bytes).TrimEnd('\0');
            return s.Length == 0 ? [] : s.Split('\0');
        }
        catch (IOException) { return []; }
        catch (UnauthorizedAccessException) { return []; }
    }

    private static bool TryFormatPath(Span<byte> dest, int pid, ReadOnlySpan<byte> suffix)
    {
        "/proc/"u8.CopyTo(dest);
        if (!pid.TryFormat(dest[6..], out int w, default, CultureInfo.InvariantCulture)) return false;
        int at = 6 + w;
        if (at + suffix.Length + 1 > dest.Length) return false;
        suffix.CopyTo(dest[at..]);
        dest[at + suffix.Length] = 0;
        return true;
    }

    private static int ReadSmallFile(ReadOnlySpan<byte> pathZ, Span<byte> buf)
    {
        fixed (byte* p = pathZ)
        fixed (byte* b = buf)
        {
            int fd = Native.open(p, Native.O_RDONLY | Native.O_CLOEXEC, 0);
            if (fd < 0) return -1;
            nint n;
            do n = Native.read(fd, b, buf.Length); while (n < 0 && Native.Errno == Native.EINTR);
            Native.close(fd);
            return (int)n;
        }
    }
}

/// <summary>
/// <see cref="ProcFs.All"/>, shared between callers for a while: a hundred units stopping at once would otherwise each
/// scan /proc every poll. One per supervisor (its <see cref="OsLauncher"/> holds it).
/// </summary>
public sealed class ProcScanCache
{
    private readonly object _gate = new();
    private List<ProcStat>? _snapshot;
    private long _at;

    /// <summary>A scan at most <paramref name="maxAge"/> old (a fresh one for zero).</summary>
    public IReadOnlyList<ProcStat> Snapshot(TimeSpan maxAge)
    {
        lock (_gate)
        {
            if (_snapshot is not null && maxAge > TimeSpan.Zero && System.Diagnostics.Stopwatch.GetElapsedTime(_at) < maxAge)
                return _snapshot;
            _snapshot = ProcFs.All();
            _at = System.Diagnostics.Stopwatch.GetTimestamp();
            return _snapshot;
        }
    }
}
