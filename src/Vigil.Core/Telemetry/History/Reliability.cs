namespace Vigil.Telemetry.History;

// Overview
// --------
// The reliability statistics of `vigil status` and `vigil report`, computed from stored events only (so they continue
// across Vigil restarts, reloads and crashes: the database is the counter). Pure: events in, figures out.
//
// A unit's timeline is cut into bands by the state each event leaves it in:
//   up         running, no liveness failure outstanding;
//   unhealthy  running while a liveness probe fails (action notify/exec), or being stopped because one failed;
//   down       waiting to restart (backoff, slow-retry), given up, or ended by a failure the policy does not restart;
//   (none)     stopped on request, never started, or Vigil not running: not counted either way. Time while Vigil was
//              not running is not the unit's downtime: nobody watched it. A Vigil that died (SIGKILL) ends its bands at
//              the last time it was known alive (its vigil-stopped row, written by the next start).
// Availability = up / (up + unhealthy + down); downtime = unhealthy + down.
// A failure is an exit Vigil did not ask for (except a clean exit the policy leaves alone), a spawn error, or an
// unhealthy verdict. Time to recover runs from the first failure of an episode to the next spawn (running again) or, for
// a probe that recovers by itself, to its healthy event; an episode open when Vigil stops, or ended by a stop request,
// does not count. Mean time between failures = up time / failures. Restarts = spawns of a unit after its first in a
// Vigil run (as `vigil ls` counts them, summed over runs).
// Units are tracked per Vigil run and unit id, and summed by name (names may repeat).

/// <summary>What a band of a unit's timeline was.</summary>
public enum BandKind { Up, Unhealthy, Down }

/// <summary>A stretch of one unit's timeline.</summary>
public sealed record Band(DateTimeOffset From, DateTimeOffset To, BandKind Kind);

/// <summary>One failure cause (<c>exited with code 3</c>, <c>hung: no output</c>) and how often it was seen.</summary>
public sealed record FailureCause(string Cause, int Count, DateTimeOffset First, DateTimeOffset Last);

/// <summary>A unit's figures over [<see cref="From"/>, <see cref="To"/>].</summary>
public sealed record ReliabilityFigures(DateTimeOffset From, DateTimeOffset To)
{
    public int Restarts { get; init; }
    public int Failures { get; init; }
    public TimeSpan Up { get; init; }
    /// <summary>Unhealthy and down time.</summary>
    public TimeSpan Downtime { get; init; }
    /// <summary>Up / (up + downtime), 0 to 1; null when the unit was neither (never ran in the window).</summary>
    public double? Availability { get; init; }
    public int Recoveries { get; init; }
    public TimeSpan? MeanTimeToRecover { get; init; }
    public TimeSpan? WorstTimeToRecover { get; init; }
    /// <summary>Up time / failures; null without failures.</summary>
    public TimeSpan? MeanTimeBetweenFailures { get; init; }
    /// <summary>Most frequent first.</summary>
    public IReadOnlyList<FailureCause> Causes { get; init; } = [];
}

/// <summary>One unit name's history, built from its events: its bands, failures, recoveries and restarts.</summary>
public sealed class UnitHistory
{
    private readonly List<Band> _bands = [];
    private readonly List<(DateTimeOffset At, string Cause)> _failures = [];
    private readonly List<(DateTimeOffset Failed, DateTimeOffset Recovered)> _recoveries = [];
    private readonly List<DateTimeOffset> _restarts = [];

    private UnitHistory(string name) => Name = name;

    public string Name { get; }

    /// <summary>Up, unhealthy and down bands in time order (stopped time and Vigil's absences are gaps).</summary>
    public IReadOnlyList<Band> Bands => _bands;

    /// <summary>The figures over [<paramref name="from"/>, <paramref name="to"/>]: durations clipped to it, failures
    /// and restarts that happened in it, recoveries of failures that began in it.</summary>
    public ReliabilityFigures Over(DateTimeOffset from, DateTimeOffset to)
    {
        TimeSpan up = TimeSpan.Zero, down = TimeSpan.Zero;
        foreach (var b in _bands)
        {
            var d = Clip(b, from, to);
            if (b.Kind == BandKind.Up) up += d;
            else down += d;
        }
        bool In(DateTimeOffset t) => t >= from && t <= to;
        var failures = _failures.Where(f => In(f.At)).ToList();
        var recoveries = _recoveries.Where(r => In(r.Failed)).Select(r => r.Recovered - r.Failed).ToList();
        var causes = failures.GroupBy(f => f.Cause, StringComparer.Ordinal)
            .Select(g => new FailureCause(g.Key, g.Count(), g.Min(f => f.At), g.Max(f => f.At)))
            .OrderByDescending(c => c.Count).ThenByDescending(c => c.Last).ThenBy(c => c.Cause, StringComparer.Ordinal).ToList();
        return new ReliabilityFigures(from, to)
        {
            Restarts = _restarts.Count(In),
            Failures = failures.Count,
            Up = up,
            Downtime = down,
            Availability = up + down > TimeSpan.Zero ? up / (up + down) : null,
            Recoveries = recoveries.Count,
            MeanTimeToRecover = recoveries.Count > 0 ? TimeSpan.FromTicks(recoveries.Sum(r => r.Ticks) / recoveries.Count) : null,
            WorstTimeToRecover = recoveries.Count > 0 ? recoveries.Max() : null,
            MeanTimeBetweenFailures = failures.Count > 0 ? up / failures.Count : null,
            Causes = causes,
        };
    }

    private static TimeSpan Clip(Band b, DateTimeOffset from, DateTimeOffset to)
    {
        var start = b.From > from ? b.From : from;
        var end = b.To < to ? b.To : to;
        return end > start ? end - start : TimeSpan.Zero;
    }

    /// <summary>
    /// Every unit's history from <paramref name="events"/> (in the order they happened, with the <c>vigil-started</c>
    /// and <c>vigil-stopped</c> rows), by name, with bands still open at <paramref name="now"/> ended there.
    /// </summary>
    public static IReadOnlyDictionary<string, UnitHistory> Build(IEnumerable<HistoryEvent> events, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(events);
        var units = new Dictionary<string, UnitHistory>(StringComparer.Ordinal);
        var tracks = new Dictionary<(long Run, int Id), Track>();
        void CloseAll(DateTimeOffset at)
        {
            foreach (var t in tracks.Values) t.Close(at);
            tracks.Clear();
        }
        foreach (var e in events)
        {
            if (e.UnitId == 0)
            {
                // A Vigil started or stopped: whatever the previous one watched is no longer watched from here.
                if (e.Kind is HistoryEvent.VigilStarted or HistoryEvent.VigilStopped) CloseAll(e.Time);
                continue;
            }
            if (!units.TryGetValue(e.Name, out var unit)) units[e.Name] = unit = new UnitHistory(e.Name);
            if (!tracks.TryGetValue((e.Run, e.UnitId), out var track)) tracks[(e.Run, e.UnitId)] = track = new Track(unit);
            track.On(e);
        }
        CloseAll(now);
        foreach (var u in units.Values) u._bands.Sort((a, b) => a.From.CompareTo(b.From));
        return units;
    }

    /// <summary>The failure cause of a probe's verdict, without what changes from one failure to the next: the
    /// duration tail (<c>hung: no output for 2m</c> → <c>hung: no output</c>) and anything in parentheses after it.</summary>
    public static string ProbeCause(string why)
    {
        ArgumentNullException.ThrowIfNull(why);
        int cut = why.Length;
        foreach (var tail in (ReadOnlySpan<string>)[" for ", " in ", " after ", " ("])
        {
            int i = why.IndexOf(tail, StringComparison.Ordinal);
            if (i > 0 && i < cut) cut = i;
        }
        return why[..cut];
    }

    /// <summary>One unit of one Vigil run, event by event.</summary>
    private sealed class Track(UnitHistory unit)
    {
        private BandKind? _kind;
        private DateTimeOffset _since;
        private bool _spawned, _unhealthy, _lastRunFailed;
        private DateTimeOffset? _failedAt;

        public void On(HistoryEvent e)
        {
            var t = e.Time;
            switch (e.Kind)
            {
                case "spawned":
                    if (_spawned) unit._restarts.Add(t);
                    _spawned = true;
                    _unhealthy = false;
                    Recovered(t);
                    break;
                case "exited" or "killed":
                    _unhealthy = false;
                    _lastRunFailed = e.Status is not { Success: true };
                    // A clean exit the policy leaves alone is the program being done, not a failure.
                    if (e.Expected == false && !(e.ExitCode == 0 && e.State == "exited")) Fail(t, e.Status?.ToString() ?? "exited (status unknown)");
                    break;
                case "spawn-failed":
                    _lastRunFailed = true;
                    Fail(t, "spawn failed: " + (e.Why ?? e.Reason));
                    break;
                case "unhealthy":
                    _unhealthy = true;
                    Fail(t, ProbeCause(e.Why ?? e.Reason));
                    break;
                case "healthy":
                    _unhealthy = false;
                    Recovered(t);
                    break;
            }
            var kind = Classify(e.State);
            if (kind is null) _failedAt = null; // stopped on request: the episode ends without a recovery
            Move(kind, t);
        }

        private BandKind? Classify(string state) => state switch
        {
            "running" => _unhealthy ? BandKind.Unhealthy : BandKind.Up,
            "stopping-unhealthy" => BandKind.Unhealthy,
            "backoff" or "slow-retry" or "failed" => BandKind.Down,
            "exited" => _lastRunFailed ? BandKind.Down : null,
            _ => null,
        };

        private void Fail(DateTimeOffset t, string cause)
        {
            unit._failures.Add((t, cause));
            _failedAt ??= t;
        }

        private void Recovered(DateTimeOffset t)
        {
            if (_failedAt is { } f) unit._recoveries.Add((f, t));
            _failedAt = null;
        }

        private void Move(BandKind? kind, DateTimeOffset t)
        {
            if (kind == _kind) return;
            Close(t);
            _kind = kind;
            _since = t;
        }

        /// <summary>Ends the current band at <paramref name="t"/> (adjacent bands of one kind are merged).</summary>
        public void Close(DateTimeOffset t)
        {
            if (_kind is { } k && t > _since)
            {
                var bands = unit._bands;
                if (bands.Count > 0 && bands[^1].Kind == k && bands[^1].To == _since) bands[^1] = bands[^1] with { To = t };
                else bands.Add(new Band(_since, t, k));
            }
            _kind = null;
        }
    }
}
