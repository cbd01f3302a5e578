namespace Vigil.Hooks;

/// <summary>
/// At most one hook run per event kind per unit per interval (pure: the caller gives each event's time, which the
/// supervisor's TimeProvider stamped). Events in between are suppressed and counted; the next run carries the count,
/// so nothing is lost from the story, only from the alerts. The events' own times, not when the runner got to them,
/// decide: a runner slowed down by a loaded machine limits exactly as an idle one.
/// </summary>
public sealed class HookRateLimiter
{
    private readonly Dictionary<(int UnitId, string Name, string Kind), Entry> _entries = [];

    private sealed class Entry
    {
        public DateTimeOffset LastRun;
        public int Suppressed;
    }

    /// <summary>Entries beyond this many are pruned of those whose interval is over (units come and go).</summary>
    private const int PruneAbove = 4096;

    /// <summary>Decides for one event that happened at <paramref name="at"/>.</summary>
    /// <returns>Run: whether the hooks run for it; Suppressed: how many events of the key were suppressed since the
    /// last run (reported by this one), 0 when it does not run.</returns>
    public (bool Run, int Suppressed) Decide(int unitId, string name, string kind, TimeSpan minInterval, DateTimeOffset at)
    {
        var key = (unitId, name, kind);
        if (!_entries.TryGetValue(key, out var entry))
        {
            if (_entries.Count >= PruneAbove) Prune(at, minInterval);
            _entries[key] = new Entry { LastRun = at };
            return (true, 0);
        }
        var since = at - entry.LastRun;
        // A clock set back (since < 0) starts the interval afresh rather than holding every alert back until it is over.
        if (minInterval > TimeSpan.Zero && since >= TimeSpan.Zero && since < minInterval)
        {
            entry.Suppressed++;
            return (false, 0);
        }
        int suppressed = entry.Suppressed;
        entry.LastRun = at;
        entry.Suppressed = 0;
        return (true, suppressed);
    }

    private void Prune(DateTimeOffset at, TimeSpan minInterval)
    {
        foreach (var (key, e) in _entries.ToList())
            if (e.Suppressed == 0 && at - e.LastRun >= minInterval) _entries.Remove(key);
    }
}
