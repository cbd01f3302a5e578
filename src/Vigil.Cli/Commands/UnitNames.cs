using System.CommandLine.Completions;
using Vigil.Control;

namespace Vigil.Cli.Commands;

/// <summary>Tab completion of unit names: asks the running Vigil (the one the command line points at) for them.</summary>
internal static class UnitNames
{
    /// <summary>How long completion may wait for Vigil: a shell's Tab must never hang.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(1);

    public static Func<CompletionContext, IEnumerable<string>> Source(CliContext ctx, bool withAll) => completion =>
    {
        try
        {
            var parsed = completion.ParseResult;
            var socket = Client.SocketPath(Value(parsed, "--socket"), Value(parsed, "--config"), ctx.Extensions);
            using var cts = new CancellationTokenSource(Bound);
            return Names(ctx, socket, withAll, cts.Token).GetAwaiter().GetResult();
        }
        // Nothing to offer (no Vigil, no socket, a broken config, an older Vigil): completion is best effort, and an error
        // here would take the commands' and options' completions down with it.
        catch (Exception)
        {
            return [];
        }
    };

    private static string? Value(System.CommandLine.ParseResult parsed, string option)
    {
        try { return parsed.GetValue<string?>(option); }
        catch (ArgumentException) { return null; } // not an option of this command
    }

    private static async Task<IEnumerable<string>> Names(CliContext ctx, string socket, bool withAll, CancellationToken cancel)
    {
        var control = await ctx.Connect(socket, cancel).ConfigureAwait(false);
        await using (control.ConfigureAwait(false))
        {
            var units = await control.ListAsync(cancel).ConfigureAwait(false);
            var names = units.Select(u => u.Name).Distinct(StringComparer.Ordinal);
            return withAll ? names.Append("all").ToList() : names.ToList();
        }
    }
}
