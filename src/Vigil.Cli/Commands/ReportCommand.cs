using System.CommandLine;
using System.Text.Json;
using Vigil.Cli.Output;
using Vigil.Control;

namespace Vigil.Cli.Commands;

/// <summary><c>vigil report [--since 7d] [--json | --html FILE]</c>: every unit's reliability statistics from the history.</summary>
internal static class ReportCommand
{
    public static Command Build(CliContext ctx)
    {
        var json = ListCommands.Json();
        var html = new Option<string?>("--html") { Description = "write a self-contained HTML page (timelines, a bar per failure cause) to FILE", HelpName = "FILE" };
        var since = new Option<string?>("--since")
        {
            Description = "the window: a duration back from now (7d, 12h) or a time (2026-11-22T06:00:00); default: the whole retention period",
            HelpName = "WHEN",
        };
        // Checked at parse time, so a bad --since is a usage error (exit 2) whether or not a Vigil runs.
        since.Validators.Add(r =>
        {
            try { StreamCommands.ParseSince(r.GetValueOrDefault<string?>(), TimeProvider.System); }
            catch (UsageException e) { r.AddError(e.Message); }
        });
        return Client.Command(ctx, "report", "reliability statistics of every unit, from the history", """
            Per unit over the window: restarts, failures, availability (up / (up + unhealthy + down); stopped time and
            time Vigil was not running count as neither), downtime, mean and worst time to recover (failure → running
            again), mean time between failures (up time / failures), and the failure causes grouped and counted with
            first and last time seen. The figures come from <state dir>/vigil/<instance>/state.db and so continue across
            Vigil restarts and crashes (unlike the restarts of 'vigil ls', which are this run's).
            --json: the report object (instance, from, to, database, droppedEvents, units: name, state, figures, timeline).
            --html FILE: one page, usable offline (inline CSS and SVG, nothing fetched).
            """,
            async (parsed, control, cancel) =>
            {
                if (parsed.GetValue(json) && parsed.GetValue(html) is not null) throw new UsageException("report: give --json or --html FILE, not both");
                var report = await control.ReportAsync(StreamCommands.ParseSince(parsed.GetValue(since), TimeProvider.System), cancel).ConfigureAwait(false);
                if (parsed.GetValue(html) is { } file)
                {
                    var path = Path.GetFullPath(file);
                    try { await File.WriteAllTextAsync(path, ReportHtml.Render(report), cancel).ConfigureAwait(false); }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        ctx.Err.WriteLine($"vigil: report: cannot write {path}: {e.Message}");
                        return ExitCodes.Failure;
                    }
                    ctx.Out.WriteLine($"wrote {path} ({report.Units.Count} unit(s))");
                }
                else if (parsed.GetValue(json)) ctx.Out.WriteLine(JsonSerializer.Serialize(report, ControlJson.Default.ReliabilityReport));
                else ctx.Out.WriteLine(ReliabilityView.Report(report, new Style(ctx.Color)));
                return ExitCodes.Ok;
            }, since, json, html);
    }
}
