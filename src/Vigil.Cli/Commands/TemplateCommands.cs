using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Vigil.Config;
using Vigil.Control;

namespace Vigil.Cli.Commands;

/// <summary><c>vigil templates ls|show</c> and <c>vigil save-template</c>: Ligato's process templates of a running Vigil.</summary>
internal static class TemplateCommands
{
    public static Command Templates(CliContext ctx)
    {
        var command = new NotedCommand("templates", "list or show the Ligato process templates of the running Vigil", """
            The templates folder is the config's templates: (or vigil run --templates DIR), read again at each call; each
            *.json file in it is a unit, started with Vigil when its run_on_startup is set (else: vigil start NAME).
            """);
        var json = ListCommands.Json();
        command.Subcommands.Add(Client.Command(ctx, "ls", "one line per template: name, run on startup, restarts, its unit's state, file", "",
            async (parsed, control, cancel) =>
            {
                var templates = await control.TemplatesAsync(cancel).ConfigureAwait(false);
                if (parsed.GetValue(json)) ctx.Out.WriteLine(JsonSerializer.Serialize(templates, ControlJson.Default.IReadOnlyListTemplateInfo));
                else foreach (var line in Table(templates)) ctx.Out.WriteLine(line);
                return ExitCodes.Ok;
            }, json));
        var name = new Argument<string>("NAME") { Description = "a template's name" };
        var showJson = ListCommands.Json();
        command.Subcommands.Add(Client.Command(ctx, "show", "a template as its file says it, and its unit's state", "",
            async (parsed, control, cancel) =>
            {
                var wanted = parsed.GetValue(name)!;
                var templates = await control.TemplatesAsync(cancel).ConfigureAwait(false);
                if (templates.FirstOrDefault(t => t.Name == wanted) is not { } t)
                {
                    var near = Suggestions.Nearest(wanted, [.. templates.Select(x => x.Name)]);
                    ctx.Err.WriteLine($"vigil: no template named '{wanted}'" + (near is null ? "" : $" (did you mean '{near}'?)"));
                    return ExitCodes.NoSuchUnit;
                }
                if (parsed.GetValue(showJson))
                {
                    ctx.Out.WriteLine(JsonSerializer.Serialize<IReadOnlyList<TemplateInfo>>([t], ControlJson.Default.IReadOnlyListTemplateInfo));
                    return ExitCodes.Ok;
                }
                ctx.Out.WriteLine($"# {t.File}");
                ctx.Out.WriteLine(t.State is null ? "# no unit (added to the folder after the last reload: vigil reload defines it)"
                    : $"# unit: {t.State}{(t.Pid is { } pid ? string.Create(CultureInfo.InvariantCulture, $", pid {pid}") : "")}");
                ctx.Out.Write(t.Json);
                return ExitCodes.Ok;
            }, name, showJson));
        return command;
    }

    public static Command SaveTemplate(CliContext ctx)
    {
        var name = new Argument<string>("NAME") { Description = "the unit to write (one unit of that name)" };
        var dir = new Option<string?>("--dir") { Description = "the folder to write NAME.json in (default: the running Vigil's templates folder; '-': standard output)", HelpName = "DIR" };
        return Client.Command(ctx, "save-template", "write a unit as a Ligato process template (NAME.json)", """
            Ligato's Template option: the unit's command, args, restarts (never: 0, always: -1, restart.max: N), detach,
            autostart (run_on_startup), CPU affinity and echo (out_writer/err_writer), in Ligato's JSON. What a template
            cannot hold (cwd, env, probes, a restart schedule, log files) is named on stderr and left out.
            """,
            async (parsed, control, cancel) =>
            {
                var saved = await control.SaveTemplateAsync(parsed.GetValue(name)!, cancel).ConfigureAwait(false);
                if (saved.Lost.Count > 0)
                    ctx.Err.WriteLine($"vigil: save-template: a Ligato template cannot hold {string.Join(", ", saved.Lost)} of {saved.Name}: left out");
                var folder = parsed.GetValue(dir);
                if (folder == "-")
                {
                    ctx.Out.Write(saved.Json);
                    return ExitCodes.Ok;
                }
                folder ??= saved.Folder ?? throw new UsageException("save-template: this Vigil has no templates folder; give --dir DIR, or --dir - for standard output");
                string path;
                try { path = LigatoTemplate.FilePath(folder, saved.Name); }
                catch (ArgumentException e) { throw new UsageException("save-template: " + e.Message); }
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                if (InstanceCommands.WriteReplacing(path, saved.Json) is { } error)
                {
                    ctx.Err.WriteLine($"vigil: save-template: cannot write {path}: {error}");
                    return ExitCodes.Failure;
                }
                ctx.Out.WriteLine($"vigil: saved template {saved.Name} to {path}");
                return ExitCodes.Ok;
            }, name, dir);
    }

    private static IEnumerable<string> Table(IReadOnlyList<TemplateInfo> templates)
    {
        var rows = new List<string[]> { new[] { "NAME", "ON STARTUP", "RESTART", "UNIT", "PID", "FILE" } };
        rows.AddRange(templates.Select(t => new[]
        {
            t.Name, t.RunOnStartup ? "yes" : "no",
            t.Restart switch { 0 => "never", < 0 => "always", var n => n.ToString(CultureInfo.InvariantCulture) + " times" },
            t.State ?? "-", t.Pid?.ToString(CultureInfo.InvariantCulture) ?? "-", t.File,
        }));
        var widths = Enumerable.Range(0, 6).Select(i => rows.Max(r => r[i].Length)).ToArray();
        return rows.Select(r => string.Join("  ", r.Select((c, i) => i == r.Length - 1 ? c : c.PadRight(widths[i]))));
    }
}
