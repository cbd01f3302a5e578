namespace Vigil.Hooks;

/// <summary>
/// At most one hook run per event kind per unit per interval (pure: the caller gives the time). Events in between are
/// suppressed and counted; the next run carries the count, so nothing is lost from the story, only from the alerts.
/// </summary>
public sealed class HookRateLimiter
{
    private readonly Dictionary<(int UnitId, string Name, string Kind), Entry> _entries = [];

    private sealed class Entry
    {
        public long LastRun;
        public int Suppressed;
    }

    /// <summary>Entries beyond this many are pruned of those whose interval is long over (units come and go).</summary>
    private const int PruneAbove = 4096;

    /// <summary>Decides for one event at <paramref name="now"/> (a timestamp of <paramref name="time"/>).</summary>
    /// <returns>Run: whether the hooks run now; Suppressed: how many events of the key were suppressed since the last
    /// run (reported by this one), 0 when it does not run.</returns>
    public (bool Run, int Suppressed) Decide(int unitId, string name, string kind, TimeSpan minInterval, TimeProvider time, long now)
    {
        ArgumentNullException.ThrowIfNull(time);
        var key = (unitId, name, kind);
        if (!_entries.TryGetValue(key, out var entry))
        {
            if (_entries.Count >= PruneAbove) Prune(time, now, minInterval);
            _entries[key] = new Entry { LastRun = now };
            return (true, 0);
        }
        if (minInterval > TimeSpan.Zero && Elapsed(time, entry.LastRun, now) < minInterval)
        {
            entry.Suppressed++;
            return (false, 0);
        }
        int suppressed = entry.Suppressed;
        entry.LastRun = now;
        entry.Suppressed = 0;
        return (true, suppressed);
    }

    private static TimeSpan Elapsed(TimeProvider time, long from, long to) => time.GetElapsedTime(from, to);

    private void Prune(TimeProvider time, long now, TimeSpan minInterval)
    {
        foreach (var (key, e) in _entries.ToList())
            if (e.Suppressed == 0 && Elapsed(time, e.LastRun, now) >= minInterval) _entries.Remove(key);
    }
}
