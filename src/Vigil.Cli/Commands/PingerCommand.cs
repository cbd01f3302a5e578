using System.Collections;
using System.CommandLine;
using System.Runtime.InteropServices;
using Vigil.Telemetry.DogStatsD;
using Vigil.Tether.Pinger;

namespace Vigil.Cli.Commands;

/// <summary><c>vigil pinger</c>: the Tether Process Pinger drop-in (config and behaviour in docs/pinger.md).</summary>
internal static class PingerCommand
{
    /// <summary>For the command list, help and completion only: <see cref="Cli.RunAsync"/> hands <c>vigil pinger …</c>
    /// to <see cref="ExecuteAsync"/> before parsing, since its flags are the original's <c>--key.sub=value</c>.</summary>
    public static Command Build()
    {
        var flags = new Argument<string[]>("FLAGS") { Description = "--key.sub=value settings (vigil pinger --help lists them)", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("pinger", "the Tether Process Pinger drop-in: pings a Tether app and restarts it when it stops answering") { flags };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction((parsed, _) => ExecuteAsync(parsed.GetValue(flags) ?? []));
        return command;
    }

    public const string Help = """
        vigil pinger — pings a Tether app and restarts it (PM2, or a command) when it stops answering

        Usage: vigil pinger [--config FILE] [--key.sub=value …]

        Keys (defaults): targetAppName (unknown), tether.host (localhost), tether.port (1883), tether.username,
        tether.password, tether.agentId (random), tether.protocol (mqtt; mqtts, ws, wss), tether.path (WebSocket
        path), tether.protocolVersion (4; 5), tether.ca, tether.cert, tether.key (PEM files; mqtts or wss),
        tether.insecureSkipVerify (false; tests only), ping.interval (15000), ping.timeout (5000), ping.tetherAgentId,
        ping.grace (10000), pm2.enabled (true), pm2.processName (unknown), pm2.bin (pm2),
        datadog.enabled (true), datadog.globalTags (["app:TetherProcessPinger"]), datadog.decodeStats (true),
        loglevel (warn), exitPause (3000), restart.exec.
        Sources, highest first: --flags, TetherProcessPinger_a__b environment variables, --config FILE, the nearest
        .TetherProcessPingerrc (current folder or a parent), ~/.TetherProcessPingerrc, ~/.TetherProcessPinger/config,
        ~/.config/TetherProcessPinger, ~/.config/TetherProcessPinger/config, /etc/TetherProcessPingerrc,
        /etc/TetherProcessPinger/config, defaults. DogStatsD goes to DD_AGENT_HOST:DD_DOGSTATSD_PORT (localhost:8125).
        Exit codes: 0 stopped by a signal, 1 broker or PM2 failure (after exitPause), 2 bad config.
        """;

    public static async Task<int> ExecuteAsync(string[] args)
    {
        if (args is ["-h" or "--help" or "help"]) { Console.Out.WriteLine(Help); return ExitCodes.Ok; }
        var env = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);
        var home = Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } h ? h : null;
        var warnings = new List<string>();
        PingerSettings settings;
        try { settings = PingerConfig.Load(args, env, Directory.GetCurrentDirectory(), home, warnings); }
        catch (PingerConfigException e)
        {
            foreach (var err in e.Errors) Console.Error.WriteLine($"vigil pinger: {err}");
            Console.Error.WriteLine($"vigil pinger: {e.Errors.Count} config error(s); run 'vigil pinger --help' for the keys");
            return ExitCodes.Usage;
        }
        foreach (var w in warnings) Console.Error.WriteLine($"vigil pinger: warning: {w}");

        using var stop = new CancellationTokenSource();
        void OnSignal(PosixSignalContext ctx) { ctx.Cancel = true; stop.Cancel(); }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        using var sink = settings.DatadogEnabled ? new UdpDogStatsDSink(DogStatsDOptions.FromEnvironment()) : null;
        var datadog = sink is null ? null : new DogStatsDWriter(sink, settings.Tags);
        // Logs go to stdout, as the original's log4js console appender.
        return await new ProcessPinger(settings, Console.Out, datadog).RunAsync(stop.Token).ConfigureAwait(false);
    }
}
