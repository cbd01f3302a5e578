using System.CommandLine;
using Vigil.Cli.Output;
using Vigil.Config;
using Vigil.Control;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tether;
using Vigil.Tether.Pinger;

namespace Vigil.Cli.Commands;

/// <summary><c>vigil run</c>: supervise a config's processes (or one command) in the foreground, or in the background with -d.</summary>
internal static class RunCommand
{
    public static Command Build(CliContext ctx, string[]? tail)
    {
        var file = new Argument<string?>("FILE") { Description = "the config file (default: vigil.yaml)", Arity = ArgumentArity.ZeroOrOne };
        var config = new Option<string?>("--config", "-c") { Description = "the config file, as FILE", HelpName = "FILE" };
        var attach = new Option<bool>("--attach-output") { Description = "also print the units' output, prefixed 'name | '" };
        var detach = new Option<bool>("--detach", "-d")
        {
            Description = "run in the background (own session, stdin /dev/null); returns once the control socket answers",
        };
        var log = new Option<string?>("--log")
        {
            Description = "write Vigil's own output here instead of stdout (with -d the default is the socket's path with .log, "
                + "e.g. $XDG_RUNTIME_DIR/vigil/default.log); SIGUSR2 reopens it",
            HelpName = "FILE",
        };
        var socket = new Option<string?>("--socket")
        {
            Description = "serve the control socket here (default: $VIGIL_SOCKET, else <runtime dir>/vigil/<name>.sock, "
                + "<runtime dir> being $XDG_RUNTIME_DIR, /run for root, or /tmp/vigil-UID)",
            HelpName = "PATH",
        };
        var templates = new Option<string?>("--templates")
        {
            Description = "a folder of Ligato process templates (*.json): each is a unit, started with Vigil when its run_on_startup is "
                + "set; replaces the config's templates: (without a config file, and no ./vigil.yaml, the templates alone are run)",
            HelpName = "DIR",
        };
        // Set by `vigil run -d` on the background Vigil it starts.
        var daemonChild = new Option<bool>("--daemon-child") { Hidden = true };
        var command = new NotedCommand("run", "supervise a config's processes (or one command: vigil run -- CMD ARGS…)", """
            Prints one line per lifecycle event. SIGINT and SIGTERM (and vigil shutdown) stop every unit gracefully (stop
            signal, grace period, then SIGKILL to the whole tree) and exit 0. SIGHUP reloads the config (as vigil reload),
            SIGUSR2 reopens every log file (logrotate's postrotate), SIGUSR1 prints the status table.
            One Vigil per config. Its control socket (--socket) answers vigil ls, status, logs, restart, reload, ….
            -d: the background Vigil's output goes to --log FILE, by default the socket's path with .log
            ($XDG_RUNTIME_DIR/vigil/<name>.log, or /run/vigil/<name>.log for root). Under systemd (NOTIFY_SOCKET) Vigil
            reports READY=1, STATUS=, RELOADING=1 and STOPPING=1, and answers the watchdog (vigil startup systemd).
            Exit codes: 0 ok, 1 runtime failure, 2 usage or config error (file:line:col: key: message; nothing started).
            """)
        {
            file, config, attach, detach, log, socket, templates, daemonChild,
        };
        command.SetAction((parsed, _) => ExecuteAsync(new Request(
            parsed.GetValue(file), parsed.GetValue(config), tail, parsed.GetValue(attach), parsed.GetValue(detach),
            parsed.GetValue(log), parsed.GetValue(socket), parsed.GetValue(daemonChild)) { Templates = parsed.GetValue(templates) }, ctx));
        return command;
    }

    private sealed record Request(string? File, string? Config, string[]? Tail, bool AttachOutput, bool Detach, string? Log,
        string? Socket, bool DaemonChild)
    {
        /// <summary><c>--templates DIR</c>, as given.</summary>
        public string? Templates { get; init; }
    }

    private static async Task<int> ExecuteAsync(Request r, CliContext ctx)
    {
        if (r.File is not null && r.Config is not null) throw new UsageException("run: give the config as FILE or as -c FILE, not both");
        if (r.Tail is not null && (r.File ?? r.Config) is not null) throw new UsageException("run: give a config file or '-- CMD ARGS…', not both");
        if (r.Tail is { Length: 0 }) throw new UsageException("run: the command to run goes after '--': vigil run -- CMD ARGS…");
        if (r.Tail is not null && r.Templates is not null) throw new UsageException("run: give --templates DIR or '-- CMD ARGS…', not both");
        var path = r.File ?? r.Config ?? "vigil.yaml";
        var templatesDir = r.Templates is null ? null : Path.GetFullPath(r.Templates);
        // `vigil run --templates DIR` alone: Ligato's process manager with its template path, no config file.
        bool templatesOnly = templatesDir is not null && r.File is null && r.Config is null && !File.Exists(path);
        var log = r.Log is null ? null : Path.GetFullPath(r.Log);
        if (r.Detach && !r.DaemonChild) return await DetachAsync(r, path, log, templatesOnly, ctx).ConfigureAwait(false);

        if (r.DaemonChild) Detach.BecomeDaemon();
        // Vigil's own output goes to the log from now on; its stderr stays where it was until the control socket is
        // served, so a start-up error (config, already running) reaches whoever started it.
        LogOutput? logOutput = null;
        if (log is not null && (logOutput = LogOutput.Open(log, out var why)) is null)
        {
            ctx.Err.WriteLine($"vigil: cannot write the log {log}: {why}");
            return ExitCodes.Failure;
        }
        VigilConfig? config = null;
        IReadOnlyList<ProcessSpec> specs;
        string identity;
        if (r.Tail is { } tail)
        {
            var name = Path.GetFileName(tail[0]);
            specs = [new ProcessSpec { Name = name, Command = [.. tail] }];
            identity = Path.Combine(Directory.GetCurrentDirectory(), "vigil run -- " + name);
            // The start-up checks of a config file apply to a command line too: one that can never start is refused.
            if (ConfigChecks.Check(specs[0]) is { Count: > 0 } problems)
            {
                foreach (var p in problems) ctx.Err.WriteLine($"vigil: run -- {tail[0]}: {p}");
                ctx.Err.WriteLine("vigil: nothing was started");
                return ExitCodes.Usage;
            }
        }
        else if (templatesOnly)
        {
            try { specs = [.. ConfigLoader.LoadTemplatesChecked(templatesDir!).Select(t => t.ToSpec())]; }
            catch (ConfigException e) { return Refuse(e, templatesDir!, ctx); }
            identity = templatesDir!;
        }
        else
        {
            try { config = ConfigLoader.WithTemplates(ConfigLoader.LoadChecked(path, ctx.Extensions), templatesDir); }
            catch (ConfigException e) { return Refuse(e, path, ctx); }
            specs = config.Units;
            identity = Path.GetFullPath(path);
        }
        string socket;
        try { socket = ControlPaths.Socket(r.Socket, config?.Name ?? VigilConfig.DefaultName, log: StderrLog.Instance); }
        catch (IOException e)
        {
            ctx.Err.WriteLine($"vigil: {e.Message}");
            return ExitCodes.Failure;
        }
        // kind: tether probes share one broker connection, to the broker of the config's tether: section.
        await using var tether = new TetherProbes((config?.Sections ?? ConfigSections.Empty).Get(TetherConfig.Section));
        tether.Warning += w => Console.Error.WriteLine($"vigil: tether: {w}");
        // kind: cops probes: HTTP, or MQTT through the same broker (their own connection).
        await using var cops = new Vigil.Tether.Cops.CopsProbes((config?.Sections ?? ConfigSections.Empty).Get(TetherConfig.Section).Broker);
        return await new RunSession(new RunPlan
        {
            Specs = specs,
            AttachOutput = r.AttachOutput,
            Identity = identity,
            Instance = config?.Name ?? VigilConfig.DefaultName,
            ConfigPath = config is null ? null : Path.GetFullPath(path),
            TemplatesFolder = templatesDir,
            Socket = socket,
            Log = logOutput,
            Extensions = ctx.Extensions,
            Sections = config?.Sections ?? ConfigSections.Empty,
            Hooks = config?.Hooks ?? HookSet.Empty,
            HookPublisher = new TetherHookPublisher(tether),
            Options = new SupervisorOptions
            {
                ProbeProviders = [tether, cops], StatusEvents = config?.StatusEvents ?? StatusEvents.Significant,
                TemplatesFolder = templatesDir ?? config?.TemplatesFolder,
            },
            History = config?.History ?? Vigil.Telemetry.History.HistorySettings.Default,
        }).RunAsync().ConfigureAwait(false);
    }

    /// <summary>Every error of the config at its position, then what it means: exit 2, nothing started.</summary>
    private static int Refuse(ConfigException e, string path, CliContext ctx)
    {
        foreach (var err in e.Errors) ctx.Err.WriteLine(err);
        ctx.Err.WriteLine($"vigil: {path}: {e.Errors.Count} error(s); nothing was started");
        return ExitCodes.Usage;
    }

    /// <summary><c>-d</c>: the same command again in the background, told where its socket and log are.</summary>
    private static async Task<int> DetachAsync(Request r, string path, string? log, bool templatesOnly, CliContext ctx)
    {
        string socket;
        try { socket = ControlPaths.Socket(r.Socket, r.Tail is null && !templatesOnly ? Client.InstanceName(path, ctx.Extensions) : VigilConfig.DefaultName, log: StderrLog.Instance); }
        catch (ConfigException e) { return Refuse(e, path, ctx); }
        catch (IOException e)
        {
            ctx.Err.WriteLine($"vigil: {e.Message}");
            return ExitCodes.Failure;
        }
        log ??= Path.ChangeExtension(socket, ".log");
        var args = new List<string> { "run" };
        if (r.Tail is null && !templatesOnly) args.AddRange(["-c", Path.GetFullPath(path)]);
        if (r.Templates is not null) args.AddRange(["--templates", Path.GetFullPath(r.Templates)]);
        args.AddRange(["--socket", socket, "--log", log, "--daemon-child"]);
        if (r.AttachOutput) args.Add("--attach-output");
        if (r.Tail is not null) args.AddRange(["--", .. r.Tail]);
        return await Detach.StartAsync(args, socket, log, ctx).ConfigureAwait(false);
    }
}
