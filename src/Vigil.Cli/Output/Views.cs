using System.Globalization;
using System.Text;
using Vigil.Control;
using Vigil.Specs;

namespace Vigil.Cli.Output;

/// <summary>How the client commands print the control interface's answers for people (<c>--json</c> aside).</summary>
public static class Views
{
    /// <summary>One line per unit acted on: <c>web#4121 started</c>, <c>worker stopped: exited with code 0 after 3s</c>.</summary>
    public static string Outcome(ActionOutcome o, Style style)
    {
        var who = o.Pid is { } p ? string.Create(CultureInfo.InvariantCulture, $"{o.Name}#{p}") : o.Name;
        var what = o.Ok ? o.Outcome : style.Bad(o.Outcome);
        return o.Detail is { Length: > 0 } d ? $"{who} {what}: {d}" : $"{who} {what}";
    }

    /// <summary>A reload's diff: <c>+ name</c> added, <c>- name</c> removed, <c>~ name (command, env)</c> changed;
    /// unchanged units are not listed.</summary>
    public static IReadOnlyList<string> ReloadDiff(ReloadResult r)
    {
        var lines = new List<string>();
        foreach (var c in r.Changes)
        {
            switch (c.Change)
            {
                case "added": lines.Add("+ " + c.Name); break;
                case "removed": lines.Add("- " + c.Name); break;
                case "changed": lines.Add(c.Fields.Count > 0 ? $"~ {c.Name} ({string.Join(", ", c.Fields)})" : "~ " + c.Name); break;
            }
        }
        int same = r.Changes.Count(c => c.Change == "unchanged");
        if (lines.Count == 0) lines.Add(r.DryRun ? "no changes" : $"no changes ({same} unit(s) unchanged)");
        else if (r.DryRun) lines.Add("dry run: nothing was changed");
        return lines;
    }

    /// <summary>A unit's output line: <c>name | text</c> among several units, the text as written for one;
    /// with <paramref name="timestamps"/>, the time it was read first.</summary>
    public static string Log(LogLine line, bool prefix, bool timestamps, Style style)
    {
        var sb = new StringBuilder();
        if (timestamps) sb.Append(line.Time.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss.fff ", CultureInfo.InvariantCulture));
        if (prefix) sb.Append(style.UnitPrefix(line.UnitId, line.Name));
        return sb.Append(line.Text).ToString();
    }

    /// <summary>Everything <c>vigil status NAME</c> shows about one unit.</summary>
    public static string Status(UnitDetail u, Style style)
    {
        var sb = new StringBuilder();
        void Row(string key, string value) => sb.Append(CultureInfo.InvariantCulture, $"  {key,-10} {value}\n");
        sb.Append(CultureInfo.InvariantCulture, $"{u.Name} (unit {u.Id}): {style.State(u.State, UnitTable.StateText(u))}\n");
        Row("command", Command(u.Command, u.Args));
        Row("cwd", u.Cwd ?? "-");
        var pid = u.Pid is { } p
            ? string.Create(CultureInfo.InvariantCulture, $"{p} ({u.Status}, up {UnitTable.Uptime(TimeSpan.FromSeconds(u.UptimeSeconds))})")
            : "-";
        Row("pid", pid);
        Row("ready", UnitTable.Ready(u.Ready));
        if (u.CpuPercent is not null || u.RssBytes is not null)
            Row("usage", $"{(u.CpuPercent is { } c ? c.ToString("0.0", CultureInfo.InvariantCulture) + "% CPU" : "-")}, "
                + $"{(u.RssBytes is { } r ? Sizes.Format(r) + " RSS" : "-")}");
        Row("restarts", string.Create(CultureInfo.InvariantCulture, $"{u.Restarts}; last exit: {u.LastExit ?? "none yet"}"));
        var restart = new StringBuilder($"{u.Restart.Policy}, schedule {u.Restart.Schedule}");
        restart.Append(CultureInfo.InvariantCulture, $"; attempt {u.Restart.Attempt}");
        if (u.Restart.NextRestartInSeconds is { } n) restart.Append(CultureInfo.InvariantCulture, $", next in {UnitTable.Uptime(TimeSpan.FromSeconds(Math.Ceiling(n)))}");
        if (u.Restart.Limit is { } limit) restart.Append("; limit ").Append(limit);
        Row("restart", restart.ToString());
        Row("stop", string.Create(CultureInfo.InvariantCulture,
            $"{u.Stop.Signal}, then SIGKILL after {Durations.Format(TimeSpan.FromSeconds(u.Stop.TimeoutSeconds))} (kill wait {Durations.Format(TimeSpan.FromSeconds(u.Stop.KillWaitSeconds))})"));
        if (u.Attached) Row("attached", "yes (started elsewhere; watched, not restarted)");
        if (u.Detached) Row("detach", "yes (keeps running when Vigil exits)");
        if (u.Tmux is { } tmux) Row("tmux", $"window {tmux.Window} of session {tmux.Session} (vigil attach {u.Name})");
        Row("logs", u.LogFiles.Count > 0 ? string.Join(", ", u.LogFiles) : "memory only");
        if (u.DroppedLogLines > 0) Row("dropped", string.Create(CultureInfo.InvariantCulture, $"{u.DroppedLogLines} log line(s)"));
        if (u.Probes.Count == 0) Row("probes", "none");
        foreach (var pr in u.Probes)
        {
            var latency = pr.LatencyMs is { } ms ? string.Create(CultureInfo.InvariantCulture, $", {ms:0.#}ms") : "";
            var fails = pr.ConsecutiveFailures > 0 ? string.Create(CultureInfo.InvariantCulture, $", {pr.ConsecutiveFailures} failure(s) in a row") : "";
            var result = pr.Result is "ok" or "unknown" ? pr.Result : style.Bad(pr.Result);
            Row("probe", $"{pr.Name} ({pr.Kind}, {pr.Role}, action {pr.Action}): {result}{latency}{fails}{(pr.Detail is { Length: > 0 } d ? " — " + d : "")}");
        }
        if (u.RecentEvents.Count > 0)
        {
            sb.Append("  recent events:\n");
            foreach (var ev in u.RecentEvents) sb.Append("    ").Append(EventPrinter.Format(ev)).Append('\n');
        }
        if (u.Reliability is { } reliability) sb.Append(ReliabilityView.Status(reliability)).Append('\n');
        return sb.ToString().TrimEnd('\n');
    }

    /// <summary>A command line as a shell would take it back: arguments with spaces or quotes are single-quoted.</summary>
    public static string Command(string command, IReadOnlyList<string> args) =>
        string.Join(' ', args.Prepend(command).Select(Quote));

    private static string Quote(string a) =>
        a.Length > 0 && a.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,+@%".Contains(c)) ? a : "'" + a.Replace("'", "'\\''") + "'";
}
