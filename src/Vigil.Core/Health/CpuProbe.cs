using System.Globalization;
using Vigil.Launching;
using Vigil.Specs;

namespace Vigil.Health;

/// <summary>
/// <c>cpu</c>: the process tree's share of one core (100% = one core fully busy), from the growth of its CPU time
/// (utime + stime in /proc) over the injected monotonic clock between two checks. Judged over the last
/// <see cref="CpuCheck.Window"/>, and only once the samples cover a whole window (no verdict before):
/// <list type="bullet">
/// <item>spinning: the share over the whole window is above <see cref="CpuCheck.MaxPercent"/>;</item>
/// <item>stuck: the share over the whole window is below <see cref="CpuCheck.MinPercent"/> (SIGSTOPped,
/// deadlocked, blocked forever). A min only makes sense for a process that is meant to work all the time (a render
/// loop, a worker), not for an idle server.</item>
/// </list>
/// Both are judged on the window's total CPU time, not sample by sample: the kernel counts CPU time in clock ticks
/// (10 ms), so a lightly loaded process reads 0 in many short samples without being stuck, and a spinning process on
/// a busy machine reads under its usual share in some samples without having stopped spinning.
/// CPU time of a child that exited and was reaped by a parent in the tree is kept (it moves to the parent's
/// cutime/cstime); that of a process reparented out of the tree and reaped elsewhere is lost for its last sample.
/// </summary>
internal sealed class CpuProbe(CpuCheck check) : IProbe, IImmediateProbe
{
    private readonly CpuWindow _window = new(check.Window);
    private Dictionary<(int Pid, ulong Start), TreeCpu.Times>? _last;
    private TimeSpan _lastAt;

    public ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
    {
        if (cancel.IsCancellationRequested) return ValueTask.FromCanceled<ProbeResult>(cancel);
        var tree = TreeSample.Read(target);
        var at = target.Time.GetElapsedTime(target.StartedAt);
        if (tree.Count == 0) return ValueTask.FromResult(ProbeResult.Ok("cpu: the process has exited"));
        var now = TreeCpu.Of(tree);
        var last = _last;
        var lastAt = _lastAt;
        _last = now;
        _lastAt = at;
        if (last is null || at <= lastAt) return ValueTask.FromResult(ProbeResult.Ok("cpu: first sample"));

        double cpuSeconds = TreeCpu.Delta(last, now) / ProcFs.ClockTicksPerSecond;
        double share = _window.Add(lastAt, at, cpuSeconds);
        var gauges = new Dictionary<string, double> { ["cpu_percent"] = Math.Round(share, 1) };
        if (_window.Full)
        {
            string span = Durations.Format(check.Window);
            if (check.MaxPercent is { } max && _window.Average > max)
                return ValueTask.FromResult(ProbeResult.Fail($"cpu: {Pct(_window.Average, "0")} of a core for {span} (max {Pct(max)})", gauges));
            if (check.MinPercent is { } min && _window.Average < min)
                return ValueTask.FromResult(ProbeResult.Fail($"stuck: {Pct(_window.Average, "0.0")} cpu for {span} (min {Pct(min)})", gauges));
        }
        return ValueTask.FromResult(ProbeResult.Ok($"cpu: {Pct(share, "0.0")} of a core", gauges));
    }

    private static string Pct(double v, string format = "0.##") => v.ToString(format, CultureInfo.InvariantCulture) + "%";

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>The samples of a cpu probe that cover its last window: each the CPU seconds used between two checks.</summary>
internal sealed class CpuWindow(TimeSpan window)
{
    private readonly List<(TimeSpan From, TimeSpan To, double Cpu)> _samples = [];

    /// <summary>Adds the interval [<paramref name="from"/>, <paramref name="to"/>] (times on one monotonic clock) in
    /// which the tree used <paramref name="cpuSeconds"/>; returns its share of one core in percent.</summary>
    public double Add(TimeSpan from, TimeSpan to, double cpuSeconds)
    {
        _samples.Add((from, to, cpuSeconds));
        // Keep the fewest samples that still reach back to the window's start.
        while (_samples.Count > 1 && _samples[1].From <= to - window) _samples.RemoveAt(0);
        return Share(_samples[^1]);
    }

    /// <summary>True once the samples cover the whole window.</summary>
    public bool Full => _samples.Count > 0 && _samples[0].From <= _samples[^1].To - window;

    /// <summary>The share over all samples of the window, in percent of one core.</summary>
    public double Average => _samples.Count == 0 ? 0 : _samples.Sum(s => s.Cpu) / (_samples[^1].To - _samples[0].From).TotalSeconds * 100;

    private static double Share((TimeSpan From, TimeSpan To, double Cpu) s) => s.Cpu / (s.To - s.From).TotalSeconds * 100;
}

/// <summary>CPU time of a process tree between two samples of /proc.</summary>
internal static class TreeCpu
{
    /// <summary>A process's own CPU ticks and those of the children it reaped.</summary>
    public readonly record struct Times(int Parent, ulong Own, ulong Children);

    public static Dictionary<(int Pid, ulong Start), Times> Of(IEnumerable<ProcStat> tree) =>
        tree.ToDictionary(p => (p.Pid, p.StartTime), p => new Times(p.ParentPid, p.CpuTicks, p.ChildCpuTicks));

    /// <summary>Clock ticks the tree used between <paramref name="before"/> and <paramref name="after"/>: the growth
    /// of every member's own and reaped-children's time, all the time of members born since, minus the part of a
    /// reaped member's time that was already counted while it was alive (its whole time lands in its parent's
    /// children ticks at once).</summary>
    public static double Delta(Dictionary<(int Pid, ulong Start), Times> before, Dictionary<(int Pid, ulong Start), Times> after)
    {
        double total = 0;
        var reaped = new Dictionary<int, double>(); // parent pid → growth of its children ticks
        foreach (var (key, now) in after)
        {
            if (!before.TryGetValue(key, out var was)) { total += now.Own + now.Children; continue; }
            total += Grow(was.Own, now.Own);
            double grown = Grow(was.Children, now.Children);
            total += grown;
            if (grown > 0) reaped[key.Pid] = grown;
        }
        foreach (var (key, was) in before)
        {
            if (after.ContainsKey(key) || !reaped.TryGetValue(was.Parent, out var left) || left <= 0) continue;
            double counted = Math.Min(left, was.Own + was.Children);
            reaped[was.Parent] = left - counted;
            total -= counted;
        }
        return Math.Max(0, total);
    }

    private static double Grow(ulong was, ulong now) => now > was ? now - was : 0;
}
