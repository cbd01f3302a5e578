using System.Globalization;
using Vigil.Launching;
using Vigil.Supervision;

namespace Vigil.Control;

/// <summary>
/// CPU and memory of each unit's process tree for <c>vigil ls</c>: the main process and its live descendants (and the
/// members of its session, when it leads one, as Vigil's children do). CPU is the share of one core since the previous
/// sample of that run, or over the run's life at its first sample; RSS is the sum over the tree (shared pages count
/// once per process, as RSS does). Cheap enough for a hundred units per call: the tree's shape comes from one
/// shared /proc scan at most a second old, each member's numbers are read fresh.
/// </summary>
internal sealed class Usage(TimeProvider time, ILauncher launcher)
{
    private static readonly TimeSpan ScanAge = TimeSpan.FromSeconds(1);
    /// <summary>Two samples closer than this would measure clock-tick noise (the kernel counts CPU in 10 ms ticks):
    /// the earlier figure is given again.</summary>
    private static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(500);
    private static readonly long PageSize = Environment.SystemPageSize;

    private sealed record Sample(int Pid, ulong Start, double Ticks, long At, double? Percent);

    private readonly Dictionary<int, Sample> _last = [];
    private readonly object _gate = new();

    /// <summary>CPU % and RSS bytes of each running unit; nulls for one that runs nothing.</summary>
    public Dictionary<int, (double? Cpu, long? Rss)> Measure(IReadOnlyList<UnitSnapshot> units)
    {
        var result = new Dictionary<int, (double?, long?)>(units.Count);
        if (!units.Any(u => u.Pid is not null)) return result;
        var shape = new Shape(launcher.Scan(ScanAge));
        double? uptime = BootUptime();
        long now = time.GetTimestamp();
        lock (_gate)
        {
            foreach (var u in units)
            {
                if (u.Pid is not { } pid || !ProcFs.TryReadStat(pid, out var root) || root.State is OsState.Zombie or OsState.Dead)
                {
                    _last.Remove(u.Id);
                    continue;
                }
                var tree = shape.Tree(root);
                double ticks = tree.Sum(p => (double)p.CpuTicks + p.ChildCpuTicks);
                long rss = tree.Sum(p => p.RssPages) * PageSize;
                double? cpu;
                if (_last.TryGetValue(u.Id, out var before) && before.Pid == pid && before.Start == root.StartTime)
                {
                    var elapsed = time.GetElapsedTime(before.At, now);
                    if (elapsed < MinInterval && before.Percent is not null) { result[u.Id] = (before.Percent, rss); continue; }
                    cpu = Percent(ticks - before.Ticks, elapsed.TotalSeconds);
                }
                else
                {
                    // First sample of this run: its share over its life (from /proc's start time, in ticks since boot).
                    cpu = uptime is { } up ? Percent(ticks, up - (double)root.StartTime / ProcFs.ClockTicksPerSecond) : null;
                }
                _last[u.Id] = new Sample(pid, root.StartTime, ticks, now, cpu);
                result[u.Id] = (cpu, rss);
            }
            // Forget units that are gone (removed), so the table does not grow with every unit ever added.
            if (_last.Count > units.Count * 2)
                foreach (var id in _last.Keys.Where(id => !units.Any(u => u.Id == id)).ToList()) _last.Remove(id);
        }
        return result;
    }

    /// <summary>One /proc scan indexed by parent and by session, shared by every unit of a call (ProcFs.Tree would
    /// index the whole scan again for each unit: a hundred units, a hundred times).</summary>
    private sealed class Shape(IReadOnlyList<ProcStat> all)
    {
        private readonly ILookup<int, ProcStat> _children = all.ToLookup(p => p.ParentPid);
        private readonly ILookup<int, ProcStat> _sessions = all.ToLookup(p => p.Session);

        /// <summary>The root (as read now), then its live descendants and, when it leads a session (as Vigil's children
        /// do), the session's other members, each read now; a PID reused since the scan is left out.</summary>
        public List<ProcStat> Tree(ProcStat root)
        {
            var tree = new List<ProcStat> { root };
            var seen = new HashSet<int> { root.Pid };
            var queue = new Queue<int>();
            queue.Enqueue(root.Pid);
            if (root.Session == root.Pid)
                foreach (var m in _sessions[root.Pid])
                    if (seen.Add(m.Pid)) { Add(m); queue.Enqueue(m.Pid); }
            while (queue.Count > 0)
                foreach (var k in _children[queue.Dequeue()])
                    if (seen.Add(k.Pid)) { Add(k); queue.Enqueue(k.Pid); }
            return tree;

            void Add(ProcStat seenThen)
            {
                if (ProcFs.TryReadStat(seenThen.Pid, out var now) && now.StartTime == seenThen.StartTime && now.State is not (OsState.Zombie or OsState.Dead))
                    tree.Add(now);
            }
        }
    }

    private static double? Percent(double ticks, double seconds) =>
        seconds > 0 ? Math.Round(Math.Max(0, ticks) / ProcFs.ClockTicksPerSecond / seconds * 100, 1) : null;

    /// <summary>Seconds since boot (/proc/uptime), the clock /proc's start times count on.</summary>
    private static double? BootUptime()
    {
        try
        {
            var text = File.ReadAllText("/proc/uptime");
            int space = text.IndexOf(' ');
            return double.TryParse(space > 0 ? text[..space] : text, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) ? s : null;
        }
        catch (IOException) { return null; }
    }
}
