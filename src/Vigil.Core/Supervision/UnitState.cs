using System.Collections.Immutable;

namespace Vigil.Supervision;

/// <summary>
/// Where a unit is in its life. The state alone says what happens next (no side flags); every message's effect in
/// every state is in <see cref="UnitTransitions"/>. New states are appended, so the numbers of the old ones stay.
/// </summary>
public enum UnitState
{
    /// <summary>Defined, never started.</summary>
    Initial,
    /// <summary>The process runs.</summary>
    Running,
    /// <summary>A stop was requested (stop, kill, Vigil's shutdown): stop signal sent, waiting for the tree to go (then
    /// SIGKILL). Ends <see cref="Stopped"/>; nothing restarts it.</summary>
    Stopping,
    /// <summary>Waiting out a restart delay of the schedule.</summary>
    Backoff,
    /// <summary>The crash-loop limit was hit; retrying at the slow interval.</summary>
    SlowRetry,
    /// <summary>The process ended and the policy says not to restart it.</summary>
    Exited,
    /// <summary>Stopped on request.</summary>
    Stopped,
    /// <summary>The crash-loop limit was hit with <c>then: stop</c>: given up until started again.</summary>
    Failed,
    /// <summary>A restart was requested: the tree is stopped as for <see cref="Stopping"/>, then the unit starts again
    /// at once, with a fresh restart schedule.</summary>
    Restarting,
    /// <summary>A liveness probe failed (action restart or kill): the tree is being stopped, then the restart policy
    /// decides as after a crash (it counts against the crash-loop limit).</summary>
    StoppingUnhealthy,
    /// <summary>Vigil shut down and left this detached unit's process running: nothing restarts it, and its exit ends
    /// in <see cref="Exited"/>.</summary>
    Released,
    /// <summary>An internal error: the run's tree is being killed (SIGKILL). Ends <see cref="Stopped"/>, from where
    /// the unit can be started again.</summary>
    Aborting,
    /// <summary>An external unit (attach) whose pidfile or service names no running process: asked again every
    /// <c>attach.poll</c>; Vigil starts nothing.</summary>
    Waiting,
}

/// <summary>What reaches a unit's loop: requests, and news about its process, its timers, its probes and its logs.</summary>
public enum UnitMessage
{
    /// <summary>Request: start (a unit waiting to restart starts now).</summary>
    Start,
    /// <summary>Request: graceful stop (stop signal, grace, SIGKILL); no restart follows.</summary>
    Stop,
    /// <summary>Request: SIGKILL to the whole tree at once; no restart follows.</summary>
    Kill,
    /// <summary>Request: stop, then start again at once with a fresh schedule.</summary>
    Restart,
    /// <summary>Request: send a signal to the running process.</summary>
    Signal,
    /// <summary>Request: answer when the current process has exited.</summary>
    WaitExit,
    /// <summary>Adopt a process Vigil did not start (attach by PID).</summary>
    Attach,
    /// <summary>Vigil shuts down and this unit is detached: leave its process running.</summary>
    Release,
    /// <summary>The current process ended.</summary>
    Exited,
    /// <summary>The tree stop under way finished (everything gone, or survivors reported).</summary>
    StopDone,
    /// <summary>The restart timer fired.</summary>
    Timer,
    /// <summary>The /proc status of the current process changed.</summary>
    Status,
    /// <summary>A liveness (or startup) probe failed and its action stops the tree (restart or kill).</summary>
    ProbeFailed,
    /// <summary>Any other report of the current run's probes (readiness, recovery, pause, gauges, notify/exec failures).</summary>
    ProbeNews,
    /// <summary>A stop's grace ran out: SIGKILL went to the tree.</summary>
    Escalated,
    /// <summary>Leftovers of an ended run were stopped.</summary>
    LeftoversCleaned,
    /// <summary>A log file failed, came back or was reopened.</summary>
    LogNews,
    /// <summary>A probe's action command finished.</summary>
    ActionRan,
    /// <summary>An internal error while handling a message.</summary>
    Fault,
    /// <summary>About something no longer current: an earlier run's exit or probe, a cancelled timer, another PID.</summary>
    Stale,
    /// <summary>An external unit's lookup answered: the PID its pidfile or service names now (or none, and why).</summary>
    AttachPoll,
}

/// <summary>What a unit does with a message (s6's action functions).</summary>
public enum UnitAction
{
    /// <summary>Nothing: the message does not apply in this state.</summary>
    Ignore,
    /// <summary>A request with nothing to do here, answered at once (already running, already stopped).</summary>
    Answer,
    /// <summary>Spawn now (a restart also resets the schedule); a spawn failure goes to the restart policy.</summary>
    Launch,
    /// <summary>Watch the attached process as this unit's run.</summary>
    Adopt,
    /// <summary>Stop signal (or SIGKILL for kill and action kill) to the tree, in a task that reports StopDone.</summary>
    BeginStop,
    /// <summary>Wait for the stop under way.</summary>
    Join,
    /// <summary>The stop under way goes on; what follows it changes (a start, or none).</summary>
    Redirect,
    /// <summary>SIGKILL to the tree now, without waiting for the grace; no start follows.</summary>
    Escalate,
    /// <summary>No process: cancel a pending restart and call the unit stopped.</summary>
    MarkStopped,
    /// <summary>The run ended: the restart policy decides (and leftovers of the run are cleaned).</summary>
    Decide,
    /// <summary>The process ended during or after a stop: report the exit; the state stays.</summary>
    RecordExit,
    /// <summary>The stop is over: stopped.</summary>
    FinishStop,
    /// <summary>The stop is over: start again at once.</summary>
    FinishThenLaunch,
    /// <summary>The stop after a failed probe is over: the restart policy decides, as after a crash.</summary>
    FinishThenDecide,
    /// <summary>Leave the process running for good: no probes, no status polling, no restart.</summary>
    Release,
    /// <summary>No process, and Vigil shuts down: cancel the pending restart.</summary>
    Retire,
    /// <summary>Send the signal to the current process, if there is one.</summary>
    Signal,
    /// <summary>Answer now when no process runs, else when it exits.</summary>
    WaitExit,
    /// <summary>Follow the process's /proc status; publish the changes <see cref="StatusEvents"/> asks for.</summary>
    UpdateStatus,
    /// <summary>Act on a probe report (readiness, recovery, pause, gauges, notify or exec action).</summary>
    Probe,
    /// <summary>Publish the news as an event; the state stays.</summary>
    Note,
    /// <summary>An internal error: kill the run's tree and end stopped, answering every request.</summary>
    Abort,
    /// <summary>An external unit's lookup: adopt the process it names (following a restart by its manager), or wait.</summary>
    Follow,
}

/// <summary>One cell of the table: the action, and every state the unit may be in after it (the state it moves to,
/// or its own state when the action publishes an event without moving). Empty: nothing is published.</summary>
public readonly record struct UnitRule(UnitAction Action, ImmutableArray<UnitState> Next)
{
    /// <summary>True when, handling a message under this rule, the unit may publish an event in state <paramref name="s"/>.</summary>
    public bool Allows(UnitState s) => Next.Contains(s);

    public override string ToString() => Next.IsEmpty ? Action.ToString() : $"{Action} → {string.Join(" | ", Next)}";
}

/// <summary>
/// The one table of state × message → action and next states (s6-supervise's <c>actions[state][event]</c>,
/// supervisord's <c>_assertInState</c> + <c>change_state</c>). A unit's loop looks every message up here, runs the
/// action, and its MoveTo refuses any state (and any event) the cell does not list.
/// </summary>
public static class UnitTransitions
{
    // After a run: what the restart policy may choose.
    // An external unit waits for its manager to start the process again instead.
    private static readonly ImmutableArray<UnitState> Policy = [UnitState.Backoff, UnitState.SlowRetry, UnitState.Exited, UnitState.Failed, UnitState.Waiting];
    // After a launch: running, or (spawn failure, attached unit) what the policy chooses.
    private static readonly ImmutableArray<UnitState> Launched = [UnitState.Running, .. Policy];

    /// <summary>Every state, in declaration order.</summary>
    public static IReadOnlyList<UnitState> States { get; } = Array.AsReadOnly(Enum.GetValues<UnitState>());
    /// <summary>Every message, in declaration order.</summary>
    public static IReadOnlyList<UnitMessage> Messages { get; } = Array.AsReadOnly(Enum.GetValues<UnitMessage>());

    // Built after States and Messages (static initializers run in textual order).
    private static readonly UnitRule[,] Table = Build();

    private static UnitRule[,] Build()
    {
        var t = new UnitRule[States.Count, Messages.Count];
        UnitRule R(UnitAction a, params UnitState[] next) => new(a, [.. next]);
        void Row(UnitState s, params (UnitMessage M, UnitRule Rule)[] cells)
        {
            foreach (var (m, rule) in cells) t[(int)s, (int)m] = rule;
        }

        // What every state does, unless its row says otherwise: requests are answered, news is published where it
        // is, process and timer messages do not apply (there is no process or timer to be about).
        foreach (var s in States)
            foreach (var m in Messages)
                t[(int)s, (int)m] = m switch
                {
                    UnitMessage.Start or UnitMessage.Stop or UnitMessage.Kill or UnitMessage.Restart => R(UnitAction.Answer),
                    UnitMessage.Signal => R(UnitAction.Signal),
                    UnitMessage.WaitExit => R(UnitAction.WaitExit),
                    UnitMessage.Status => R(UnitAction.UpdateStatus, s),
                    UnitMessage.Escalated or UnitMessage.LeftoversCleaned or UnitMessage.LogNews or UnitMessage.ActionRan => R(UnitAction.Note, s),
                    UnitMessage.Fault => R(UnitAction.Abort, UnitState.Aborting, UnitState.Stopped),
                    _ => R(UnitAction.Ignore),
                };

        var start = R(UnitAction.Launch, [.. Launched]);
        var markStopped = R(UnitAction.MarkStopped, UnitState.Stopped);
        var toStopping = R(UnitAction.Redirect, UnitState.Stopping);
        var toRestarting = R(UnitAction.Redirect, UnitState.Restarting);
        var escalate = R(UnitAction.Escalate, UnitState.Stopping);

        Row(UnitState.Initial,
            (UnitMessage.Start, start), (UnitMessage.Restart, start), (UnitMessage.Stop, markStopped), (UnitMessage.Kill, markStopped),
            (UnitMessage.Attach, R(UnitAction.Adopt, UnitState.Running)));
        Row(UnitState.Running,
            (UnitMessage.Stop, R(UnitAction.BeginStop, UnitState.Stopping)), (UnitMessage.Kill, R(UnitAction.BeginStop, UnitState.Stopping)),
            (UnitMessage.Restart, R(UnitAction.BeginStop, UnitState.Restarting)), (UnitMessage.Release, R(UnitAction.Release, UnitState.Released)),
            (UnitMessage.Exited, R(UnitAction.Decide, [.. Policy])),
            // The unhealthy event is published while still running, then the stop begins.
            (UnitMessage.ProbeFailed, R(UnitAction.BeginStop, UnitState.Running, UnitState.StoppingUnhealthy)),
            (UnitMessage.ProbeNews, R(UnitAction.Probe, UnitState.Running)),
            // An external unit's pidfile or service may name a new process: the unit follows it and stays running.
            (UnitMessage.AttachPoll, R(UnitAction.Follow, UnitState.Running)));
        Row(UnitState.Waiting,
            (UnitMessage.Start, start), (UnitMessage.Restart, start), (UnitMessage.Stop, markStopped), (UnitMessage.Kill, markStopped),
            (UnitMessage.Release, R(UnitAction.Retire, UnitState.Exited)),
            (UnitMessage.AttachPoll, R(UnitAction.Follow, UnitState.Running, UnitState.Waiting, UnitState.Exited)));
        Row(UnitState.Stopping,
            (UnitMessage.Start, toRestarting), (UnitMessage.Restart, toRestarting), (UnitMessage.Stop, R(UnitAction.Join)), (UnitMessage.Kill, escalate),
            (UnitMessage.Exited, R(UnitAction.RecordExit, UnitState.Stopping)),
            (UnitMessage.StopDone, R(UnitAction.FinishStop, UnitState.Stopping, UnitState.Stopped)));
        Row(UnitState.Restarting,
            (UnitMessage.Stop, toStopping), (UnitMessage.Kill, escalate), (UnitMessage.Release, toStopping),
            (UnitMessage.Exited, R(UnitAction.RecordExit, UnitState.Restarting)),
            (UnitMessage.StopDone, R(UnitAction.FinishThenLaunch, [UnitState.Restarting, .. Launched])));
        Row(UnitState.StoppingUnhealthy,
            (UnitMessage.Start, toRestarting), (UnitMessage.Restart, toRestarting), (UnitMessage.Stop, toStopping), (UnitMessage.Kill, escalate),
            (UnitMessage.Release, toStopping),
            (UnitMessage.Exited, R(UnitAction.RecordExit, UnitState.StoppingUnhealthy)),
            (UnitMessage.StopDone, R(UnitAction.FinishThenDecide, [UnitState.StoppingUnhealthy, .. Policy])));
        foreach (var waiting in new[] { UnitState.Backoff, UnitState.SlowRetry })
            Row(waiting,
                (UnitMessage.Start, start), (UnitMessage.Restart, start), (UnitMessage.Timer, start),
                (UnitMessage.Stop, markStopped), (UnitMessage.Kill, markStopped), (UnitMessage.Release, R(UnitAction.Retire, UnitState.Exited)));
        foreach (var ended in new[] { UnitState.Exited, UnitState.Failed })
            Row(ended, (UnitMessage.Start, start), (UnitMessage.Restart, start), (UnitMessage.Stop, markStopped), (UnitMessage.Kill, markStopped));
        Row(UnitState.Stopped,
            (UnitMessage.Start, start), (UnitMessage.Restart, start),
            // A process that survived SIGKILL (disk sleep) and is only now gone.
            (UnitMessage.Exited, R(UnitAction.RecordExit, UnitState.Stopped)));
        Row(UnitState.Released,
            (UnitMessage.Stop, R(UnitAction.BeginStop, UnitState.Stopping)), (UnitMessage.Kill, R(UnitAction.BeginStop, UnitState.Stopping)),
            (UnitMessage.Exited, R(UnitAction.Decide, UnitState.Exited)));
        Row(UnitState.Aborting,
            (UnitMessage.Stop, R(UnitAction.Join)), (UnitMessage.Kill, R(UnitAction.Join)),
            (UnitMessage.Exited, R(UnitAction.RecordExit, UnitState.Aborting)),
            (UnitMessage.StopDone, R(UnitAction.FinishStop, UnitState.Aborting, UnitState.Stopped)),
            // An error while aborting: stop waiting for the kill, end stopped at once.
            (UnitMessage.Fault, R(UnitAction.Abort, UnitState.Stopped)));
        return t;
    }

    /// <summary>What a unit in <paramref name="state"/> does with <paramref name="message"/>.</summary>
    public static UnitRule Rule(UnitState state, UnitMessage message) => Table[(int)state, (int)message];

    /// <summary>True when some message moves a unit from <paramref name="from"/> to <paramref name="to"/> (or, for
    /// <c>from == to</c>, publishes an event without moving).</summary>
    public static bool IsAllowed(UnitState from, UnitState to) => Messages.Any(m => Rule(from, m).Allows(to));

    /// <summary>States in which no process runs and none is scheduled.</summary>
    public static bool IsTerminal(UnitState s) => s is UnitState.Exited or UnitState.Stopped or UnitState.Failed or UnitState.Initial;

    /// <summary>The state as the CLI and the control protocol spell it: lower case, dashed (<c>slow-retry</c>).</summary>
    public static string Name(this UnitState s) => s switch
    {
        UnitState.SlowRetry => "slow-retry",
        UnitState.StoppingUnhealthy => "stopping-unhealthy",
        _ => s.ToString().ToLowerInvariant(),
    };
}
