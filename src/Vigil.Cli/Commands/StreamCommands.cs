using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Vigil.Cli.Output;
using Vigil.Control;
using Vigil.Specs;

namespace Vigil.Cli.Commands;

/// <summary><c>vigil logs</c> and <c>vigil events</c>: what was recorded, and with <c>-f</c> everything new until Ctrl-C.</summary>
internal static class StreamCommands
{
    private static Option<bool> Follow() => new("--follow", "-f") { Description = "keep printing new lines as they come, until Ctrl-C" };

    private static Option<string?> Since() => new("--since")
    {
        Description = "only what happened since: a duration back from now (10m, 1h) or a time (2026-11-22T06:00:00)",
        HelpName = "WHEN",
    };

    public static Command Logs(CliContext ctx)
    {
        var names = new Argument<string[]>("NAME") { Description = "units whose output to show (default: all)", Arity = ArgumentArity.ZeroOrMore };
        names.CompletionSources.Add(UnitNames.Source(ctx, withAll: false));
        var follow = Follow();
        var lines = new Option<int>("--lines", "-n") { Description = "how many lines of backlog (default 20)", DefaultValueFactory = _ => 20, HelpName = "N" };
        var since = Since();
        var timestamps = new Option<bool>("--timestamps", "-t") { Description = "prefix each line with the time it was read" };
        return Client.Command(ctx, "logs", "print the units' output (-f: and follow it)", """
            The last lines (-n, default 20) from memory and the log files, in order. Several units (or none: all) are
            merged and prefixed 'name | ' in a colour per unit; one unit's lines are printed as they were written.
            -f keeps printing new lines until Ctrl-C.
            """,
            async (parsed, control, cancel) =>
            {
                int n = parsed.GetValue(lines);
                if (n < 0) throw new UsageException($"--lines: expected a number of lines, 0 or more, got {n}");
                var query = new LogQuery
                {
                    Names = parsed.GetValue(names) ?? [],
                    Lines = n,
                    Since = ParseSince(parsed.GetValue(since), TimeProvider.System),
                };
                var style = new Style(ctx.Color);
                bool prefix = query.Names.Count != 1, stamps = parsed.GetValue(timestamps);
                if (!parsed.GetValue(follow))
                {
                    foreach (var line in await control.LogsAsync(query, cancel).ConfigureAwait(false))
                        ctx.Out.WriteLine(Views.Log(line, prefix, stamps, style));
                    return ExitCodes.Ok;
                }
                return await FollowAsync(control.FollowLogsAsync(query, CancellationToken.None), cancel,
                    line => ctx.Out.WriteLine(Views.Log(line, prefix, stamps, style)), ctx).ConfigureAwait(false);
            }, names, follow, lines, since, timestamps);
    }

    public static Command Events(CliContext ctx)
    {
        var follow = Follow();
        var since = Since();
        var json = ListCommands.Json();
        return Client.Command(ctx, "events", "print the event stream as vigil run does (-f: and follow it)", """
            One line per event: time name#pid kind: reason. --json: an array of objects (time, unitId, name, pid, state,
            kind, reason); with -f, one object per line.
            """,
            async (parsed, control, cancel) =>
            {
                var from = ParseSince(parsed.GetValue(since), TimeProvider.System);
                bool asJson = parsed.GetValue(json);
                if (!parsed.GetValue(follow))
                {
                    var events = await control.EventsAsync(from, cancel).ConfigureAwait(false);
                    if (asJson) ctx.Out.WriteLine(JsonSerializer.Serialize(events, ControlJson.Default.IReadOnlyListEventInfo));
                    else foreach (var ev in events) ctx.Out.WriteLine(EventPrinter.Format(ev));
                    return ExitCodes.Ok;
                }
                return await FollowAsync(control.FollowEventsAsync(from, CancellationToken.None), cancel,
                    ev => ctx.Out.WriteLine(asJson ? JsonSerializer.Serialize(ev, ControlJson.Default.EventInfo) : EventPrinter.Format(ev)), ctx)
                    .ConfigureAwait(false);
            }, follow, since, json);
    }

    /// <summary>Prints each item of <paramref name="stream"/> until Ctrl-C/SIGTERM (exit 0) or the Vigil ends (exit 0).</summary>
    private static async Task<int> FollowAsync<T>(IAsyncEnumerable<T> stream, CancellationToken cancel, Action<T> print, CliContext ctx)
    {
        using var interrupt = new Interrupt(cancel);
        try
        {
            await foreach (var item in stream.WithCancellation(interrupt.Token).ConfigureAwait(false))
            {
                print(item);
                ctx.Out.Flush();
            }
        }
        catch (OperationCanceledException) when (interrupt.Token.IsCancellationRequested) { }
        return ExitCodes.Ok;
    }

    /// <summary><c>10m</c> (that long ago) or an absolute time; null for none.</summary>
    public static DateTimeOffset? ParseSince(string? text, TimeProvider time)
    {
        if (string.IsNullOrEmpty(text)) return null;
        if (Durations.TryParse(text, out var ago)) return time.GetUtcNow() - ago;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var at)) return at;
        throw new UsageException($"--since: expected {Durations.Expected} ago, or a time like 2026-11-22T06:00:00, got '{text}'");
    }
}
