namespace Vigil.Supervision;

// Events about the registry itself (units coming and going), published by the Supervisor rather than by a unit's
// loop. A consumer that keeps a list of units by id (a dashboard, the control server's history) drops a unit on
// `removed` and `reload-removed`, adds one on `reload-added`, and swaps ReplacedUnitId for UnitId on `reload-changed`.

/// <summary>The unit was stopped and forgotten (<see cref="Supervisor.RemoveAsync"/>): it is no longer in
/// <see cref="Supervisor.Units"/>.</summary>
/// <param name="Survivors">Processes of its last run that outlived even SIGKILL (normally none).</param>
public sealed record Removed(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, IReadOnlyList<int> Survivors)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => "removed";
    public override string Reason => "stopped and removed" + SurvivorNote(Survivors);

    internal static string SurvivorNote(IReadOnlyList<int> survivors) => survivors.Count == 0 ? ""
        : $", but {survivors.Count} process(es) survived SIGKILL: {string.Join(", ", survivors)}";
}

/// <summary>A reload found a unit that the running set did not have: it was added and is being started.</summary>
public sealed record ReloadAdded(DateTimeOffset Time, int UnitId, string Name, UnitState State)
    : UnitEvent(Time, UnitId, Name, null, State)
{
    public override string Kind => "reload-added";
    public override string Reason => "new in the config; starting";
}

/// <summary>A reload found a unit's config changed: the unit <see cref="ReplacedUnitId"/> was stopped and removed, and
/// <see cref="UnitEvent.UnitId"/> is the unit for the new config, being started. When only its hooks changed, the unit
/// keeps running and both ids are its own.</summary>
/// <param name="Fields">The config keys that differ: command, env, restart, health, …</param>
public sealed record ReloadChanged(DateTimeOffset Time, int UnitId, string Name, UnitState State, int ReplacedUnitId, IReadOnlyList<string> Fields)
    : UnitEvent(Time, UnitId, Name, null, State)
{
    public override string Kind => "reload-changed";
    public override string Reason => ReplacedUnitId == UnitId
        ? $"config changed ({string.Join(", ", Fields)}); applied to the running unit, no restart"
        : $"config changed ({string.Join(", ", Fields)}); unit #{ReplacedUnitId} replaced by #{UnitId}, starting";
}

/// <summary>A reload found a unit that the config no longer has: it was stopped and removed.</summary>
public sealed record ReloadRemoved(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, IReadOnlyList<int> Survivors)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => "reload-removed";
    public override string Reason => "no longer in the config; stopped and removed" + Removed.SurvivorNote(Survivors);
}
