using System.Runtime.InteropServices;
using Vigil.Config;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tether.Pinger;

namespace Vigil.Cli;

/// <summary><c>vigil run</c>: supervise a config's processes in the foreground until SIGINT/SIGTERM/SIGHUP.</summary>
public static class RunCommand
{
    public static readonly ArgParser.Option[] Options =
    [
        new("config", "c", TakesValue: true),
        new("attach-output", null, TakesValue: false),
    ];

    public static async Task<int> ExecuteAsync(Dictionary<string, string?> opts)
    {
        Supervisor.PrepareCapture(); // compiles while the config is read
        var path = opts.GetValueOrDefault("config") ?? "vigil.yaml";
        VigilConfig config;
        try { config = ConfigLoader.Load(path); }
        catch (ConfigException e)
        {
            foreach (var err in e.Errors) Console.Error.WriteLine(err);
            Console.Error.WriteLine($"vigil: {path}: {e.Errors.Count} error(s); nothing was started");
            return Cli.Usage;
        }
        await using var tether = new TetherProbes(config.Tether); // kind: tether probes share its one broker connection
        tether.Warning += w => Console.Error.WriteLine($"vigil: tether: {w}");
        return await SuperviseAsync(config.Processes, opts.ContainsKey("attach-output"), null,
            options: new SupervisorOptions { ProbeProviders = [tether] }, identity: Path.GetFullPath(path)).ConfigureAwait(false);
    }

    /// <summary>
    /// One Vigil per config: takes the instance lock, or prints who holds it and returns null (the caller exits 2).
    /// Throws <see cref="IOException"/> when the runtime folder is unusable (not ours, a symlink, open to others).
    /// </summary>
    private static InstanceLock? Lock(string instance, string identity)
    {
        var dir = RuntimeDir.Resolve();
        var held = InstanceLock.TryAcquire(dir, instance, identity, out int holder, out string lockPath);
        if (held is null)
            Console.Error.WriteLine($"vigil: already running for {identity} as PID {(holder > 0 ? holder.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?")} (lock {lockPath})");
        return held;
    }

    // Signals whose default action ends a process (signal(7)). Vigil must not die of one without stopping its
    // children: SIGINT, SIGTERM and SIGHUP stop everything, SIGUSR1 prints the status table, SIGUSR2 reopens the log
    // files, and the rest are ignored. (posix_spawn resets every disposition to the default in children.)
    private static readonly int[] Ignored = [Signals.SIGTRAP, Signals.SIGPIPE, Signals.SIGALRM, Signals.SIGXCPU, Signals.SIGXFSZ,
        Signals.SIGVTALRM, Signals.SIGPROF, Signals.SIGIO, Signals.SIGPWR];

    /// <summary>Starts the specs, prints events until a stop signal (or <paramref name="runFor"/>), stops everything, returns 0.</summary>
    /// <param name="identity">What makes this Vigil one of a kind (the config file's absolute path): one instance per
    /// identity runs at a time, and it stops what a killed predecessor left running before it starts anything.</param>
    public static async Task<int> SuperviseAsync(IReadOnlyList<ProcessSpec> specs, bool attachOutput, TimeSpan? runFor,
        Action<Supervisor, CancellationToken>? extra = null, SupervisorOptions? options = null, string? identity = null)
    {
        options ??= new SupervisorOptions();
        // VIGIL_TRACKING=marker: track units by the inherited marker only, even where cgroups could be made (for a
        // host whose cgroups another manager owns, and to compare the two modes).
        switch (Environment.GetEnvironmentVariable("VIGIL_TRACKING"))
        {
            case null or "" or "auto": break;
            case "marker": options = options with { Tracking = TrackingMode.Marker }; break;
            case var other:
                Console.Error.WriteLine($"vigil: VIGIL_TRACKING: expected auto or marker, got '{other}'");
                return Cli.Usage;
        }
        InstanceLock? instanceLock = null;
        if (identity is not null)
        {
            var instance = Membership.InstanceFor(identity);
            try { instanceLock = Lock(instance, identity); }
            catch (IOException e)
            {
                Console.Error.WriteLine($"vigil: {e.Message}");
                return Cli.Failure;
            }
            if (instanceLock is null) return Cli.Usage;
            options = options with { Instance = instance };
        }
        using var heldLock = instanceLock;
        // The vigil executable never starts children through System.Diagnostics.Process, so every zombie child
        // that no unit reaps is an orphan of ours.
        OrphanReaper.ReapAllOrphans = true;
        using var shutdown = new CancellationTokenSource();
        string? why = null;
        void OnSignal(PosixSignalContext ctx)
        {
            ctx.Cancel = true; // we exit on our own terms, after stopping the children
            why ??= ctx.Signal switch { PosixSignal.SIGINT => "SIGINT", PosixSignal.SIGTERM => "SIGTERM", _ => "SIGHUP" };
            shutdown.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal);
        foreach (var sig in Ignored) Signals.Ignore(sig);

        // Colour per unit, like docker compose: only on a terminal, and never when NO_COLOR is set (no-color.org).
        var printer = new EventPrinter(Console.Out, attachOutput && !Console.IsOutputRedirected
            && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")));
        var sup = new Supervisor(options);
        using var sigusr1 = PosixSignalRegistration.Create((PosixSignal)Signals.SIGUSR1, ctx =>
        {
            ctx.Cancel = true;
            Console.WriteLine(StatusTable.Render(sup.Snapshot(), sup.Time.GetUtcNow()));
        });
        using var sigusr2 = PosixSignalRegistration.Create((PosixSignal)Signals.SIGUSR2, ctx =>
        {
            ctx.Cancel = true;
            sup.ReopenLogs();
        });
        var events = printer.PrintAllAsync(sup);
        IDisposable? output = attachOutput ? sup.OnOutput(printer.Output) : null;
        if (sup.Membership is { } m) printer.Notice($"vigil: {m.Description}");
        // What a killed predecessor left running is stopped before anything starts: nothing ever runs twice.
        await sup.StopPreviousLeftoversAsync(specs, instanceLock?.PreviousPid).ConfigureAwait(false);
        foreach (var spec in specs) sup.Start(spec);
        extra?.Invoke(sup, shutdown.Token);

        try
        {
            if (runFor is { } d) await Task.Delay(d, shutdown.Token).ConfigureAwait(false);
            else await Task.Delay(Timeout.Infinite, shutdown.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) { }
        await shutdown.CancelAsync().ConfigureAwait(false); // also ends helpers such as the demo's status loop

        printer.Notice($"vigil: {(why is null ? "time is up" : "received " + why)}; stopping {sup.Units.Count(u => !u.Spec.Detach)} unit(s)");
        await sup.DisposeAsync().ConfigureAwait(false);
        output?.Dispose();
        await events.ConfigureAwait(false);
        var detached = sup.Units.Where(u => u.Spec.Detach && u.Pid is not null).ToList();
        foreach (var u in detached) printer.Notice($"vigil: {u.Name}#{u.Pid} is detached and keeps running");
        printer.Notice("vigil: all stopped");
        return Cli.Ok;
    }
}
