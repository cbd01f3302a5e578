using Vigil.Launching;
using Vigil.Supervision;

namespace Vigil.Telemetry.History;

/// <summary>
/// One row of <c>state.db</c>: an event as stored, with what the statistics need in fields of their own (the exit
/// status, whether the exit was expected, the probe and its reason). <see cref="Run"/> numbers the Vigil process that
/// recorded it; <see cref="UnitId"/> is unique only within a run, <see cref="Name"/> is what ties runs together.
/// </summary>
public sealed record HistoryEvent(DateTimeOffset Time, long Run, int UnitId, string Name, string Kind, int? Pid, string State, string Reason)
{
    /// <summary>Kind of the row that opens a Vigil run (<see cref="UnitId"/> 0, name <c>vigil</c>).</summary>
    public const string VigilStarted = "vigil-started";
    /// <summary>Kind of the row that ends one: written at an orderly exit, or at the next start for a Vigil that died
    /// (then at the last time it was known alive).</summary>
    public const string VigilStopped = "vigil-stopped";

    public int? ExitCode { get; init; }
    public int? Signal { get; init; }
    public bool CoreDumped { get; init; }
    public bool Oom { get; init; }
    /// <summary>For an exit: whether Vigil stopped the process (a stop, a restart, an unhealthy kill).</summary>
    public bool? Expected { get; init; }
    /// <summary>For unhealthy, healthy and readiness events: the probe's name.</summary>
    public string? Probe { get; init; }
    /// <summary>The reason without Vigil's wording around it: a probe's verdict, a spawn error, why a stop was asked.</summary>
    public string? Why { get; init; }
    /// <summary>For spawned: the restart number of the run (0 for the first).</summary>
    public int? Restart { get; init; }

    /// <summary>The exit status of an exited/killed row.</summary>
    public ExitStatus? Status => ExitCode is { } c ? ExitStatus.Exited(c)
        : Signal is { } s ? ExitStatus.Killed(s, CoreDumped) with { OomKilled = Oom } : null;

    /// <summary>The row for <paramref name="e"/>, recorded by run <paramref name="run"/>.</summary>
    public static HistoryEvent From(UnitEvent e, long run)
    {
        ArgumentNullException.ThrowIfNull(e);
        var row = new HistoryEvent(e.Time, run, e.UnitId, e.Name, e.Kind, e.Pid, e.State.Name(), e.Reason);
        return e switch
        {
            Exited x => row with
            {
                ExitCode = x.Status.Code, Signal = x.Status.Signal, CoreDumped = x.Status.CoreDumped, Oom = x.Status.OomKilled,
                Expected = x.Expected, Why = x.Why,
            },
            Spawned s => row with { Restart = s.RestartCount },
            SpawnFailed f => row with { Why = f.Failure.Message },
            Unhealthy u => row with { Probe = u.Probe, Why = u.Why },
            Recovered r => row with { Probe = r.Probe, Why = r.Detail },
            ReadinessChanged r => row with { Probe = r.Probe, Why = r.Detail },
            GaveUp g => row with { Why = g.Why },
            StopRequested s => row with { Why = s.Why },
            _ => row,
        };
    }
}

/// <summary>Writing <c>state.db</c> failed (disk full, I/O error, a broken database): events are being dropped (and
/// counted) while every unit keeps running.</summary>
public sealed record HistoryFailed(DateTimeOffset Time, string Path, string Why)
    : UnitEvent(Time, 0, "vigil", null, UnitState.Initial)
{
    public override string Kind => "history-failed";
    public override string Reason => $"cannot write {Path}: {Why}; dropping events until it can (the units keep running)";
}

/// <summary>Writing <c>state.db</c> works again; <see cref="Dropped"/> events were lost meanwhile.</summary>
public sealed record HistoryResumed(DateTimeOffset Time, string Path, long Dropped)
    : UnitEvent(Time, 0, "vigil", null, UnitState.Initial)
{
    public override string Kind => "history-resumed";
    public override string Reason => $"writing {Path} again; {Dropped} event(s) were dropped";
}
