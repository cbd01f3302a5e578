namespace Vigil.Control;

// The reliability statistics of `vigil status` and `vigil report`, computed from Vigil's history (state.db): a lifetime
// view that continues across Vigil restarts, unlike a unit's `restarts` (the count of this Vigil run, as `vigil ls`
// shows it). Documented with the other fields in docs/control-protocol.md.

/// <summary>A unit's figures over one window (the last hour, day, retention period, or a report's <c>--since</c>).</summary>
public sealed record ReliabilityWindow
{
    /// <summary>The window's length in words: 1h, 1d, 30d.</summary>
    public string Window { get; init; } = "";
    public DateTimeOffset From { get; init; }
    public DateTimeOffset To { get; init; }
    public int Restarts { get; init; }
    /// <summary>Exits Vigil did not ask for, spawn errors and unhealthy verdicts.</summary>
    public int Failures { get; init; }
    /// <summary>Up time / (up + down + unhealthy time), in percent; null when the unit did neither in the window.</summary>
    public double? AvailabilityPercent { get; init; }
    public double UpSeconds { get; init; }
    /// <summary>Down (waiting to restart, given up, failed) and unhealthy time; stopped time and time Vigil was not running are neither.</summary>
    public double DowntimeSeconds { get; init; }
    /// <summary>Failures that ended in the unit running (or healthy) again.</summary>
    public int Recoveries { get; init; }
    /// <summary>From a failure to running again; null without recoveries.</summary>
    public double? MeanTimeToRecoverSeconds { get; init; }
    public double? WorstTimeToRecoverSeconds { get; init; }
    /// <summary>Up time / failures; null without failures.</summary>
    public double? MeanTimeBetweenFailuresSeconds { get; init; }
    /// <summary>The failure causes, most frequent first.</summary>
    public IReadOnlyList<FailureCauseInfo> Causes { get; init; } = [];
}

/// <summary>One failure cause (<c>exited with code 3</c>, <c>hung: no output</c>, <c>killed by SIGKILL (oom)</c>).</summary>
public sealed record FailureCauseInfo
{
    public string Cause { get; init; } = "";
    public int Count { get; init; }
    public DateTimeOffset First { get; init; }
    public DateTimeOffset Last { get; init; }
}

/// <summary>A stretch of a unit's timeline.</summary>
public sealed record TimelineBand
{
    public DateTimeOffset From { get; init; }
    public DateTimeOffset To { get; init; }
    /// <summary>up, unhealthy or down (stopped time and Vigil's absences are gaps between bands).</summary>
    public string Kind { get; init; } = "";
}

/// <summary>One unit's row of <c>vigil report</c>.</summary>
public sealed record UnitReport
{
    public string Name { get; init; } = "";
    /// <summary>Its state now; null for a unit only the history knows (removed from the config).</summary>
    public string? State { get; init; }
    public ReliabilityWindow Figures { get; init; } = new();
    public IReadOnlyList<TimelineBand> Timeline { get; init; } = [];
}

/// <summary><c>vigil report</c>: every unit's figures over one window.</summary>
public sealed record ReliabilityReport
{
    public string Instance { get; init; } = "";
    public DateTimeOffset From { get; init; }
    public DateTimeOffset To { get; init; }
    /// <summary>The history database the figures come from.</summary>
    public string Database { get; init; } = "";
    /// <summary>Events that could not be recorded since this Vigil started (queue full, disk full).</summary>
    public long DroppedEvents { get; init; }
    public IReadOnlyList<UnitReport> Units { get; init; } = [];
}
