using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Reflection;
using Vigil.Cli.Commands;
using Vigil.Config;
using Vigil.Control;
using Vigil.Tether;
using Vigil.Tether.Cops;
using Vigil.Telemetry;

namespace Vigil.Cli;

/// <summary>Where a command's output goes and how it reaches a running Vigil. The program uses the console and the
/// control socket; tests give writers of their own and a control of their own.</summary>
public sealed record CliContext
{
    private readonly TextWriter? _out, _err;

    // The console's writers are taken at each use, never earlier: `vigil run --log` and -d point stdout at a file
    // before anything is written, and Console.Out keeps the descriptor it found at its first use.
    public TextWriter Out { get => _out ?? Console.Out; init => _out = value; }
    public TextWriter Err { get => _err ?? Console.Error; init => _err = value; }
    /// <summary>Colour on <see cref="Out"/>: a terminal, and no NO_COLOR.</summary>
    public bool Color { get; init; }
    /// <summary>Opens the control interface of the Vigil listening on a socket path.</summary>
    public Func<string, CancellationToken, Task<IVigilControl>> Connect { get; init; } =
        async (path, cancel) => await ControlClient.ConnectAsync(path, cancel).ConfigureAwait(false);

    /// <summary>The config sections and probe kinds beyond the engine's: Tether's <c>tether:</c> and <c>kind: tether</c>.</summary>
    public ConfigExtensions Extensions { get; init; } = new ConfigExtensions().AddTether().AddCops().AddCopsFiles().AddTelemetry();

    public static CliContext FromConsole() => new() { Color = Output.Style.TerminalColor() };

    /// <summary>True when the writers are the caller's, not the console's.</summary>
    public bool OwnWriters => _out is not null;
}

/// <summary>A command whose own help ends with more than its one-line description.</summary>
public sealed class NotedCommand(string name, string description, string notes) : Command(name, description)
{
    public string Notes { get; } = notes;
}

/// <summary>A mistake in how a command was called: printed as <c>vigil: message</c>, exit 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>Entry point: the <c>vigil</c> command tree (System.CommandLine) and its error handling.</summary>
public static class Cli
{
    /// <summary>Kept for the commands written before <see cref="ExitCodes"/>.</summary>
    public const int Ok = ExitCodes.Ok, Failure = ExitCodes.Failure, Usage = ExitCodes.Usage;

    public static Task<int> MainAsync(string[] args) => RunAsync(args, CliContext.FromConsole());

    /// <summary>Runs one command line; returns its exit code.</summary>
    public static async Task<int> RunAsync(string[] args, CliContext ctx)
    {
        if (args is ["--version" or "-V"])
        {
            ctx.Out.WriteLine("vigil " + Version);
            return ExitCodes.Ok;
        }
        // pinger parses its own `--key.sub=value` flags (the original's rc conventions): handed over untouched.
        if (args.Length > 0 && args[0] == "pinger") return await PingerCommand.ExecuteAsync(args[1..]).ConfigureAwait(false);
        if (InitShim.Needed && args.Length > 0 && args[0] is "run" or "demo") return await InitShim.RunAsync(args).ConfigureAwait(false);

        // Everything after the first `--` is a command line of its own (`vigil run -- CMD ARGS…`, `vigil add NAME --
        // CMD ARGS…`): cut off before parsing, so its flags are never taken for vigil's.
        int dashes = Array.IndexOf(args, "--");
        var head = dashes < 0 ? args : args[..dashes];
        string[]? tail = dashes < 0 ? null : args[(dashes + 1)..];
        var root = Build(ctx, tail);
        var parsed = root.Parse(head);
        if (head.Length == 0)
        {
            // Bare `vigil`: the usage, on stderr since nothing was asked for, and exit 2 as for any usage error.
            await root.Parse(["--help"]).InvokeAsync(new InvocationConfiguration { Output = ctx.Err }).ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        if ((parsed.Errors.Count > 0 && parsed.Action is ParseErrorAction) || (parsed.Action is not HelpAction && StrayOptions(parsed).Any()))
            return ReportParseErrors(parsed, ctx.Err);
        if (tail is not null && parsed.Action is not HelpAction && !TakesCommandLine(parsed.CommandResult.Command))
        {
            ctx.Err.WriteLine($"vigil: '--' only goes with 'vigil run -- CMD …' and 'vigil add NAME -- CMD …'");
            return ExitCodes.Usage;
        }
        var config = new InvocationConfiguration
        {
            // vigil run stops its children on SIGINT/SIGTERM, which takes as long as their stop timeouts: the parser's
            // own handler would cut that short. Each command that waits handles the signals itself.
            ProcessTerminationTimeout = null,
        };
        if (ctx.OwnWriters)
        {
            config.Output = ctx.Out;
            config.Error = ctx.Err;
        }
        try
        {
            return await parsed.InvokeAsync(config).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            ctx.Err.WriteLine($"vigil: {e.Message}");
            return ExitCodes.Usage;
        }
    }

    public static string Version { get; } =
        typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";

    private static readonly HashSet<string> CommandLineTakers = ["run", "add"];

    private static bool TakesCommandLine(Command c) => CommandLineTakers.Contains(c.Name);

    /// <summary>The whole command tree. <paramref name="tail"/>: the words after <c>--</c>, if any.</summary>
    public static RootCommand Build(CliContext ctx, string[]? tail)
    {
        var root = new RootCommand("vigil — keeps processes alive and responsive (crashes and hangs alike)");
        // -h and --help only: the Windows-style /? and /h would only clutter completion.
        root.Options.Remove(root.Options.OfType<HelpOption>().Single());
        var help = new HelpOption("--help", "-h");
        help.Action = new HelpWithNotes((HelpAction)help.Action!);
        root.Options.Add(help);
        root.Options.OfType<VersionOption>().Single().Action = new PrintVersion(ctx);
        foreach (var c in new[]
        {
            RunCommand.Build(ctx, tail), DemoCommand.Build(), PingerCommand.Build(),
            ListCommands.Ls(ctx), ListCommands.Status(ctx),
            UnitCommands.Action(ctx, "start", "start stopped, exited or given-up units",
                "A unit waiting in backoff starts now; a running one is left alone (already-running)."),
            UnitCommands.Action(ctx, "stop", "stop units gracefully; no restart follows",
                "The stop signal goes to the process group, then after the grace period SIGKILL to the whole tree."),
            UnitCommands.Action(ctx, "restart", "stop units gracefully and start them again",
                "The restart schedule starts over, as after a run long enough to reset it."),
            UnitCommands.Action(ctx, "kill", "SIGKILL units' whole process trees; no restart follows",
                "No grace period: for a unit that does not stop."),
            UnitCommands.Signal(ctx), StreamCommands.Logs(ctx), StreamCommands.Events(ctx),
            InstanceCommands.Reload(ctx), UnitCommands.Add(ctx, tail), UnitCommands.Remove(ctx),
            InstanceCommands.Save(ctx), InstanceCommands.Shutdown(ctx), ReportCommand.Build(ctx), AttachCommand.Build(ctx),
            TemplateCommands.Templates(ctx), TemplateCommands.SaveTemplate(ctx),
            StartupCommand.Build(ctx), CompletionCommand.Build(ctx), ManCommand.Build(ctx),
        })
            root.Subcommands.Add(c);
        NameArguments(root);
        return root;
    }

    /// <summary>Help shows each argument by its name (<c>&lt;NAME&gt;</c>): without one it would list the argument's
    /// completions, and for unit names that means asking the running Vigil.</summary>
    private static void NameArguments(Command command)
    {
        foreach (var a in command.Arguments) a.HelpName ??= a.Name;
        foreach (var c in command.Subcommands) NameArguments(c);
    }

    /// <summary>Words taken as arguments that look like options (<c>vigil logs --folow</c> would otherwise ask for a
    /// unit named --folow); a negative number passes.</summary>
    private static IEnumerable<string> StrayOptions(ParseResult parsed) =>
        parsed.CommandResult.Children.OfType<System.CommandLine.Parsing.ArgumentResult>()
            .SelectMany(a => a.Tokens).Select(t => t.Value)
            .Where(v => v.Length > 1 && v[0] == '-' && !v.Skip(1).All(char.IsAsciiDigit));

    /// <summary>The parser's help, then the command's <see cref="NotedCommand.Notes"/>: the command list shows one line
    /// per command, a command's own help the whole story.</summary>
    private sealed class HelpWithNotes(HelpAction inner) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            int code = inner.Invoke(parseResult);
            if (parseResult.CommandResult.Command is NotedCommand { Notes: { } notes })
                parseResult.InvocationConfiguration.Output.WriteLine(notes.TrimEnd() + "\n");
            return code;
        }
    }

    private sealed class PrintVersion(CliContext ctx) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            ctx.Out.WriteLine("vigil " + Version);
            return ExitCodes.Ok;
        }
    }

    /// <summary>
    /// Parse errors as one <c>vigil: …</c> line each, with the nearest known word for a typo, and exit 2 (the parser's
    /// own report prints the whole help after the error, burying it).
    /// </summary>
    private static int ReportParseErrors(ParseResult parsed, TextWriter err)
    {
        var command = parsed.CommandResult.Command;
        var unmatched = StrayOptions(parsed).Concat(parsed.UnmatchedTokens).ToList();
        foreach (var token in unmatched)
        {
            if (token.StartsWith('-'))
            {
                var known = command.Options.Concat(Ancestors(parsed).SelectMany(c => c.Options.Where(o => o.Recursive)))
                    .SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal));
                err.WriteLine($"vigil: unknown option '{token}'{Suggest(token, known)}");
            }
            else if (command.Subcommands.Count > 0)
                err.WriteLine($"vigil: unknown command '{token}'{Suggest(token, command.Subcommands.Select(c => c.Name))}");
            else
                err.WriteLine($"vigil: unexpected argument '{token}'");
        }
        var where = CommandPath(parsed) is { Length: > 0 } path ? "vigil " + path : "vigil";
        // "Required command was not provided" says nothing more after "unknown command".
        foreach (var e in parsed.Errors.Where(e => !unmatched.Any(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal))
            && !(unmatched.Count > 0 && e.SymbolResult is System.CommandLine.Parsing.CommandResult)))
            err.WriteLine($"{where}: {Lower(e.Message)}");
        err.WriteLine($"Run '{where} --help' for usage.");
        return ExitCodes.Usage;
    }

    private static IEnumerable<Command> Ancestors(ParseResult parsed)
    {
        for (var r = parsed.CommandResult.Parent as System.CommandLine.Parsing.CommandResult; r is not null;
             r = r.Parent as System.CommandLine.Parsing.CommandResult)
            yield return r.Command;
    }

    private static string CommandPath(ParseResult parsed) =>
        string.Join(' ', Ancestors(parsed).Reverse().Skip(1).Append(parsed.CommandResult.Command)
            .Where(c => c is not RootCommand).Select(c => c.Name));

    private static string Lower(string s) => s.Length > 1 && char.IsUpper(s[0]) && !char.IsUpper(s[1]) ? char.ToLowerInvariant(s[0]) + s[1..] : s;

    public static string Suggest(string given, IEnumerable<string> known) =>
        Vigil.Config.Suggestions.Nearest(given, known) is { } best ? $"; did you mean '{best}'?" : "";
}
