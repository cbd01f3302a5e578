using System.Globalization;
using Vigil.Control;
using Vigil.Specs;

namespace Vigil.Cli.Output;

/// <summary>The table of <c>vigil ls</c> (also printed on SIGUSR1 and by the demo): one row per unit.</summary>
public static class UnitTable
{
    private static readonly string[] Header = ["NAME", "STATE", "PID", "STATUS", "READY", "UPTIME", "RESTARTS", "LAST EXIT", "CPU%", "RSS"];
    private const int StateColumn = 1;

    public static string Render(IReadOnlyList<UnitInfo> units, Style style)
    {
        var rows = new List<string[]> { Header };
        foreach (var u in units)
            rows.Add([u.Name, StateText(u), Num(u.Pid), u.Status.Length > 0 ? u.Status : "-", Ready(u.Ready),
                u.Pid is null ? "-" : Uptime(TimeSpan.FromSeconds(u.UptimeSeconds)), Num(u.Restarts), u.LastExit ?? "-",
                u.CpuPercent is { } cpu ? cpu.ToString("0.0", CultureInfo.InvariantCulture) : "-",
                u.RssBytes is { } rss ? Sizes.Format(rss) : "-"]);
        var widths = Enumerable.Range(0, Header.Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var lines = rows.Select((r, i) =>
        {
            // Pad on the visible text, then colour: escape codes would throw the columns off.
            var cells = r.Select((cell, c) => cell.PadRight(widths[c])).ToArray();
            if (i > 0) cells[StateColumn] = style.State(units[i - 1].State, cells[StateColumn]);
            return string.Join("  ", cells).TrimEnd();
        });
        return string.Join('\n', lines);
    }

    /// <summary>The state, with the time left before a scheduled restart: <c>backoff (10s)</c>.</summary>
    public static string StateText(UnitInfo u) =>
        u.NextRestartInSeconds is { } n ? $"{u.State} ({Uptime(TimeSpan.FromSeconds(Math.Ceiling(n)))})" : u.State;

    public static string Ready(bool? ready) => ready switch { true => "yes", false => "no", null => "-" };

    /// <summary>A duration for people, two units at most: <c>45s</c>, <c>3m20s</c>, <c>5h2m</c>, <c>12d4h</c>.</summary>
    public static string Uptime(TimeSpan t)
    {
        long s = (long)Math.Max(0, Math.Floor(t.TotalSeconds));
        return s switch
        {
            < 60 => $"{s}s",
            < 3600 => Two(s / 60, "m", s % 60, "s"),
            < 86400 => Two(s / 3600, "h", s % 3600 / 60, "m"),
            _ => Two(s / 86400, "d", s % 86400 / 3600, "h"),
        };
        static string Two(long a, string au, long b, string bu) =>
            b == 0 ? string.Create(CultureInfo.InvariantCulture, $"{a}{au}") : string.Create(CultureInfo.InvariantCulture, $"{a}{au}{b}{bu}");
    }

    private static string Num(int? n) => n?.ToString(CultureInfo.InvariantCulture) ?? "-";
}
