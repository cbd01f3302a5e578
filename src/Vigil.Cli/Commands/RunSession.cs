using System.Globalization;
using System.Runtime.InteropServices;
using Vigil.Cli.Output;
using Vigil.Config;
using Vigil.Control;
using Vigil.Hooks;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Telemetry.History;

namespace Vigil.Cli.Commands;

/// <summary>What one <c>vigil run</c> (or <c>vigil demo</c>) supervises, and how.</summary>
internal sealed record RunPlan
{
    public required IReadOnlyList<ProcessSpec> Specs { get; init; }
    public bool AttachOutput { get; init; }
    /// <summary>Stop by itself after this long (the demo's --for).</summary>
    public TimeSpan? RunFor { get; init; }
    /// <summary>What makes this Vigil one of a kind (the config file's absolute path): one instance per identity runs at
    /// a time, and it stops what a killed predecessor left running before it starts anything.</summary>
    public string? Identity { get; init; }
    /// <summary>The config's <c>name:</c>.</summary>
    public string Instance { get; init; } = VigilConfig.DefaultName;
    /// <summary>The config file a reload reads again; null for <c>vigil run -- CMD</c> and the demo.</summary>
    public string? ConfigPath { get; init; }
    /// <summary><c>--templates DIR</c> (absolute): replaces the config's <c>templates:</c>, or is all there is to run
    /// (and to reload) without a config file.</summary>
    public string? TemplatesFolder { get; init; }
    /// <summary>Where the control socket is served; null: none (the demo).</summary>
    public string? Socket { get; init; }
    /// <summary>Vigil's own output file (<c>--log</c>, or <c>-d</c>'s default), reopened on SIGUSR2; null: stdout.</summary>
    public LogOutput? Log { get; init; }
    /// <summary>The config sections and probe kinds beyond the engine's, for reloads and <c>vigil save</c>.</summary>
    public ConfigExtensions Extensions { get; init; } = new();
    /// <summary>The config's extension sections (its <c>tether:</c> broker), written back by <c>vigil save</c>.</summary>
    public ConfigSections Sections { get; init; } = ConfigSections.Empty;
    /// <summary>The config's top-level <c>hooks:</c>, and what <c>mqtt:</c> hooks publish through.</summary>
    public HookSet Hooks { get; init; } = HookSet.Empty;
    public IHookPublisher? HookPublisher { get; init; }
    /// <summary>SIGHUP stops everything instead of reloading (the demo, which has nothing to reload).</summary>
    public bool HangupStops { get; init; }
    public SupervisorOptions Options { get; init; } = new();
    /// <summary>The config's <c>history:</c>; recorded only for a Vigil with an <see cref="Identity"/> (its state folder).</summary>
    public HistorySettings History { get; init; } = HistorySettings.Off;
    /// <summary>Started once the units are: the demo's status table.</summary>
    public Action<IVigilControl, EventPrinter, CancellationToken>? Extra { get; init; }
}

/// <summary>An event about Vigil itself (a reload, a refused reload), published with the units' own so that
/// <c>vigil run</c> prints it and <c>vigil events</c> lists it (as <see cref="ControlRefused"/> is for a refused client).</summary>
public sealed record VigilEvent(DateTimeOffset Time, string EventKind, string Text) : UnitEvent(Time, 0, "vigil", null, UnitState.Initial)
{
    public override string Kind => EventKind;
    public override string Reason => Text;
}

/// <summary>
/// One supervising Vigil: the instance lock, the supervisor, its control plane (before any unit starts, so every
/// event is recorded and the socket answers at once), the printer, the signals, sd_notify, and the orderly end.
/// </summary>
internal sealed class RunSession(RunPlan plan)
{
    // Signals whose default action ends a process (signal(7)). Vigil must not die of one without stopping its
    // children: SIGINT and SIGTERM stop everything, SIGHUP reloads, SIGUSR1 prints the status table, SIGUSR2 reopens
    // the log files, and the rest are ignored. (posix_spawn resets every disposition to the default in children.)
    private static readonly int[] Ignored = [Signals.SIGTRAP, Signals.SIGPIPE, Signals.SIGALRM, Signals.SIGXCPU, Signals.SIGXFSZ,
        Signals.SIGVTALRM, Signals.SIGPROF, Signals.SIGIO, Signals.SIGPWR];

    /// <summary>How long READY=1 waits for every unit to have been started (spawned, or failed to).</summary>
    private static readonly TimeSpan StartedBound = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _shutdown = new();
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private string? _why;
    private Supervisor _sup = null!;
    private EventPrinter _printer = null!;
    private SdNotifier? _notify;
    private HistoryStore? _history;
    private HookRunner? _hooks;

    /// <summary>Supervises until a stop signal, <c>vigil shutdown</c> or <see cref="RunPlan.RunFor"/>; returns the exit code.</summary>
    public async Task<int> RunAsync()
    {
        var options = plan.Options;
        // VIGIL_TRACKING=marker: track units by the inherited marker only, even where cgroups could be made (for a
        // host whose cgroups another manager owns, and to compare the two modes).
        switch (Environment.GetEnvironmentVariable("VIGIL_TRACKING"))
        {
            case null or "" or "auto": break;
            case "marker": options = options with { Tracking = TrackingMode.Marker }; break;
            case var other:
                Console.Error.WriteLine($"vigil: VIGIL_TRACKING: expected auto or marker, got '{other}'");
                return ExitCodes.Usage;
        }
        InstanceLock? instanceLock = null;
        if (plan.Identity is { } identity)
        {
            var instance = Membership.InstanceFor(identity);
            try { instanceLock = Lock(instance, identity); }
            catch (IOException e)
            {
                Console.Error.WriteLine($"vigil: {e.Message}");
                return ExitCodes.Failure;
            }
            if (instanceLock is null) return ExitCodes.Usage;
            options = options with { Instance = instance };
        }
        using var heldLock = instanceLock;
        // The one host of this process (see ProcessHost). The vigil executable never starts children through
        // System.Diagnostics.Process, so every zombie child that no unit reaps is an orphan of ours.
        options = options with { Host = ProcessHost.ForExecutable(StderrLog.Instance), LoggerFactory = StderrLog.Instance };
        _notify = SdNotifier.FromEnvironment(TimeProvider.System);
        using var notify = _notify;

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => Stop(ctx, "received SIGINT"));
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => Stop(ctx, "received SIGTERM"));
        foreach (var sig in Ignored) Signals.Ignore(sig);

        // Colour per unit, like docker compose: only on a terminal, and never when NO_COLOR is set (no-color.org).
        _printer = new EventPrinter(plan.Log?.Writer ?? Console.Out, new Style(plan.AttachOutput && plan.Log is null && Style.TerminalColor()));
        _sup = new Supervisor(options);
        // The history follows the supervisor before any unit starts, and closes after it (its last events included).
        HistoryStore? history = null;
        if (plan.History.Enabled && plan.Identity is not null)
        {
            try { history = HistoryStore.Open(Path.Combine(StateFolder.Resolve(options.Instance!), "state.db"), plan.History, log: StderrLog.Instance.CreateLogger("Vigil.History")); }
            catch (Exception e) when (e is HistoryException or IOException or Microsoft.Data.Sqlite.SqliteException)
            {
                Console.Error.WriteLine($"vigil: history: {e.Message}; nothing was started");
                await _sup.DisposeAsync().ConfigureAwait(false);
                return ExitCodes.Failure;
            }
            history.Follow(_sup);
        }
        _history = history;
        // Following the events from before any unit starts: a previous run's leftovers have hooks too.
        _hooks = new HookRunner(_sup, new HookRunnerOptions { Hooks = plan.Hooks, Publisher = plan.HookPublisher });
        var control = new LocalControl(new ControlHost
        {
            Supervisor = _sup,
            Instance = plan.Instance,
            ConfigPath = plan.ConfigPath,
            Socket = plan.Socket ?? "",
            LogFile = plan.Log?.Path,
            Reload = plan.ConfigPath is null && plan.TemplatesFolder is null ? null : ReloadAsync,
            Check = ConfigChecks.Check,
            Extensions = plan.Extensions,
            Sections = plan.Sections,
            Hooks = () => _hooks?.Hooks ?? plan.Hooks,
            RequestShutdown = () => Stop(null, "shutdown requested by a client"),
            Logger = StderrLog.Instance,
            History = history,
            HistorySettings = plan.History,
        });
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
        {
            if (plan.HangupStops) Stop(ctx, "received SIGHUP");
            else
            {
                ctx.Cancel = true;
                _ = ReloadOnSignalAsync(control);
            }
        });
        using var sigusr1 = PosixSignalRegistration.Create((PosixSignal)Signals.SIGUSR1, ctx =>
        {
            ctx.Cancel = true;
            _ = PrintTableAsync(control);
        });
        using var sigusr2 = PosixSignalRegistration.Create((PosixSignal)Signals.SIGUSR2, ctx =>
        {
            ctx.Cancel = true;
            _sup.ReopenLogs();
            if (plan.Log is { } log)
                _printer.Between(() =>
                {
                    // Between two lines, so no line is split across the old file and the new one.
                    if (log.Reopen() is { } why) Console.Error.WriteLine($"vigil: cannot reopen {log.Path}: {why}; still writing to the old file");
                });
        });
        var events = _printer.FollowAsync(_sup);
        ControlServer? server = null;
        if (plan.Socket is { } socket)
        {
            try
            {
                server = ControlServer.Start(control, socket, ControlRefused.Announcer(_sup), new ControlServerOptions { Logger = StderrLog.Instance });
            }
            catch (ControlException e)
            {
                Console.Error.WriteLine($"vigil: control socket {socket}: {e.Message}; nothing was started");
                await EndAsync(control, server, events, output: null).ConfigureAwait(false);
                return ExitCodes.Usage;
            }
        }
        // Metrics exporters (telemetry:) before any unit starts, so nothing half-starts when a port is taken.
        Telemetry.TelemetryHost telemetry;
        try { telemetry = Telemetry.TelemetryHost.Start(plan.Sections.Get(Telemetry.TelemetryConfig.Section), _sup, plan.Instance); }
        catch (Telemetry.TelemetryException e)
        {
            Console.Error.WriteLine($"vigil: {(plan.ConfigPath is { } cfg ? cfg + ": " : "")}{e.Message}; nothing was started");
            await EndAsync(control, server, events, output: null).ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        await using var telemetryStops = telemetry;
        // From here on the socket answers: errors go to the log file too, if there is one.
        plan.Log?.TakeStderr();

        IDisposable? output = plan.AttachOutput ? _sup.OnOutput(_printer.Output) : null;
        EchoIfAsked(plan.Specs);
        if (_sup.Membership is { } m) _printer.Notice($"vigil: {m.Description}");
        // What a killed predecessor left running is stopped before anything starts: nothing ever runs twice.
        await _sup.StopPreviousLeftoversAsync(plan.Specs, instanceLock?.PreviousPid).ConfigureAwait(false);
        using var statusUpdates = _notify is { } n ? _sup.Subscribe(_ => n.StatusChanged(() => SdNotifier.Counts(_sup.Snapshot()))) : null;
        foreach (var spec in plan.Specs)
            if (spec.Autostart) _sup.Start(spec);
            else _sup.Define(spec); // a Ligato template without run_on_startup: waits for vigil start
        plan.Extra?.Invoke(control, _printer, _shutdown.Token);
        if (_notify is not null) _ = ReadyWhenStartedAsync(_notify);

        try
        {
            if (plan.RunFor is { } d) await Task.Delay(d, _shutdown.Token).ConfigureAwait(false);
            else await Task.Delay(Timeout.Infinite, _shutdown.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) { }
        await _shutdown.CancelAsync().ConfigureAwait(false); // also ends helpers such as the demo's status loop

        _notify?.Stopping();
        _printer.Notice($"vigil: {_why ?? "time is up"}; stopping {_sup.Units.Count(u => !u.Spec.Detach)} unit(s)");
        await EndAsync(control, server, events, output).ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    /// <summary>Stops serving, stops the units, then prints the last lines and waits for the printer.</summary>
    private async Task EndAsync(LocalControl control, ControlServer? server, Task events, IDisposable? output)
    {
        if (server is not null) await server.DisposeAsync().ConfigureAwait(false);
        // Hooks end first (running ones after a short grace): the units' stop runs none, and none outlives Vigil.
        if (_hooks is not null) await _hooks.DisposeAsync().ConfigureAwait(false);
        await _sup.DisposeAsync().ConfigureAwait(false);
        if (_history is not null) await _history.DisposeAsync().ConfigureAwait(false);
        await control.DisposeAsync().ConfigureAwait(false);
        output?.Dispose();
        await events.ConfigureAwait(false);
        foreach (var u in _sup.Units.Where(u => u.Spec.Detach && u.Pid is not null))
            _printer.Notice($"vigil: {u.Name}#{u.Pid} is detached and keeps running");
        _printer.Notice("vigil: all stopped");
        await _printer.DisposeAsync().ConfigureAwait(false);
    }

    private void Stop(PosixSignalContext? ctx, string why)
    {
        if (ctx is not null) ctx.Cancel = true; // we exit on our own terms, after stopping the children
        Interlocked.CompareExchange(ref _why, why, null);
        _shutdown.Cancel();
    }

    /// <summary>
    /// The reload of <c>vigil reload</c> and SIGHUP alike: the config is read with the start-up checks, and only a valid
    /// one is applied (<see cref="Supervisor.ReconcileAsync"/>); an invalid one changes nothing. One at a time.
    /// </summary>
    private async Task<ReloadResult> ReloadAsync(bool dryRun, CancellationToken cancel)
    {
        var path = plan.ConfigPath ?? plan.TemplatesFolder!;
        await _reloadGate.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            VigilConfig config;
            try
            {
                config = plan.ConfigPath is null
                    ? new VigilConfig(path, []) { Name = plan.Instance, Templates = ConfigLoader.LoadTemplatesChecked(path), TemplatesFolder = path }
                    : ConfigLoader.WithTemplates(ConfigLoader.LoadChecked(path, plan.Extensions), plan.TemplatesFolder);
            }
            catch (ConfigException e)
            {
                var message = string.Create(CultureInfo.InvariantCulture, $"{path}: {e.Errors.Count} error(s); nothing was changed");
                if (!dryRun) _sup.Announce(new VigilEvent(_sup.Time.GetUtcNow(), "reload-refused", message));
                throw new ControlException(ControlErrors.ConfigError, message, details: [.. e.Errors.Select(x => x.ToString())]);
            }
            if (config.Name != plan.Instance && !dryRun)
                _printer.Notice($"vigil: the config's name is now '{config.Name}'; this Vigil keeps its socket {plan.Socket} until it is restarted");
            if (!dryRun && !config.Sections.Get(Telemetry.TelemetryConfig.Section).SameAs(plan.Sections.Get(Telemetry.TelemetryConfig.Section)))
                _printer.Notice("vigil: telemetry: changed in the config; the exporters keep their old settings until Vigil is restarted");
            if (!dryRun) _notify?.Reloading();
            IReadOnlyList<SpecChange> changes;
            try { changes = await _sup.ReconcileAsync(config.Units, dryRun, cancel).ConfigureAwait(false); }
            finally
            {
                if (!dryRun) _notify?.Ready();
            }
            if (!dryRun) _hooks?.Update(config.Hooks);
            if (!dryRun) EchoIfAsked(config.Units);
            var result = new ReloadResult
            {
                DryRun = dryRun,
                Changes = [.. changes.Select(c => new UnitChange { Change = c.Kind.ToString().ToLowerInvariant(), Name = c.Name, Fields = c.Fields })],
            };
            if (!dryRun) _sup.Announce(new VigilEvent(_sup.Time.GetUtcNow(), "reloaded", string.Join(", ", Views.ReloadDiff(result))));
            return result;
        }
        finally { _reloadGate.Release(); }
    }

    private IDisposable? _echo;

    /// <summary>
    /// <c>log: { echo: out|err|both }</c> (a Ligato template's out_writer/err_writer): those units' lines also go to
    /// Vigil's own stdout and stderr, as they are, in order with the printer's lines. Subscribed only once some unit
    /// asks (a line listener costs every unit's lines a call), and kept until Vigil ends.
    /// </summary>
    private void EchoIfAsked(IEnumerable<ProcessSpec> specs)
    {
        if (_echo is not null || !specs.Any(s => s.Log is { Echo: not LogEcho.None })) return;
        _echo = _sup.OnOutput(line =>
        {
            if (_sup.Units.FirstOrDefault(u => u.Id == line.UnitId)?.Spec.Log?.Echo is not { } echo) return;
            var to = line.Stream == StreamKind.Stdout ? (echo.HasFlag(LogEcho.Out) ? Console.Out : null) : (echo.HasFlag(LogEcho.Err) ? Console.Error : null);
            if (to is null) return;
            var text = line.Text;
            _printer.Between(() => { if (line.Continued) to.Write(text); else to.WriteLine(text); });
        });
    }

    /// <summary>SIGHUP: the reload, with its errors printed (nobody else would see them).</summary>
    private async Task ReloadOnSignalAsync(IVigilControl control)
    {
        try
        {
            if (plan.ConfigPath is null && plan.TemplatesFolder is null)
            {
                _printer.Notice("vigil: SIGHUP: nothing to reload (no config file: vigil run -- CMD)");
                return;
            }
            await control.ReloadAsync(dryRun: false, _shutdown.Token).ConfigureAwait(false);
        }
        catch (ControlException e)
        {
            foreach (var d in e.Details) _printer.Notice(d);
            _printer.Notice($"vigil: reload refused: {e.Message}");
        }
        catch (OperationCanceledException) { }
        // Nobody awaits a signal's reload: a broken invariant is said here rather than lost as an unobserved exception.
        catch (Exception e)
        {
            _printer.Notice($"vigil: reload failed: {e.Message}");
        }
    }

    private async Task PrintTableAsync(IVigilControl control)
    {
        try { _printer.Notice(UnitTable.Render(await control.ListAsync(_shutdown.Token).ConfigureAwait(false), Style.Plain)); }
        catch (OperationCanceledException) { }
        catch (ControlException e) { _printer.Notice($"vigil: status table: {e.Message}"); }
    }

    /// <summary>READY=1 once every unit has been started (spawned, or failed to), or after a bound.</summary>
    private async Task ReadyWhenStartedAsync(SdNotifier notify)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool AllStarted() => _sup.Units.All(u => u.State != UnitState.Initial || !u.Spec.Autostart);
        using (_sup.Subscribe(_ => { if (AllStarted()) started.TrySetResult(); }))
        {
            if (AllStarted()) started.TrySetResult();
            try { await started.Task.WaitAsync(StartedBound, _sup.Time, _shutdown.Token).ConfigureAwait(false); }
            catch (TimeoutException) { }
            catch (OperationCanceledException) { return; }
        }
        notify.Ready();
        notify.StatusChanged(() => SdNotifier.Counts(_sup.Snapshot()));
    }

    /// <summary>One Vigil per config: takes the instance lock, or prints who holds it and returns null (exit 2).
    /// Throws <see cref="IOException"/> when the runtime folder is unusable (not ours, a symlink, open to others).</summary>
    private static InstanceLock? Lock(string instance, string identity)
    {
        var dir = RuntimeDir.Resolve(log: StderrLog.Instance);
        var held = InstanceLock.TryAcquire(dir, instance, identity, out int holder, out string lockPath);
        if (held is null)
            Console.Error.WriteLine($"vigil: already running for {identity} as PID {(holder > 0 ? holder.ToString(CultureInfo.InvariantCulture) : "?")} (lock {lockPath})");
        return held;
    }
}
