using Vigil.Launching;
using Vigil.Specs;

namespace Vigil.Supervision;

/// <summary>Something that happened to a unit. <see cref="Reason"/> is the human sentence `vigil run` prints.</summary>
/// <param name="UnitId">Unique per unit for the supervisor's life (names may repeat).</param>
/// <param name="State">The unit's state after the event.</param>
public abstract record UnitEvent(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State)
{
    /// <summary>A stable, lower-case, dashed name: spawned, exited, spawn-failed, …</summary>
    public abstract string Kind { get; }
    public abstract string Reason { get; }

    /// <summary><c>name#pid</c> (or just the name when no process is involved).</summary>
    public string Who => Pid is { } p ? $"{Name}#{p}" : Name;

    public override string ToString() => $"{Time:HH:mm:ss.fff} {Who} {Kind}: {Reason}";
}

public sealed record Spawned(DateTimeOffset Time, int UnitId, string Name, int? Pid, string Command, int RestartCount)
    : UnitEvent(Time, UnitId, Name, Pid, UnitState.Running)
{
    public override string Kind => "spawned";
    public override string Reason => RestartCount == 0 ? $"started {Command}" : $"started {Command} (restart {RestartCount})";
}

/// <summary>The process ended. <see cref="Status"/> tells an exit code from a signal exactly.</summary>
public sealed record Exited(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, ExitStatus Status, TimeSpan Ran, bool Expected)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => Status.Signal is not null ? "killed" : "exited";
    /// <summary>For an expected exit: why Vigil stopped it (null = a stop was requested).</summary>
    public string? Why { get; init; }
    public override string Reason => $"{Status} after {Durations.Format(TimeSpan.FromMilliseconds(Math.Round(Ran.TotalMilliseconds)))}{(Expected ? $" ({Why ?? "stop requested"})" : "")}";
}

public sealed record SpawnFailed(DateTimeOffset Time, int UnitId, string Name, UnitState State, SpawnFailure Failure)
    : UnitEvent(Time, UnitId, Name, null, State)
{
    public override string Kind => "spawn-failed";
    public override string Reason => Failure.Message;
}

/// <summary>A stop began (<see cref="Signal"/> went to the process group), or a request changed what follows the stop
/// already under way (<see cref="Signal"/> null): <see cref="UnitState.Stopping"/>, <see cref="UnitState.Restarting"/>
/// or <see cref="UnitState.StoppingUnhealthy"/>.</summary>
public sealed record StopRequested(DateTimeOffset Time, int UnitId, string Name, int? Pid, string Why, int? Signal, UnitState State = UnitState.Stopping)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => "stop-requested";
    /// <summary>The stop began with elife's <c>{"stopping":true}</c> on the process's IPC channel; <see cref="Signal"/>
    /// follows after this long if it is still running.</summary>
    public TimeSpan? MessageFirst { get; init; }
    public override string Reason => MessageFirst is { } wait && Signal is { } s
        ? $"{Why}; sent {{\"stopping\":true}} on its IPC channel ({Signals.Name(s)} to the process group if still running after {Durations.Format(wait)})"
        : Signal is { } sig ? $"{Why}; sent {Signals.Name(sig)} to the process group"
        : $"{Why}; the stop under way goes on" + (State == UnitState.Restarting ? ", then it starts again" : ", and no start follows");
}

/// <summary>The grace period ran out: SIGKILL went to every remaining descendant.</summary>
public sealed record StopEscalated(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, IReadOnlyList<int> Killed, TimeSpan Grace)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => "stop-escalated";
    public override string Reason => $"still running after {Durations.Format(Grace)}; sent SIGKILL to {Killed.Count} process(es): {string.Join(", ", Killed)}";
}

/// <summary>The stop is over. <see cref="UnitEvent.State"/> is <see cref="UnitState.Stopped"/>, or
/// <see cref="UnitState.Restarting"/> when a start follows at once.</summary>
public sealed record Stopped(DateTimeOffset Time, int UnitId, string Name, int? Pid, IReadOnlyList<int> Survivors, UnitState State = UnitState.Stopped)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => "stopped";
    public override string Reason => Survivors.Count == 0 ? "stopped; no process left"
        : $"stopped, but {Survivors.Count} process(es) survived SIGKILL: {string.Join(", ", Survivors)} (uninterruptible sleep?)";
}

public sealed record BackingOff(DateTimeOffset Time, int UnitId, string Name, TimeSpan Delay, int Attempt)
    : UnitEvent(Time, UnitId, Name, null, UnitState.Backoff)
{
    public override string Kind => "backoff";
    public override string Reason => $"restarting in {Durations.Format(Delay)}";
}

public sealed record SlowRetrying(DateTimeOffset Time, int UnitId, string Name, TimeSpan Delay, string Why)
    : UnitEvent(Time, UnitId, Name, null, UnitState.SlowRetry)
{
    public override string Kind => "slow-retry";
    public override string Reason => Why;
}

public sealed record GaveUp(DateTimeOffset Time, int UnitId, string Name, string Why)
    : UnitEvent(Time, UnitId, Name, null, UnitState.Failed)
{
    public override string Kind => "gave-up";
    public override string Reason => Why + $"; start it again with 'vigil start {Name}'";
}

/// <summary>Vigil shut down and leaves this detached unit's process running; nothing restarts it from now on.</summary>
public sealed record Released(DateTimeOffset Time, int UnitId, string Name, int? Pid)
    : UnitEvent(Time, UnitId, Name, Pid, UnitState.Released)
{
    public override string Kind => "released";
    public override string Reason => "Vigil is shutting down; the detached process keeps running and nothing restarts it";
}

public sealed record NotRestarting(DateTimeOffset Time, int UnitId, string Name, string Why)
    : UnitEvent(Time, UnitId, Name, null, UnitState.Exited)
{
    public override string Kind => "not-restarting";
    public override string Reason => Why;
}

/// <summary>The OS status of the process changed (the State: of /proc/PID/status, or initial/terminated/unavailable).</summary>
public sealed record StatusChanged(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, ProcessStatus From, ProcessStatus To)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => "status-changed";
    public override string Reason => $"{ProcessStatuses.Describe(From)} → {ProcessStatuses.Describe(To)}";
}

/// <summary>Leftover processes of a run (same session, or recorded descendants) were cleaned up after the main process exited.</summary>
public sealed record LeftoversCleaned(DateTimeOffset Time, int UnitId, string Name, UnitState State, IReadOnlyList<int> Pids, IReadOnlyList<int> Survivors)
    : UnitEvent(Time, UnitId, Name, null, State)
{
    public override string Kind => "leftovers";
    public override string Reason => $"stopped {Pids.Count} leftover process(es) of the previous run: {string.Join(", ", Pids)}"
        + (Survivors.Count > 0 ? $"; survivors: {string.Join(", ", Survivors)}" : "");
}

/// <summary>Ligato's statuses: the /proc states plus initial, terminated and unavailable.</summary>
public enum ProcessStatus { Initial, Running, Sleeping, DiskSleep, Stopped, TracingStop, Zombie, Dead, Idle, Terminated, Unavailable }

public static class ProcessStatuses
{
    public static ProcessStatus From(OsState s) => s switch
    {
        OsState.Running => ProcessStatus.Running,
        OsState.Sleeping => ProcessStatus.Sleeping,
        OsState.DiskSleep => ProcessStatus.DiskSleep,
        OsState.Stopped => ProcessStatus.Stopped,
        OsState.TracingStop => ProcessStatus.TracingStop,
        OsState.Zombie => ProcessStatus.Zombie,
        OsState.Dead => ProcessStatus.Dead,
        OsState.Idle => ProcessStatus.Idle,
        _ => ProcessStatus.Unavailable,
    };

    public static string Describe(ProcessStatus s) => s switch
    {
        ProcessStatus.DiskSleep => "disk sleep",
        ProcessStatus.TracingStop => "tracing stop",
        _ => s.ToString().ToLowerInvariant(),
    };
}

/// <summary>A log file could not be written (folder not creatable, path refused, no permission, disk full): lines are being dropped
/// (and counted) while the child keeps running unblocked.</summary>
public sealed record LogFailed(DateTimeOffset Time, int UnitId, string Name, UnitState State, string Path, string Why)
    : UnitEvent(Time, UnitId, Name, null, State)
{
    public override string Kind => "log-failed";
    public override string Reason => $"cannot write {Path}: {Why}; dropping lines until it can";
}

/// <summary>Writing the log file works again; <see cref="Dropped"/> lines were lost meanwhile.</summary>
public sealed record LogResumed(DateTimeOffset Time, int UnitId, string Name, UnitState State, string Path, long Dropped)
    : UnitEvent(Time, UnitId, Name, null, State)
{
    public override string Kind => "log-resumed";
    public override string Reason => $"writing {Path} again; {Dropped} line(s) were dropped";
}

/// <summary>A liveness (or startup) probe failed: <see cref="Why"/> is the typed reason (<c>hung: no output for 2m</c>),
/// <see cref="Action"/> what Vigil does about it.</summary>
public sealed record Unhealthy(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, string Probe, string Why,
    int FailedChecks, Specs.ProbeAction Action) : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => "unhealthy";
    public override string Reason => $"{Why} ({Probe} probe, {FailedChecks} failed check(s)); " + Action switch
    {
        Specs.ProbeAction.Restart => "stopping the process tree; the restart policy decides what follows",
        Specs.ProbeAction.Kill => "killing the process tree; the restart policy decides what follows",
        Specs.ProbeAction.Exec => "running the action command",
        _ => "notifying only",
    };
}

/// <summary>A liveness probe that had failed (action notify or exec) passes again.</summary>
public sealed record Recovered(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, string Probe, string Detail)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => "healthy";
    public override string Reason => $"{Probe} probe passes again: {Detail}";
}

/// <summary>A readiness probe changed its verdict, or the startup probe passed (the unit is started).</summary>
public sealed record ReadinessChanged(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, string Probe, bool Ready, string Detail, bool Startup = false)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => Startup ? "started" : Ready ? "ready" : "not-ready";
    public override string Reason => Startup ? $"startup probe {Probe} passed: {Detail}" : $"{Probe} probe: {Detail}";
}

/// <summary>At start: processes a previous Vigil of the same config left running (it was killed) were stopped
/// before any unit started, so nothing runs twice. <see cref="UnitId"/> is 0: the unit of this Vigil may not exist.</summary>
public sealed record PreviousRunLeftovers(DateTimeOffset Time, int UnitId, string Name, IReadOnlyList<int> Pids, IReadOnlyList<int> Killed,
    IReadOnlyList<int> Survivors, int? PreviousVigil)
    : UnitEvent(Time, UnitId, Name, null, UnitState.Initial)
{
    public override string Kind => "previous-run-leftovers";
    public override string Reason =>
        $"stopped {Pids.Count} process(es) left by {(PreviousVigil is { } v ? $"vigil#{v}" : "a previous vigil")}: {string.Join(", ", Pids)}"
        + (Killed.Count > 0 ? $"; {Killed.Count} needed SIGKILL" : "")
        + (Survivors.Count > 0 ? $"; {Survivors.Count} survived SIGKILL: {string.Join(", ", Survivors)}" : "");
}

/// <summary>An invariant broke inside Vigil while handling this unit: the unit's processes are killed and it stops,
/// so the error can neither wedge the other units nor Vigil's exit.</summary>
public sealed record InternalError(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, string Error)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => "internal-error";
    public override string Reason => $"{Error}; the unit is stopped (please report this)";
}

/// <summary>A probe's checks cannot tell whether the unit is alive (what they go through, such as the Tether broker, is
/// unreachable): they stop counting, so an outage of the path is not taken for a hang of the unit.</summary>
public sealed record ProbesPaused(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, string Probe, string Why)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => "probes-paused";
    public override string Reason => $"{Probe} probe paused: {Why}; its checks do not count until it can tell again";
}

/// <summary>A paused probe's check told again; counting starts afresh.</summary>
public sealed record ProbesResumed(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, string Probe, string Detail)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => "probes-resumed";
    public override string Reason => $"{Probe} probe resumed: {Detail}";
}

/// <summary>The log file or its folder was deleted or renamed away while open: Vigil created the path again and
/// writes there now. <see cref="Why"/> says what happened (<c>the file was deleted</c>, <c>its folder was deleted</c>,
/// <c>the file was renamed away</c>) and, for a deleted file, how many of its last lines were copied over.</summary>
public sealed record LogReopened(DateTimeOffset Time, int UnitId, string Name, UnitState State, string Path, string Why)
    : UnitEvent(Time, UnitId, Name, null, State)
{
    public override string Kind => "log-reopened";
    public override string Reason => $"{Why}; writing a new {Path}";
}
