using System.Collections.Frozen;

namespace Vigil.Supervision;

/// <summary>Where a unit is in its life. Every allowed move is in <see cref="UnitTransitions"/>.</summary>
public enum UnitState
{
    /// <summary>Defined, never started.</summary>
    Initial,
    /// <summary>The process runs.</summary>
    Running,
    /// <summary>A stop was requested: stop signal sent, waiting for the tree to go (then SIGKILL).</summary>
    Stopping,
    /// <summary>Waiting out a restart delay.</summary>
    Backoff,
    /// <summary>The crash-loop limit was hit; retrying at the slow interval.</summary>
    SlowRetry,
    /// <summary>The process ended and the policy says not to restart it.</summary>
    Exited,
    /// <summary>Stopped on request.</summary>
    Stopped,
    /// <summary>The crash-loop limit was hit with <c>then: stop</c>.</summary>
    Failed,
}

/// <summary>The one table of allowed state changes (supervisord's _assertInState, s6's actions table).</summary>
public static class UnitTransitions
{
    private static readonly FrozenSet<(UnitState, UnitState)> Allowed = new (UnitState, UnitState)[]
    {
        (UnitState.Initial, UnitState.Running), (UnitState.Initial, UnitState.Backoff), (UnitState.Initial, UnitState.SlowRetry),
        (UnitState.Initial, UnitState.Exited), (UnitState.Initial, UnitState.Failed), (UnitState.Initial, UnitState.Stopped),

        (UnitState.Running, UnitState.Stopping), (UnitState.Running, UnitState.Backoff), (UnitState.Running, UnitState.SlowRetry),
        (UnitState.Running, UnitState.Exited), (UnitState.Running, UnitState.Failed),

        (UnitState.Stopping, UnitState.Stopped),
        // After a stop started by a failed liveness probe, the restart policy decides as after a crash.
        (UnitState.Stopping, UnitState.Backoff), (UnitState.Stopping, UnitState.SlowRetry),
        (UnitState.Stopping, UnitState.Exited), (UnitState.Stopping, UnitState.Failed),

        (UnitState.Backoff, UnitState.Running), (UnitState.Backoff, UnitState.Backoff), (UnitState.Backoff, UnitState.SlowRetry),
        (UnitState.Backoff, UnitState.Exited), (UnitState.Backoff, UnitState.Failed), (UnitState.Backoff, UnitState.Stopped),

        (UnitState.SlowRetry, UnitState.Running), (UnitState.SlowRetry, UnitState.SlowRetry), (UnitState.SlowRetry, UnitState.Backoff),
        (UnitState.SlowRetry, UnitState.Exited), (UnitState.SlowRetry, UnitState.Failed), (UnitState.SlowRetry, UnitState.Stopped),

        (UnitState.Exited, UnitState.Running), (UnitState.Exited, UnitState.Backoff), (UnitState.Exited, UnitState.SlowRetry),
        (UnitState.Exited, UnitState.Failed), (UnitState.Exited, UnitState.Exited), (UnitState.Exited, UnitState.Stopped),

        (UnitState.Stopped, UnitState.Running), (UnitState.Stopped, UnitState.Backoff), (UnitState.Stopped, UnitState.SlowRetry),
        (UnitState.Stopped, UnitState.Exited), (UnitState.Stopped, UnitState.Failed),

        (UnitState.Failed, UnitState.Running), (UnitState.Failed, UnitState.Backoff), (UnitState.Failed, UnitState.SlowRetry),
        (UnitState.Failed, UnitState.Exited), (UnitState.Failed, UnitState.Failed), (UnitState.Failed, UnitState.Stopped),
    }.ToFrozenSet();

    public static bool IsAllowed(UnitState from, UnitState to) => Allowed.Contains((from, to));

    /// <summary>States in which no process runs and none is scheduled.</summary>
    public static bool IsTerminal(UnitState s) => s is UnitState.Exited or UnitState.Stopped or UnitState.Failed or UnitState.Initial;
}
