using Microsoft.Extensions.Logging;
using Vigil.Launching;

namespace Vigil.Supervision;

public sealed partial class Unit
{
    /// <summary>Sets the spec's CPU affinity on a new run's process: at once, or after its delay (Ligato's
    /// cpu_affinity_delay), on a timer of the unit's clock. A process that has ended meanwhile is left alone; a failure
    /// is logged (the process runs on, unpinned, as under Ligato).</summary>
    private void ApplyAffinity(IProcessHandle p)
    {
        _affinityTimer?.Dispose(); // an earlier run's, if it has not fired
        _affinityTimer = null;
        if (Spec.CpuAffinity is not { } affinity) return;
        if (affinity.Delay <= TimeSpan.Zero) Pin(p, affinity);
        // Held in a field: an unreferenced timer may be collected before it fires.
        else _affinityTimer = _time.CreateTimer(_ => Pin(p, affinity), null, affinity.Delay, Timeout.InfiniteTimeSpan);
    }

    private ITimer? _affinityTimer;

    private void Pin(IProcessHandle p, Specs.CpuAffinity affinity)
    {
        // The handle's exit is known from its pidfd, so a reused PID is never pinned.
        if (p.HasExited) return;
        if (CpuAffinityApplier.Apply(p.Pid, affinity.Cpus) is { } why) AffinityLog.Failed(_owner.Log, Name, p.Pid, affinity.ListText, why);
    }

    private static partial class AffinityLog
    {
        [LoggerMessage(210, LogLevel.Warning, "{Unit}#{Pid}: cannot set the CPU affinity {Cpus}: {Reason}; it runs on the CPUs it inherited", EventName = "AffinityFailed")]
        public static partial void Failed(ILogger logger, string unit, int pid, string cpus, string reason);
    }
}
