namespace Vigil.Control;

// Overview
// --------
// Everything a client can do with a running Vigil, as one interface (process-compose's project_interface.go is the
// model). Two implementations: LocalControl, in-process over a Supervisor, and ControlClient, which talks to the
// control socket that ControlServer serves from a LocalControl. The CLI (and later a TUI and a dashboard) use only
// this interface and never care where the engine is.
//
// Names: every method that takes names acts on every unit with each name (names may repeat, seed 001); the single
// name "all" means every unit. An unknown name fails the whole call with ControlException(ControlErrors.NoSuchUnit)
// before anything is done, with the nearest known name as its Suggestion: a request never half-happens.
// Failures reach the caller as ControlException with a stable Code (ControlErrors), on both sides alike.

/// <summary>One running Vigil, as its clients see it.</summary>
public interface IVigilControl : IAsyncDisposable
{
    /// <summary>Who answers: protocol and program version, PID, instance name, config file, socket.</summary>
    Task<ServerInfo> InfoAsync(CancellationToken cancel = default);

    /// <summary>One row per unit, in the order they were defined.</summary>
    Task<IReadOnlyList<UnitInfo>> ListAsync(CancellationToken cancel = default);

    /// <summary>Everything about the units named <paramref name="name"/> (one entry per unit with that name).</summary>
    Task<IReadOnlyList<UnitDetail>> StatusAsync(string name, CancellationToken cancel = default);

    /// <summary>Starts stopped, exited or given-up units (a unit in backoff starts now). With <paramref name="wait"/>,
    /// returns once each has spawned (or failed to).</summary>
    Task<IReadOnlyList<ActionOutcome>> StartAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default);

    /// <summary>Graceful stop (stop signal, grace, SIGKILL to the tree); no restart follows. With <paramref name="wait"/>,
    /// returns once each has stopped.</summary>
    Task<IReadOnlyList<ActionOutcome>> StopAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default);

    /// <summary>Stops (gracefully) and starts again, resetting the restart schedule.</summary>
    Task<IReadOnlyList<ActionOutcome>> RestartAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default);

    /// <summary>SIGKILL to the whole tree at once; no restart follows.</summary>
    Task<IReadOnlyList<ActionOutcome>> KillAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default);

    /// <summary>Sends <paramref name="signal"/> (a number) to each unit's main process.</summary>
    Task<IReadOnlyList<ActionOutcome>> SignalAsync(int signal, IReadOnlyList<string> names, CancellationToken cancel = default);

    /// <summary>The last lines of output (from the in-memory ring and the log files), oldest first, merged across units
    /// in the order they were read.</summary>
    Task<IReadOnlyList<LogLine>> LogsAsync(LogQuery query, CancellationToken cancel = default);

    /// <summary>As <see cref="LogsAsync"/>, then every new line until <paramref name="cancel"/> (or the server ends).</summary>
    IAsyncEnumerable<LogLine> FollowLogsAsync(LogQuery query, CancellationToken cancel = default);

    /// <summary>Recorded events (the server keeps a bounded history), oldest first; <paramref name="since"/> filters.</summary>
    Task<IReadOnlyList<EventInfo>> EventsAsync(DateTimeOffset? since = null, CancellationToken cancel = default);

    /// <summary>As <see cref="EventsAsync"/>, then every new event until <paramref name="cancel"/> (or the server ends).</summary>
    IAsyncEnumerable<EventInfo> FollowEventsAsync(DateTimeOffset? since = null, CancellationToken cancel = default);

    /// <summary>Re-reads the config file and applies the difference (or only reports it, with <paramref name="dryRun"/>).
    /// An invalid config throws ControlException(ControlErrors.ConfigError) with every error in Details; nothing changes.</summary>
    Task<ReloadResult> ReloadAsync(bool dryRun = false, CancellationToken cancel = default);

    /// <summary>Adds a unit and starts it (pm2 start). A bad request throws ControlErrors.BadRequest / ConfigError.</summary>
    Task<IReadOnlyList<ActionOutcome>> AddAsync(AddRequest request, CancellationToken cancel = default);

    /// <summary>Stops the units and forgets them.</summary>
    Task<IReadOnlyList<ActionOutcome>> RemoveAsync(IReadOnlyList<string> names, CancellationToken cancel = default);

    /// <summary>The running set (added units included) as a YAML config that <c>vigil run -c</c> accepts. The caller
    /// writes it where the user asked.</summary>
    Task<SaveResult> SaveAsync(CancellationToken cancel = default);

    /// <summary>Every unit's reliability figures and timeline since <paramref name="since"/> (null: the whole retention
    /// period), from the history. History off: ControlException(ControlErrors.Unsupported).</summary>
    Task<ReliabilityReport> ReportAsync(DateTimeOffset? since = null, CancellationToken cancel = default);

    /// <summary>Every Ligato template of the templates folder, read now, with its unit's state. No folder:
    /// ControlException(ControlErrors.Unsupported); a bad template: ControlErrors.ConfigError with every error.</summary>
    Task<IReadOnlyList<TemplateInfo>> TemplatesAsync(CancellationToken cancel = default);

    /// <summary>The unit named <paramref name="name"/> as a Ligato template (Ligato's Template option). The caller
    /// writes it where the user asked.</summary>
    Task<TemplateSaveResult> SaveTemplateAsync(string name, CancellationToken cancel = default);

    /// <summary>Asks Vigil to stop every unit and exit. Returns once the request is accepted; a ControlClient then waits
    /// for the server to close the connection and its process to end.</summary>
    Task ShutdownAsync(CancellationToken cancel = default);
}
