using System.CommandLine;
using System.Text.Json;
using Vigil.Cli.Output;
using Vigil.Control;
using Vigil.Launching;

namespace Vigil.Cli.Commands;

/// <summary>Commands that act on units by name: start, stop, restart, kill, signal, add, remove. A name several units
/// share acts on all of them; <c>all</c> means every unit. One line per unit says what happened; exit 1 when any failed.</summary>
internal static class UnitCommands
{
    private static Argument<string[]> Names(CliContext ctx, bool withAll)
    {
        var names = new Argument<string[]>("NAME")
        {
            Description = withAll ? "unit names (each acts on every unit with it), or all" : "unit names (each acts on every unit with it)",
            Arity = ArgumentArity.OneOrMore,
        };
        names.CompletionSources.Add(UnitNames.Source(ctx, withAll));
        return names;
    }

    /// <summary><c>vigil start|stop|restart|kill NAME…|all [--no-wait] [--json]</c>.</summary>
    public static Command Action(CliContext ctx, string verb, string description, string notes)
    {
        var names = Names(ctx, withAll: true);
        var noWait = new Option<bool>("--no-wait") { Description = "return once the request is accepted, without waiting for the units" };
        var json = ListCommands.Json();
        return Client.Command(ctx, verb, description, notes + """

            A name several units share acts on all of them; 'all' means every unit. Prints one line per unit with the
            outcome and waits for it (--no-wait: returns at once). Exit 1 when any unit failed.
            """, async (parsed, control, cancel) =>
        {
            IReadOnlyList<string> list = parsed.GetValue(names)!;
            bool wait = !parsed.GetValue(noWait);
            var outcomes = verb switch
            {
                "start" => await control.StartAsync(list, wait, cancel).ConfigureAwait(false),
                "stop" => await control.StopAsync(list, wait, cancel).ConfigureAwait(false),
                "restart" => await control.RestartAsync(list, wait, cancel).ConfigureAwait(false),
                "kill" => await control.KillAsync(list, wait, cancel).ConfigureAwait(false),
                _ => throw new InvalidOperationException($"no action '{verb}'"),
            };
            return Print(ctx, outcomes, parsed.GetValue(json));
        }, names, noWait, json);
    }

    /// <summary><c>vigil signal SIG NAME…</c>: HUP, SIGUSR1, or a number, to each unit's main process.</summary>
    public static Command Signal(CliContext ctx)
    {
        var signal = new Argument<string>("SIG") { Description = "a signal: HUP, SIGUSR1, usr2, or a number (1-64)" };
        signal.CompletionSources.Add("HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "TERM", "CONT", "STOP", "WINCH");
        var names = Names(ctx, withAll: true);
        var json = ListCommands.Json();
        return Client.Command(ctx, "signal", "send a signal to units' main processes", """
            The signal goes to each unit's main process only, not its process group (vigil stop and kill act on the
            whole tree). SIG: a name with or without SIG (HUP, SIGUSR1, usr2) or a number.
            """, async (parsed, control, cancel) =>
        {
            var text = parsed.GetValue(signal)!;
            if (!Signals.TryParse(text, out int number))
                throw new UsageException($"signal: expected a name like HUP or SIGUSR1, or a number from 1 to 64, got '{text}'");
            var outcomes = await control.SignalAsync(number, parsed.GetValue(names)!, cancel).ConfigureAwait(false);
            return Print(ctx, outcomes, parsed.GetValue(json));
        }, signal, names, json);
    }

    /// <summary><c>vigil add NAME [--restart …] [--cwd DIR] [--env K=V]… -- CMD ARGS…</c> (pm2 start).</summary>
    public static Command Add(CliContext ctx, string[]? tail)
    {
        var name = new Argument<string>("NAME") { Description = "the new unit's name" };
        var restart = new Option<string?>("--restart") { Description = "restart policy (default: always)", HelpName = "always|on-failure|never" };
        restart.AcceptOnlyFromAmong("always", "on-failure", "never");
        var cwd = new Option<string?>("--cwd") { Description = "working directory (relative to this shell's)", HelpName = "DIR" };
        var env = new Option<string[]>("--env", "-e") { Description = "an environment variable for the unit (repeat for more)", HelpName = "K=V" };
        var json = ListCommands.Json();
        var command = Client.Command(ctx, "add", "add a unit and start it: vigil add NAME [options] -- CMD ARGS…", """
            The unit runs until removed or until Vigil exits; vigil save writes it into the config so the next vigil run
            starts it too. The command is checked first (found in PATH, executable; --cwd exists).
            """, async (parsed, control, cancel) =>
        {
            if (tail is not { Length: > 0 }) throw new UsageException("add: the command goes after '--': vigil add NAME -- CMD ARGS…");
            var vars = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var kv in parsed.GetValue(env) ?? [])
            {
                int eq = kv.IndexOf('=');
                if (eq <= 0) throw new UsageException($"--env: expected KEY=VALUE, got '{kv}'");
                vars[kv[..eq]] = kv[(eq + 1)..];
            }
            var request = new AddRequest
            {
                Name = parsed.GetValue(name)!,
                Command = tail,
                // The server runs elsewhere: a relative folder means this shell's.
                Cwd = parsed.GetValue(cwd) is { } dir ? Path.GetFullPath(dir) : null,
                Env = vars.Count > 0 ? vars : null,
                Restart = parsed.GetValue(restart),
            };
            var outcomes = await control.AddAsync(request, cancel).ConfigureAwait(false);
            return Print(ctx, outcomes, parsed.GetValue(json));
        }, name, restart, cwd, env, json);
        return command;
    }

    /// <summary><c>vigil remove NAME…</c>: stop the units and forget them.</summary>
    public static Command Remove(CliContext ctx)
    {
        var names = Names(ctx, withAll: false);
        var json = ListCommands.Json();
        var command = Client.Command(ctx, "remove", "stop units and forget them", "vigil save then leaves them out of the config.", async (parsed, control, cancel) =>
            Print(ctx, await control.RemoveAsync(parsed.GetValue(names)!, cancel).ConfigureAwait(false), parsed.GetValue(json)),
            names, json);
        command.Aliases.Add("rm");
        return command;
    }

    private static int Print(CliContext ctx, IReadOnlyList<ActionOutcome> outcomes, bool json)
    {
        if (json) ctx.Out.WriteLine(JsonSerializer.Serialize(outcomes, ControlJson.Default.IReadOnlyListActionOutcome));
        else
        {
            var style = new Style(ctx.Color);
            foreach (var o in outcomes) ctx.Out.WriteLine(Views.Outcome(o, style));
        }
        return outcomes.All(o => o.Ok) ? ExitCodes.Ok : ExitCodes.Failure;
    }
}
