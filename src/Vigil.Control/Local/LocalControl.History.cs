using Vigil.Supervision;
using Vigil.Telemetry.History;

namespace Vigil.Control;

// The reliability statistics, from the history store: what `vigil status` adds under a unit and what `vigil report`
// shows for every unit. Both write what is queued first, so an event published before the request counts.

public sealed partial class LocalControl
{
    /// <summary>The windows of <c>vigil status</c>: the last hour, day (those shorter than the retention), and the retention period.</summary>
    private static readonly TimeSpan[] StatusWindows = [TimeSpan.FromHours(1), TimeSpan.FromDays(1)];

    /// <summary>The units' details with their reliability figures added (unchanged when history is off).</summary>
    private async Task<IReadOnlyList<UnitDetail>> WithReliabilityAsync(IReadOnlyList<UnitDetail> details, string name, CancellationToken cancel)
    {
        if (_host.History is not { } history) return details;
        var histories = await history.HistoriesAsync(name, cancel).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        IReadOnlyList<ReliabilityWindow> windows = histories.TryGetValue(name, out var h)
            ? [.. StatusWindows.Where(w => w < history.Keep).Append(history.Keep).Select(w => Window(h.Over(now - w, now), w))]
            : [];
        return [.. details.Select(d => d with { Reliability = windows })];
    }

    public async Task<ReliabilityReport> ReportAsync(DateTimeOffset? since = null, CancellationToken cancel = default)
    {
        var history = _host.History
            ?? throw new ControlException(ControlErrors.Unsupported, "history is off in this vigil's config (history: false): there is nothing to report");
        var histories = await history.HistoriesAsync(null, cancel).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var oldest = now - history.Keep;
        var from = since is { } s && s > oldest ? s : oldest;
        var states = Supervisor.Snapshot().GroupBy(u => u.Name).ToDictionary(g => g.Key, g => g.First().State.Name(), StringComparer.Ordinal);
        // The config's units first, in their order, then the ones only the history remembers.
        var names = Supervisor.Units.Select(u => u.Name).Distinct(StringComparer.Ordinal)
            .Concat(histories.Keys.Where(n => !states.ContainsKey(n)).Order(StringComparer.Ordinal)).ToList();
        var units = names.Select(n =>
        {
            var h = histories.GetValueOrDefault(n);
            return new UnitReport
            {
                Name = n,
                State = states.GetValueOrDefault(n),
                Figures = h is null ? Window(null, from, now) : Window(h.Over(from, now), now - from),
                Timeline = h is null ? [] : [.. h.Bands.Where(b => b.To > from).Select(b => new TimelineBand
                {
                    From = b.From < from ? from : b.From, To = b.To, Kind = b.Kind.ToString().ToLowerInvariant(),
                })],
            };
        }).ToList();
        return new ReliabilityReport
        {
            Instance = _host.Instance, From = from, To = now, Database = history.Path, DroppedEvents = history.Dropped, Units = units,
        };
    }

    /// <summary>A window's length to the second in its largest whole unit: 1h, 1d, 30d, 90m, 45s.</summary>
    private static string Label(TimeSpan length)
    {
        long s = (long)Math.Round(length.TotalSeconds);
        return s >= 86_400 && s % 86_400 == 0 ? $"{s / 86_400}d" : s >= 3600 && s % 3600 == 0 ? $"{s / 3600}h"
            : s >= 60 && s % 60 == 0 ? $"{s / 60}m" : $"{s}s";
    }

    private static ReliabilityWindow Window(ReliabilityFigures? f, DateTimeOffset from, DateTimeOffset to) =>
        f is null ? new ReliabilityWindow { Window = Label(to - from), From = from, To = to } : Window(f, to - from);

    private static ReliabilityWindow Window(ReliabilityFigures f, TimeSpan length) => new()
    {
        Window = Label(length),
        From = f.From,
        To = f.To,
        Restarts = f.Restarts,
        Failures = f.Failures,
        AvailabilityPercent = f.Availability is { } a ? Math.Round(a * 100, 3) : null,
        UpSeconds = Words.Seconds(f.Up),
        DowntimeSeconds = Words.Seconds(f.Downtime),
        Recoveries = f.Recoveries,
        MeanTimeToRecoverSeconds = f.MeanTimeToRecover is { } m ? Words.Seconds(m) : null,
        WorstTimeToRecoverSeconds = f.WorstTimeToRecover is { } w ? Words.Seconds(w) : null,
        MeanTimeBetweenFailuresSeconds = f.MeanTimeBetweenFailures is { } b ? Words.Seconds(b) : null,
        Causes = [.. f.Causes.Select(c => new FailureCauseInfo { Cause = c.Cause, Count = c.Count, First = c.First, Last = c.Last })],
    };
}
