using System.Globalization;
using System.Text;
using Vigil.Control;

namespace Vigil.Cli.Output;

/// <summary>The reliability statistics for people: the section <c>vigil status</c> adds, and <c>vigil report</c>'s table.</summary>
public static class ReliabilityView
{
    private static readonly string[] ReportHeader = ["NAME", "STATE", "RESTARTS", "FAILURES", "AVAILABLE", "DOWNTIME", "MTTR", "WORST", "MTBF", "TOP CAUSE"];

    /// <summary>The lines under <c>vigil status</c>: one column per window, then the causes of the longest window.</summary>
    public static string Status(IReadOnlyList<ReliabilityWindow> windows)
    {
        var sb = new StringBuilder();
        if (windows.Count == 0) return "  reliability: nothing recorded yet";
        sb.Append("  reliability (from the history: lifetime, across vigil restarts):\n");
        List<string[]> rows =
        [
            ["", .. windows.Select(w => "last " + w.Window)],
            ["restarts", .. windows.Select(w => Count(w.Restarts))],
            ["failures", .. windows.Select(w => Count(w.Failures))],
            ["available", .. windows.Select(w => Percent(w.AvailabilityPercent))],
            ["downtime", .. windows.Select(w => Span(w.DowntimeSeconds))],
            ["recovery", .. windows.Select(w => w.MeanTimeToRecoverSeconds is { } m ? $"{Span(m)} mean, {Span(w.WorstTimeToRecoverSeconds ?? m)} worst" : "-")],
            ["mtbf", .. windows.Select(w => Span(w.MeanTimeBetweenFailuresSeconds))],
        ];
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var r in rows) sb.Append("    ").Append(string.Join("  ", r.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd()).Append('\n');
        var longest = windows[^1];
        if (longest.Causes.Count > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  failure causes (last {longest.Window}):\n");
            foreach (var c in longest.Causes) sb.Append("    ").Append(Cause(c)).Append('\n');
        }
        return sb.ToString().TrimEnd('\n');
    }

    /// <summary><c>exited with code 3 ×12 (first 2026-12-01 10:00:01, last 2026-12-03 18:02:11)</c>.</summary>
    public static string Cause(FailureCauseInfo c) =>
        string.Create(CultureInfo.InvariantCulture, $"{c.Cause} ×{c.Count} (first {Time(c.First)}, last {Time(c.Last)})");

    /// <summary><c>vigil report</c>'s table: one row per unit, then each unit's causes.</summary>
    public static string Report(ReliabilityReport r, Style style)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"reliability of '{r.Instance}' from {Time(r.From)} to {Time(r.To)} (history {r.Database})\n");
        if (r.DroppedEvents > 0) sb.Append(CultureInfo.InvariantCulture, $"{style.Bad($"{r.DroppedEvents} event(s) could not be recorded")}: the figures may miss them\n");
        var rows = new List<string[]> { ReportHeader };
        foreach (var u in r.Units)
        {
            var f = u.Figures;
            rows.Add([u.Name, u.State ?? "(removed)", Count(f.Restarts), Count(f.Failures), Percent(f.AvailabilityPercent), Span(f.DowntimeSeconds),
                Span(f.MeanTimeToRecoverSeconds), Span(f.WorstTimeToRecoverSeconds), Span(f.MeanTimeBetweenFailuresSeconds),
                f.Causes.Count > 0 ? string.Create(CultureInfo.InvariantCulture, $"{f.Causes[0].Cause} ×{f.Causes[0].Count}") : "-"]);
        }
        var widths = Enumerable.Range(0, ReportHeader.Length).Select(c => rows.Max(row => row[c].Length)).ToArray();
        foreach (var row in rows) sb.Append(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd()).Append('\n');
        foreach (var u in r.Units.Where(u => u.Figures.Causes.Count > 0))
        {
            sb.Append('\n').Append(u.Name).Append(":\n");
            foreach (var c in u.Figures.Causes) sb.Append("  ").Append(Cause(c)).Append('\n');
        }
        return sb.ToString().TrimEnd('\n');
    }

    private static string Count(int n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary><c>99.95%</c>; <c>-</c> when the unit neither ran nor was down.</summary>
    public static string Percent(double? p) => p is { } v ? v.ToString("0.##", CultureInfo.InvariantCulture) + "%" : "-";

    /// <summary>A duration for people, sub-second ones too: <c>350ms</c>, <c>1.2s</c>, <c>3m20s</c>; <c>-</c> for none.</summary>
    public static string Span(double? seconds) => seconds switch
    {
        null => "-",
        < 1 => string.Create(CultureInfo.InvariantCulture, $"{Math.Round(seconds.Value * 1000)}ms"),
        < 60 => string.Create(CultureInfo.InvariantCulture, $"{seconds.Value:0.#}s"),
        _ => UnitTable.Uptime(TimeSpan.FromSeconds(seconds.Value)),
    };

    /// <summary>UTC, to the second: <c>2026-12-03 18:02:11Z</c>.</summary>
    public static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
