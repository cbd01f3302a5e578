using Vigil.Supervision;

namespace Vigil.Hooks;

/// <summary>A hook run failed: <see cref="Why"/> says how (exit status and first output lines, the HTTP status, a
/// refused connection, the timeout, no MQTT connection). It runs no hooks itself.</summary>
/// <param name="Event">The kind of the event the hook ran for.</param>
/// <param name="Hook">Which hook: <c>exec notify-send</c>, <c>webhook http://…/alert</c>, <c>mqtt vigil/events</c>.</param>
public sealed record HookFailed(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, string Event, string Hook, string Why)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => Specs.HookEvents.HookFailed;
    public override string Reason => $"{Event} hook {Hook} failed: {Why}";
}

/// <summary>Hook runs were dropped because the queue of runs waiting was full (hooks slower than the events that call
/// them); published with the next run that finds room. It runs no hooks itself.</summary>
public sealed record HooksDropped(DateTimeOffset Time, int UnitId, string Name, UnitState State, long Dropped, int Capacity)
    : UnitEvent(Time, UnitId, Name, null, State)
{
    public override string Kind => Specs.HookEvents.HooksDropped;
    public override string Reason => $"{Dropped} hook run(s) dropped: {Capacity} were waiting already (the hooks are slower than the events)";
}
