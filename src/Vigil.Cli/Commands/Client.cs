using System.CommandLine;
using System.Runtime.InteropServices;
using Vigil.Cli.Output;
using Vigil.Config;
using Vigil.Control;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Vigil.Cli.Commands;

/// <summary>
/// What every client command shares: which Vigil to talk to (<c>--socket</c>, <c>VIGIL_SOCKET</c>, or the socket of the
/// config's <c>name:</c>), connecting, and turning a failed request into its message and exit code.
/// </summary>
internal sealed class Client
{
    private readonly CliContext _ctx;

    public Option<string?> Socket { get; } = new("--socket")
    {
        Description = "the control socket of the Vigil to talk to (default: $VIGIL_SOCKET, else <runtime dir>/vigil/<name>.sock "
            + "for the config's name:)",
        HelpName = "PATH",
    };

    public Option<string?> Config { get; } = new("--config", "-c")
    {
        Description = "find the Vigil by this config's name: (default: ./vigil.yaml if present, else the name 'default')",
        HelpName = "FILE",
    };

    private Client(CliContext ctx) => _ctx = ctx;

    /// <summary>What every client command's help ends with.</summary>
    public const string CommonNotes = """
        Which Vigil: --socket PATH, else $VIGIL_SOCKET, else <runtime dir>/vigil/<name>.sock for the name: of -c FILE (or of
        ./vigil.yaml when there is one; else the name is 'default'). <runtime dir>: $XDG_RUNTIME_DIR, /run for root, /tmp/vigil-UID.
        Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 no running vigil, 4 no unit by that name.
        """;

    /// <summary>A client command: the socket options, and <paramref name="body"/> run against the connected Vigil.
    /// <paramref name="notes"/> (may be empty) go before <see cref="CommonNotes"/> at the end of its help.</summary>
    public static Command Command(CliContext ctx, string name, string description, string notes,
        Func<ParseResult, IVigilControl, CancellationToken, Task<int>> body, params Symbol[] symbols)
    {
        var client = new Client(ctx);
        var command = new NotedCommand(name, description, notes.Length > 0 ? notes.TrimEnd() + "\n\n" + CommonNotes : CommonNotes);
        foreach (var s in symbols)
        {
            if (s is Option o) command.Options.Add(o);
            else if (s is Argument a) command.Arguments.Add(a);
        }
        command.Options.Add(client.Socket);
        command.Options.Add(client.Config);
        command.SetAction((parsed, cancel) => client.RunAsync(parsed, body, cancel));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parsed, Func<ParseResult, IVigilControl, CancellationToken, Task<int>> body, CancellationToken cancel)
    {
        string socket;
        try { socket = SocketPath(parsed.GetValue(Socket), parsed.GetValue(Config), _ctx.Extensions); }
        catch (ConfigException e)
        {
            foreach (var err in e.Errors) _ctx.Err.WriteLine(err);
            return ExitCodes.Usage;
        }
        catch (IOException e) // no usable runtime folder
        {
            _ctx.Err.WriteLine($"vigil: {e.Message}");
            return ExitCodes.Failure;
        }
        try
        {
            var control = await _ctx.Connect(socket, cancel).ConfigureAwait(false);
            await using (control.ConfigureAwait(false))
                return await body(parsed, control, cancel).ConfigureAwait(false);
        }
        catch (ControlException e) { return ExitCodes.Report(e, _ctx.Err); }
        catch (UsageException e)
        {
            _ctx.Err.WriteLine($"vigil: {e.Message}");
            return ExitCodes.Usage;
        }
    }

    /// <summary>The socket path by the rule every side uses (<see cref="ControlPaths.Socket"/>); the instance name is read
    /// from <paramref name="config"/>, else ./vigil.yaml when there is one, else it is <c>default</c>.</summary>
    public static string SocketPath(string? socket, string? config, ConfigExtensions? extensions = null)
    {
        if (!string.IsNullOrEmpty(socket) || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("VIGIL_SOCKET")))
            return ControlPaths.Socket(socket, VigilConfig.DefaultName, log: StderrLog.Instance);
        var file = config ?? (File.Exists("vigil.yaml") ? "vigil.yaml" : null);
        return ControlPaths.Socket(null, file is null ? VigilConfig.DefaultName : InstanceName(file, extensions), log: StderrLog.Instance);
    }

    /// <summary>
    /// The top-level <c>name:</c> of a config file, read without loading the rest: a client must find its Vigil even
    /// while the file on disk has errors (that is when <c>vigil reload</c> is run to see them), and <c>vigil ls</c> must
    /// not pay for parsing a hundred units. A missing file or a name the loader would refuse throws the loader's errors.
    /// </summary>
    public static string InstanceName(string file, ConfigExtensions? extensions = null)
    {
        string text;
        try { text = File.ReadAllText(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ConfigLoader.Load(file, extensions); // the loader's own words for a missing or unreadable file
            throw;
        }
        var name = TopLevelName(text);
        if (name is null) return VigilConfig.DefaultName;
        if (ConfigLoader.IsInstanceName(name)) return name;
        return ConfigLoader.Load(file, extensions).Name; // throws the error with its position
    }

    /// <summary>The scalar value of the root mapping's <c>name</c> key (YAML or JSON); null when there is none or the
    /// text does not parse.</summary>
    public static string? TopLevelName(string text)
    {
        try
        {
            var parser = new Parser(new StringReader(text));
            int depth = 0;
            bool atKey = true, isName = false;
            while (parser.MoveNext())
            {
                switch (parser.Current)
                {
                    case MappingStart or SequenceStart:
                        if (depth == 0 && parser.Current is SequenceStart) return null;
                        depth++;
                        break;
                    case MappingEnd or SequenceEnd:
                        depth--;
                        if (depth == 0) return null;
                        if (depth == 1) (atKey, isName) = (!atKey, false); // a whole mapping or list was a key's value
                        break;
                    case Scalar s when depth == 1:
                        if (!atKey && isName) return s.Value;
                        if (atKey) isName = s.Value == "name";
                        atKey = !atKey;
                        break;
                    case AnchorAlias when depth == 1:
                        atKey = !atKey;
                        break;
                    case Scalar when depth == 0:
                        return null;
                }
            }
        }
        catch (YamlException) { }
        return null;
    }

}

/// <summary>Cancelled by Ctrl-C or SIGTERM (or the caller's token): how a command that follows a stream is stopped.</summary>
internal sealed class Interrupt : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly PosixSignalRegistration _int, _term;

    public Interrupt(CancellationToken cancel)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        _int = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
    }

    public CancellationToken Token => _cts.Token;

    private void Stop(PosixSignalContext c)
    {
        c.Cancel = true; // end the stream, print what came, exit 0
        _cts.Cancel();
    }

    public void Dispose()
    {
        _int.Dispose();
        _term.Dispose();
        _cts.Dispose();
    }
}
