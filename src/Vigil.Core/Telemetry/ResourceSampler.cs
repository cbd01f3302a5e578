using System.Globalization;
using System.Runtime.CompilerServices;
using Vigil.Health;
using Vigil.Launching;
using Vigil.Supervision;

namespace Vigil.Telemetry;

/// <summary>What one unit's process tree uses, as last sampled.</summary>
/// <param name="CpuSeconds">CPU time of every run so far (monotonic): the ended runs' as last sampled, plus the current one's.</param>
/// <param name="Running">A process runs: the memory and fd figures are current (they are not reported otherwise).</param>
public sealed record ResourceSample(double CpuSeconds, long RssBytes, int OpenFds, bool Running);

/// <summary>
/// Samples units' process trees when a collection asks, at most once per <see cref="MaxAge"/> per unit, so the three
/// instruments a scrape reads (CPU, memory, fds) and several exporters collecting at once share one sample. A run with
/// a cgroup is read from it (cpu.stat's usage_usec, memory.current: two small files, whatever the tree's size); a run
/// without one from /proc over its tree (<see cref="ProcFs.Tree"/> on the launcher's shared scan), its CPU time grown
/// by <see cref="TreeCpu.Delta"/> between samples so members that come and go never make it go back. CPU a run used
/// after its last sample is not counted (nobody asked in between).
/// </summary>
internal sealed class ResourceSampler(TimeProvider time, ILauncher launcher)
{
    /// <summary>How old a unit's sample may be when it is read again.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);

    /// <summary>How old the shared /proc scan may be (as for the resource probes).</summary>
    private static readonly TimeSpan ScanAge = TimeSpan.FromMilliseconds(250);

    private static readonly long PageSize = Environment.SystemPageSize;

    private sealed class State
    {
        public IProcessHandle? Process;
        public double Ended;          // CPU seconds of the runs before Process
        public double Current;        // CPU seconds of Process's run so far
        public ulong CgroupUsec;      // cpu.stat usage_usec at the last sample (cgroup runs)
        public Dictionary<(int Pid, ulong Start), TreeCpu.Times>? Tree; // the last /proc sample (runs without a cgroup)
        public long At = long.MinValue;
        public ResourceSample Sample = new(0, 0, 0, false);
    }

    private readonly ConditionalWeakTable<Unit, State> _states = [];

    /// <summary>The unit's sample, fresh if the last one is older than <see cref="MaxAge"/>.</summary>
    public ResourceSample Of(Unit unit)
    {
        var s = _states.GetOrAdd(unit, static _ => new State());
        lock (s)
        {
            long now = time.GetTimestamp();
            if (s.At != long.MinValue && time.GetElapsedTime(s.At, now) < MaxAge) return s.Sample;
            s.At = now;
            var p = unit.CurrentProcess;
            if (!ReferenceEquals(p, s.Process))
            {
                // A new run (or none): what the last one used so far is kept, and counting starts afresh.
                s.Ended += s.Current;
                s.Current = 0;
                s.CgroupUsec = 0;
                s.Tree = null;
                s.Process = p;
            }
            if (p is null || p.HasExited) return s.Sample = new ResourceSample(s.Ended + s.Current, 0, 0, false);
            long rss;
            if (p.Scope?.Cgroup is { } cg && ReadCgroup(cg, out ulong usec, out long memory))
            {
                if (usec > s.CgroupUsec) s.Current += (usec - s.CgroupUsec) / 1e6;
                s.CgroupUsec = usec;
                rss = memory;
            }
            else
            {
                var tree = ProcFs.Tree(p.Pid, p.Session, launcher.Scan(ScanAge));
                var times = TreeCpu.Of(tree);
                s.Current += (s.Tree is null ? tree.Sum(t => (double)t.CpuTicks + t.ChildCpuTicks) : TreeCpu.Delta(s.Tree, times)) / ProcFs.ClockTicksPerSecond;
                s.Tree = times;
                rss = tree.Sum(t => t.RssPages) * PageSize;
            }
            return s.Sample = new ResourceSample(s.Ended + s.Current, rss, CountFds(p.Pid), true);
        }
    }

    /// <summary>usage_usec of the cgroup's cpu.stat and its memory.current; false when either cannot be read.</summary>
    internal static bool ReadCgroup(string dir, out ulong usageUsec, out long memoryBytes)
    {
        usageUsec = 0;
        memoryBytes = 0;
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(dir, "cpu.stat")))
                if (line.StartsWith("usage_usec ", StringComparison.Ordinal))
                {
                    if (!ulong.TryParse(line.AsSpan(11), NumberStyles.None, CultureInfo.InvariantCulture, out usageUsec)) return false;
                    break;
                }
            return long.TryParse(File.ReadAllText(Path.Combine(dir, "memory.current")).AsSpan().Trim(), NumberStyles.None,
                CultureInfo.InvariantCulture, out memoryBytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>Entries of /proc/PID/fd; 0 when it cannot be read (gone, or another user's).</summary>
    internal static int CountFds(int pid)
    {
        try { return Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
    }
}
