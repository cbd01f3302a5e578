using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Supervision;

namespace Vigil.Control;

/// <summary>
/// What <see cref="LocalControl"/> needs from the program that runs the supervisor (vigil run): the engine itself,
/// and the operations only the program can do (read the config again, end the process).
/// </summary>
public sealed class ControlHost
{
    public required Supervisor Supervisor { get; init; }
    /// <summary>The instance name (config's <c>name:</c>).</summary>
    public required string Instance { get; init; }
    /// <summary>Absolute path of the config file; null for <c>vigil run -- CMD</c>.</summary>
    public string? ConfigPath { get; init; }
    public string Socket { get; init; } = "";
    /// <summary>Vigil's own event log file when detached.</summary>
    public string? LogFile { get; init; }
    /// <summary>Re-reads the config and applies it (dryRun: only compares). Throws ControlException(ConfigError) for an
    /// invalid config. Null: nothing to reload from (ControlErrors.Unsupported).</summary>
    public Func<bool, CancellationToken, Task<ReloadResult>>? Reload { get; init; }
    /// <summary>Checks a unit that <c>vigil add</c> would start (command found and executable, cwd exists): the
    /// problems, empty when fine.</summary>
    public Func<Vigil.Specs.ProcessSpec, IReadOnlyList<string>>? Check { get; init; }
    /// <summary>The config sections and probe kinds beyond the engine's (Tether's), so <c>vigil save</c> can write them.</summary>
    public Vigil.Config.ConfigExtensions? Extensions { get; init; }
    /// <summary>The running config's extension sections (its <c>tether:</c> broker), written back by <c>vigil save</c>.</summary>
    public Vigil.Config.ConfigSections? Sections { get; init; }
    /// <summary>The history the statistics of <c>vigil status</c> and <c>vigil report</c> come from; null: history is off.</summary>
    public Vigil.Telemetry.History.HistoryStore? History { get; init; }
    /// <summary>The config's <c>history:</c>, written back by <c>vigil save</c> (null: nothing to write).</summary>
    public Vigil.Telemetry.History.HistorySettings? HistorySettings { get; init; }
    /// <summary>The running config's top-level <c>hooks:</c> (as last reloaded), written back by <c>vigil save</c>.</summary>
    public Func<Vigil.Specs.HookSet>? Hooks { get; init; }
    /// <summary>Asks the program to stop every unit and exit (as SIGTERM would).</summary>
    public required Action RequestShutdown { get; init; }
    /// <summary>Where the control's internal errors are reported (the vigil executable: stderr or its log file); nowhere by default.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;
}

/// <summary>Where the control socket is, by the same rule for the server and for clients.</summary>
public static class ControlPaths
{
    /// <summary><c>--socket</c> if given, else <c>VIGIL_SOCKET</c>, else <c>&lt;runtime dir&gt;/&lt;instance&gt;.sock</c>
    /// (<see cref="RuntimeDir"/>: $XDG_RUNTIME_DIR/vigil, /run/vigil for root, /tmp/vigil-UID).</summary>
    /// <param name="log">Where a refused runtime folder is reported (see <see cref="RuntimeDir.Resolve"/>).</param>
    public static string Socket(string? explicitPath, string instance, IReadOnlyDictionary<string, string?>? env = null, ILogger? log = null)
    {
        if (!string.IsNullOrEmpty(explicitPath)) return Path.GetFullPath(explicitPath);
        var fromEnv = env is not null ? env.GetValueOrDefault("VIGIL_SOCKET") : Environment.GetEnvironmentVariable("VIGIL_SOCKET");
        if (!string.IsNullOrEmpty(fromEnv)) return Path.GetFullPath(fromEnv);
        return Path.Combine(RuntimeDir.Resolve(env, log), instance + ".sock");
    }
}
