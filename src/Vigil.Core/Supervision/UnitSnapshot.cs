using Vigil.Launching;
using Vigil.Specs;

namespace Vigil.Supervision;

/// <summary>An immutable picture of a unit, published by its loop after every change. Readers never touch the unit.</summary>
public sealed record UnitSnapshot(
    int Id,
    string Name,
    UnitState State,
    ProcessStatus Status,
    int? Pid,
    DateTimeOffset? StartTime,
    string Command,
    IReadOnlyList<string> Arguments,
    int RestartCount,
    ExitStatus? LastExit,
    bool Attached,
    bool Detached,
    TimeSpan? NextRestartIn)
{
    /// <summary>Null when the unit has no readiness probe (and no startup probe); otherwise the last verdict.</summary>
    public bool? Ready { get; init; }
    /// <summary>Numbers the probes observed (tether pong fields, round trip…), by name.</summary>
    public IReadOnlyDictionary<string, double> Gauges { get; init; } = System.Collections.Immutable.ImmutableDictionary<string, double>.Empty;
    /// <summary>When the scheduled restart is due (backoff, slow retry); null when none is pending.</summary>
    public DateTimeOffset? NextRestartAt { get; init; }
    /// <summary>Restarts in a row on the schedule (the next schedule entry's index; 0 after a reset or a restart request).</summary>
    public int RestartAttempt { get; init; }
    /// <summary>Time since the current process started; zero when none runs.</summary>
    public TimeSpan UptimeAt(DateTimeOffset now) => Pid is not null && StartTime is { } s ? now - s : TimeSpan.Zero;
}

/// <summary>One probe of a unit's current run and its last result, for <c>vigil status</c> (<see cref="Unit.ProbeStatuses"/>).</summary>
/// <param name="Kind">The check's kind (<c>http</c>, <c>exec</c>, <c>output-stall</c>, …).</param>
/// <param name="Result">Unknown before the first check (or while its checks cannot tell, e.g. the Tether broker is
/// down), Ok, Failing (some checks failed in a row, fewer than the failure threshold), Failed (the threshold was reached;
/// a failed liveness probe stays failed until successThreshold passes recover it).</param>
/// <param name="Detail">What the last failed (or inconclusive) check of this run said; null when none has failed.</param>
/// <param name="Latency">How long the last check took.</param>
/// <param name="At">When the last check ended; null before the first.</param>
/// <param name="ConsecutiveFailures">Failed checks in a row up to the last one (0 after a pass).</param>
public sealed record ProbeStatus(string Name, string Kind, Specs.ProbeRole Role, Specs.ProbeAction Action, ProbeOutcome Result,
    string? Detail, TimeSpan? Latency, DateTimeOffset? At, int ConsecutiveFailures);

/// <summary>A probe's last result, as <see cref="ProbeStatus.Result"/> describes.</summary>
public enum ProbeOutcome { Unknown, Ok, Failing, Failed }
