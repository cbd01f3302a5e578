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
    /// <summary>Time since the current process started; zero when none runs.</summary>
    public TimeSpan UptimeAt(DateTimeOffset now) => Pid is not null && StartTime is { } s ? now - s : TimeSpan.Zero;
}

/// <summary>One probe of a unit and its last result, for <c>vigil status</c>.</summary>
/// <param name="Result">Ok, Failing (some checks failed, under the threshold), Failed, or Unknown (no check yet).</param>
public sealed record ProbeStatus(string Name, string Kind, Health.ProbeRole Role, Health.ProbeAction Action, ProbeOutcome Result,
    string? Detail, TimeSpan? Latency, DateTimeOffset? At, int ConsecutiveFailures);

public enum ProbeOutcome { Unknown, Ok, Failing, Failed }
