namespace Vigil.Control;

// The control interface's data: plain records, serialized to JSON (camelCase) by ControlJson's source-generated
// context. Every field is documented in docs/control-protocol.md; renaming one breaks scripts that read --json.

/// <summary>Who answers the socket.</summary>
public sealed record ServerInfo
{
    public int ProtocolVersion { get; init; }
    public string Version { get; init; } = "";
    public int Pid { get; init; }
    /// <summary>The instance name (config's <c>name:</c>).</summary>
    public string Instance { get; init; } = "";
    /// <summary>Absolute path of the config file; null for <c>vigil run -- CMD</c>.</summary>
    public string? ConfigPath { get; init; }
    public string Socket { get; init; } = "";
    /// <summary>Where Vigil's own event log goes when it runs detached (null: its stdout).</summary>
    public string? LogFile { get; init; }
    public DateTimeOffset StartedAt { get; init; }
    public int Units { get; init; }
}

/// <summary>One row of <c>vigil ls</c>.</summary>
public record UnitInfo
{
    public int Id { get; init; }
    public string Name { get; init; } = "";
    /// <summary>Lower case: initial, starting, running, backoff, slow-retry, stopping, stopped, exited, failed, …</summary>
    public string State { get; init; } = "";
    public int? Pid { get; init; }
    /// <summary>The process's /proc state in words (running, sleeping, zombie, …); "-" when none runs.</summary>
    public string Status { get; init; } = "";
    /// <summary>Null when the unit has no readiness (or startup) probe.</summary>
    public bool? Ready { get; init; }
    public int Restarts { get; init; }
    public double UptimeSeconds { get; init; }
    /// <summary>How the last run ended, in words ("exited with code 3", "killed by SIGKILL"); null before any.</summary>
    public string? LastExit { get; init; }
    /// <summary>CPU of the unit's process tree since the previous sample (or since it started), in percent of one core.</summary>
    public double? CpuPercent { get; init; }
    /// <summary>Resident memory of the unit's process tree.</summary>
    public long? RssBytes { get; init; }
    /// <summary>Time left before a scheduled restart (backoff, slow retry).</summary>
    public double? NextRestartInSeconds { get; init; }
    public bool Attached { get; init; }
    public bool Detached { get; init; }
}

/// <summary>Everything <c>vigil status NAME</c> shows about one unit.</summary>
public sealed record UnitDetail : UnitInfo
{
    public string Command { get; init; } = "";
    public IReadOnlyList<string> Args { get; init; } = [];
    public string? Cwd { get; init; }
    public RestartInfo Restart { get; init; } = new();
    public StopInfo Stop { get; init; } = new();
    public IReadOnlyList<ProbeInfo> Probes { get; init; } = [];
    public IReadOnlyList<string> LogFiles { get; init; } = [];
    public long DroppedLogLines { get; init; }
    public IReadOnlyList<EventInfo> RecentEvents { get; init; } = [];
    /// <summary>Over the last hour, day and retention period, from the history (lifetime, across Vigil restarts); null
    /// when history is off.</summary>
    public IReadOnlyList<ReliabilityWindow>? Reliability { get; init; }
    /// <summary>Where the unit's tmux window is, for a unit with <c>tmux:</c>; null otherwise.</summary>
    public TmuxInfo? Tmux { get; init; }
}

/// <summary>A tmux unit's window on Vigil's own tmux server: <c>tmux -S Socket attach -t Target</c> shows it.</summary>
public sealed record TmuxInfo
{
    public string Socket { get; init; } = "";
    public string Session { get; init; } = "";
    public string Window { get; init; } = "";
    /// <summary>The exact-match tmux target of the window, <c>=session:=window</c>.</summary>
    public string Target { get; init; } = "";
}

/// <summary>The restart policy and where the unit is in its schedule.</summary>
public sealed record RestartInfo
{
    /// <summary>always, on-failure or never.</summary>
    public string Policy { get; init; } = "";
    /// <summary>The schedule in words ("100ms, 500ms, 1s, …" or "backoff 1s ×2 up to 5m").</summary>
    public string Schedule { get; init; } = "";
    /// <summary>Restarts in a row without a run long enough to reset the schedule.</summary>
    public int Attempt { get; init; }
    public double? NextRestartInSeconds { get; init; }
    /// <summary>The crash-loop limit in words, if any ("5 within 10m, then slow-retry").</summary>
    public string? Limit { get; init; }
}

public sealed record StopInfo
{
    public string Signal { get; init; } = "";
    public double TimeoutSeconds { get; init; }
    public double KillWaitSeconds { get; init; }
}

/// <summary>One probe and its last result.</summary>
public sealed record ProbeInfo
{
    public string Name { get; init; } = "";
    public string Kind { get; init; } = "";
    /// <summary>liveness, readiness or startup.</summary>
    public string Role { get; init; } = "";
    public string Action { get; init; } = "";
    /// <summary>ok, failing, failed, unknown (no result yet).</summary>
    public string Result { get; init; } = "";
    public string? Detail { get; init; }
    public double? LatencyMs { get; init; }
    public DateTimeOffset? At { get; init; }
    public int ConsecutiveFailures { get; init; }
}

/// <summary>What happened to one unit in a start/stop/restart/kill/signal/add/remove.</summary>
public sealed record ActionOutcome
{
    public int Id { get; init; }
    public string Name { get; init; } = "";
    /// <summary>started, already-running, stopped, already-stopped, restarted, killed, signalled, not-running, added,
    /// removed, failed.</summary>
    public string Outcome { get; init; } = "";
    public bool Ok { get; init; }
    public int? Pid { get; init; }
    /// <summary>A sentence for the line the CLI prints (survivors, the exit, the spawn error).</summary>
    public string? Detail { get; init; }
}

/// <summary>Which output <c>vigil logs</c> wants.</summary>
public sealed record LogQuery
{
    /// <summary>Units by name; empty: all.</summary>
    public IReadOnlyList<string> Names { get; init; } = [];
    /// <summary>How many lines of backlog (per request, after merging); 0: none.</summary>
    public int Lines { get; init; } = 20;
    public DateTimeOffset? Since { get; init; }
}

/// <summary>One line a unit wrote.</summary>
public sealed record LogLine
{
    public DateTimeOffset Time { get; init; }
    public int UnitId { get; init; }
    public string Name { get; init; } = "";
    public int Pid { get; init; }
    /// <summary>out or err.</summary>
    public string Stream { get; init; } = "";
    public string Text { get; init; } = "";
    /// <summary>Only on the notice a follower gets after falling behind: how many lines it missed (<see cref="Text"/>
    /// says so in words). Absent on every real line.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public long? Skipped { get; init; }
}

/// <summary>One event, with the fields <c>vigil run</c> prints (<c>time name#pid kind: reason</c>).</summary>
public sealed record EventInfo
{
    public DateTimeOffset Time { get; init; }
    /// <summary>0 for events about Vigil itself (a refused client, a reload).</summary>
    public int UnitId { get; init; }
    public string Name { get; init; } = "";
    public int? Pid { get; init; }
    public string State { get; init; } = "";
    public string Kind { get; init; } = "";
    public string Reason { get; init; } = "";
}

/// <summary>The outcome of a reload: one entry per unit of the old and new sets.</summary>
public sealed record ReloadResult
{
    public bool DryRun { get; init; }
    public IReadOnlyList<UnitChange> Changes { get; init; } = [];
}

public sealed record UnitChange
{
    /// <summary>added, removed, changed or unchanged.</summary>
    public string Change { get; init; } = "";
    public string Name { get; init; } = "";
    /// <summary>For changed: the config keys that differ (command, env, restart, …).</summary>
    public IReadOnlyList<string> Fields { get; init; } = [];
}

/// <summary><c>vigil add NAME [--restart …] -- CMD ARGS…</c>.</summary>
[System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow)]
public sealed record AddRequest
{
    public string Name { get; init; } = "";
    public IReadOnlyList<string> Command { get; init; } = [];
    public string? Cwd { get; init; }
    public IReadOnlyDictionary<string, string>? Env { get; init; }
    /// <summary>always, on-failure or never; null: the default (always).</summary>
    public string? Restart { get; init; }
}

public sealed record SaveResult
{
    public string Yaml { get; init; } = "";
    /// <summary>The config file Vigil runs from (where <c>vigil save</c> without FILE writes); null for <c>run -- CMD</c>.</summary>
    public string? ConfigPath { get; init; }
    public int Units { get; init; }
}

/// <summary>Stable error codes (the <c>code</c> of an error reply).</summary>
public static class ControlErrors
{
    public const string NoSuchUnit = "no-such-unit";
    public const string BadRequest = "bad-request";
    public const string UnknownVerb = "unknown-verb";
    public const string TooLarge = "too-large";
    public const string ConfigError = "config-error";
    public const string Refused = "refused";
    public const string Unsupported = "unsupported";
    public const string Internal = "internal";
    /// <summary>The server has as many connections as it takes; try again later.</summary>
    public const string Busy = "busy";
    /// <summary>Client side: no socket, or nobody listening on it.</summary>
    public const string NotRunning = "not-running";
}

/// <summary>A control request that failed, on either side of the socket.</summary>
public sealed class ControlException(string code, string message, string? suggestion = null, IReadOnlyList<string>? details = null)
    : Exception(message)
{
    public string Code { get; } = code;
    /// <summary>For <see cref="ControlErrors.NoSuchUnit"/>: the nearest known name.</summary>
    public string? Suggestion { get; } = suggestion;
    /// <summary>For <see cref="ControlErrors.ConfigError"/>: every <c>file:line:col: message</c>.</summary>
    public IReadOnlyList<string> Details { get; } = details ?? [];
}
