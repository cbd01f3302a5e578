using System.CommandLine;
using System.Text.Json;
using Vigil.Cli.Output;
using Vigil.Control;

namespace Vigil.Cli.Commands;

/// <summary><c>vigil ls</c> and <c>vigil status NAME</c>: what runs, and everything about one unit.</summary>
internal static class ListCommands
{
    public static Option<bool> Json() => new("--json") { Description = "print JSON (the control protocol's fields, camelCase) instead of text" };

    public static Argument<string> Name() => new("NAME") { Description = "a unit's name (every unit with that name)" };

    public static Command Ls(CliContext ctx)
    {
        var json = Json();
        var command = Client.Command(ctx, "ls", "list the units and how they are", """
            Columns: name, state (with the time left before a scheduled restart), pid, status (the process's /proc state),
            ready (readiness probe: yes, no, or - without one), uptime, restarts, last exit, CPU % (of one core, process
            tree), RSS (process tree). Coloured by state on a terminal; plain when piped or with NO_COLOR.
            --json: an array of objects with id, name, state, pid (or null), status, ready, restarts, uptimeSeconds,
            lastExit, cpuPercent, rssBytes, nextRestartInSeconds, attached, detached.
            """,
            async (parsed, control, cancel) =>
            {
                var units = await control.ListAsync(cancel).ConfigureAwait(false);
                ctx.Out.WriteLine(parsed.GetValue(json)
                    ? JsonSerializer.Serialize(units, ControlJson.Default.IReadOnlyListUnitInfo)
                    : UnitTable.Render(units, new Style(ctx.Color)));
                return ExitCodes.Ok;
            }, json);
        command.Aliases.Add("list");
        return command;
    }

    public static Command Status(CliContext ctx)
    {
        var json = Json();
        var name = Name();
        name.CompletionSources.Add(UnitNames.Source(ctx, withAll: false));
        return Client.Command(ctx, "status", "everything about one unit", """
            Command, cwd, pid and uptime, restart policy and where the unit is in its schedule, stop escalation, probes with
            their last results and latency, log files, dropped log lines, recent events, and the reliability statistics
            over the last hour, day and retention period from the history (restarts, failures, availability, downtime,
            recovery times, MTBF, failure causes; lifetime figures that continue across Vigil restarts: see 'vigil
            report'). A name several units share shows each of them. --json: an array of those objects (the fields of
            ls, and command, args, cwd, restart, stop, probes, logFiles, droppedLogLines, recentEvents, reliability).
            """,
            async (parsed, control, cancel) =>
            {
                var units = await control.StatusAsync(parsed.GetValue(name)!, cancel).ConfigureAwait(false);
                if (parsed.GetValue(json)) ctx.Out.WriteLine(JsonSerializer.Serialize(units, ControlJson.Default.IReadOnlyListUnitDetail));
                else ctx.Out.WriteLine(string.Join("\n\n", units.Select(u => Views.Status(u, new Style(ctx.Color)))));
                return ExitCodes.Ok;
            }, name, json);
    }
}
