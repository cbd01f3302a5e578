using System.Reflection;

namespace Vigil.Cli;

/// <summary>Entry point: dispatches the subcommand. Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.</summary>
public static class Cli
{
    public const int Ok = 0, Failure = 1, Usage = 2;

    public const string Help = """
        vigil — keeps processes alive and responsive

        Usage:
          vigil run [-c FILE] [--attach-output]   supervise the processes in FILE (default: vigil.yaml)
          vigil demo [--for DURATION]             run the built-in demo (healthy, crashing and hung processes)
          vigil pinger [--key.sub=value …]        the Tether Process Pinger drop-in (docs/pinger.md; --help)
          vigil --version | --help

        run: prints one line per lifecycle event; SIGINT, SIGTERM or SIGHUP stops every child
        gracefully (stop signal, grace period, then SIGKILL to the whole tree) and exits 0.
        Exit codes: 0 ok, 1 runtime failure, 2 usage or config error (file:line:col: key: message).
        """;

    public static async Task<int> MainAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            (args.Length == 0 ? Console.Error : Console.Out).WriteLine(Help);
            return args.Length == 0 ? Usage : Ok;
        }
        // `vigil run --help` / `vigil demo -h`: the usage, as users of other CLIs expect (pinger has its own).
        if (args.Length > 1 && args[0] is "run" or "demo" && args[1..].Any(a => a is "-h" or "--help"))
        {
            Console.Out.WriteLine(Help);
            return Ok;
        }
        if (args[0] is "--version" or "-V")
        {
            Console.WriteLine("vigil " + (typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?"));
            return Ok;
        }
        if (InitShim.Needed && args[0] is "run" or "demo") return await InitShim.RunAsync(args).ConfigureAwait(false);
        try
        {
            return args[0] switch
            {
                "run" => await RunCommand.ExecuteAsync(ArgParser.Parse(args[1..], RunCommand.Options)).ConfigureAwait(false),
                "demo" => await DemoCommand.ExecuteAsync(ArgParser.Parse(args[1..], DemoCommand.Options)).ConfigureAwait(false),
                "pinger" => await PingerCommand.ExecuteAsync(args[1..]).ConfigureAwait(false),
                _ => throw new UsageException($"unknown command '{args[0]}'{ArgParser.Suggest(args[0], ["run", "demo", "pinger"])}"),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"vigil: {e.Message}");
            Console.Error.WriteLine("Run 'vigil --help' for usage.");
            return Usage;
        }
    }
}

public sealed class UsageException(string message) : Exception(message);

/// <summary>A tiny option parser: flags and options with a value (<c>-c FILE</c>, <c>--config=FILE</c>); no positionals.</summary>
public static class ArgParser
{
    public sealed record Option(string Long, string? Short, bool TakesValue);

    public static Dictionary<string, string?> Parse(string[] args, IReadOnlyList<Option> options)
    {
        var result = new Dictionary<string, string?>();
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            string? inline = null;
            int eq = a.IndexOf('=');
            if (a.StartsWith("--", StringComparison.Ordinal) && eq > 0) { inline = a[(eq + 1)..]; a = a[..eq]; }
            var opt = options.FirstOrDefault(o => a == "--" + o.Long || (o.Short is not null && a == "-" + o.Short))
                ?? throw new UsageException($"unknown option '{a}'{Suggest(a.TrimStart('-'), options.Select(o => o.Long))}");
            if (!opt.TakesValue)
            {
                if (inline is not null) throw new UsageException($"option --{opt.Long} takes no value");
                result[opt.Long] = null;
                continue;
            }
            var value = inline ?? (i + 1 < args.Length ? args[++i] : throw new UsageException($"option --{opt.Long} needs a value"));
            result[opt.Long] = value;
        }
        return result;
    }

    public static string Suggest(string given, IEnumerable<string> known) =>
        Vigil.Config.Suggestions.Nearest(given, known) is { } best ? $"; did you mean '{best}'?" : "";
}
