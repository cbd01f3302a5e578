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
            options: new SupervisorOptions { ProbeProviders = [tether] }).ConfigureAwait(false);
    }

    /// <summary>Starts the specs, prints events until a stop signal (or <paramref name="runFor"/>), stops everything, returns 0.</summary>
    public static async Task<int> SuperviseAsync(IReadOnlyList<ProcessSpec> specs, bool attachOutput, TimeSpan? runFor,
        Action<Supervisor, CancellationToken>? extra = null, SupervisorOptions? options = null)
    {
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

        // Colour per unit, like docker compose: only on a terminal, and never when NO_COLOR is set (no-color.org).
        var printer = new EventPrinter(Console.Out, attachOutput && !Console.IsOutputRedirected
            && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")));
        var sup = new Supervisor(options);
        var events = printer.PrintAllAsync(sup);
        IDisposable? output = attachOutput ? sup.OnOutput(printer.Output) : null;
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
