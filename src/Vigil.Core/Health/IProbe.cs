using Vigil.Launching;
using Vigil.Specs;

namespace Vigil.Health;

/// <summary>The verdict of one check. Probes return these and never throw.</summary>
/// <param name="Healthy">True when the check passed.</param>
/// <param name="Detail">Why, in words a user reads in an event: <c>hung: no output for 2m</c>, <c>HTTP 503</c>.</param>
/// <param name="Gauges">Numbers the check observed (fps, round trip…), published as the unit's gauges.</param>
public readonly record struct ProbeResult(bool Healthy, string Detail, IReadOnlyDictionary<string, double>? Gauges = null)
{
    /// <summary>The check could not tell either way, because what it goes through to reach the target is down (the
    /// Tether broker), not the target: the runner neither counts it as a failure nor as a pass, and reports the probe
    /// paused until a check tells again. <see cref="Healthy"/> is false.</summary>
    public bool IsInconclusive { get; init; }

    /// <summary>Something the check saw that is news whatever the verdict (COPS: the process now answers with another
    /// PID, so someone restarted it): published as a <c>probe-notice</c> event. Null: nothing.</summary>
    public string? Notice { get; init; }

    public static ProbeResult Ok(string detail = "ok", IReadOnlyDictionary<string, double>? gauges = null) => new(true, detail, gauges);
    public static ProbeResult Fail(string detail, IReadOnlyDictionary<string, double>? gauges = null) => new(false, detail, gauges);
    /// <summary>See <see cref="IsInconclusive"/>; <paramref name="detail"/> says why (<c>tether broker unreachable: …</c>).</summary>
    public static ProbeResult Inconclusive(string detail) => new(false, detail) { IsInconclusive = true };
}

/// <summary>
/// One health check of a unit's current run. A probe is created for each run (so it may keep state, such as the
/// last progress seen) and disposed when the run ends. <see cref="CheckAsync"/> must honour
/// <paramref name="cancel"/> (the runner cancels it at the check deadline); it is also abandoned just after if it does
/// not, so a hung target can never block Vigil.
/// </summary>
public interface IProbe : IAsyncDisposable
{
    ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel);
}

/// <summary>A probe whose check answers at once, from memory or one read of /proc or the file system (output-stall,
/// heartbeat-file, memory, cpu, sd-notify): the runner skips arming its deadline timer for it, two timer-queue changes
/// per check. (Such a check could not be interrupted by its token anyway; one that does not complete at once is still
/// abandoned after its deadline.)</summary>
internal interface IImmediateProbe : IProbe;

/// <summary>A probe that also works between checks (sd-notify's receive loop) and needs its target as soon as the run
/// starts: before any initial delay, startup gate or first check.</summary>
internal interface IRunBoundProbe : IProbe
{
    /// <summary>Called once, right after the spawn, with the run's target. Must not block or throw.</summary>
    void RunStarted(ProbeTarget target);
}

/// <summary>What a probe may look at: the run it watches. Read-only; the same object for every check of a run.</summary>
public sealed class ProbeTarget
{
    public required string UnitName { get; init; }
    /// <summary>The main process.</summary>
    public required int Pid { get; init; }
    /// <summary>Its session (and process group) id; every process of the run is in it unless it called setsid.</summary>
    public required int Session { get; init; }
    public required ProbeSpec Spec { get; init; }
    public required TimeProvider Time { get; init; }
    /// <summary><see cref="TimeProvider.GetTimestamp"/> when the run started.</summary>
    public required long StartedAt { get; init; }
    /// <summary>The unit's working directory (relative probe paths and commands resolve against it).</summary>
    public required string WorkingDirectory { get; init; }
    /// <summary>The <see cref="TimeProvider.GetTimestamp"/> of the last stdout/stderr line of this run, or null before the first.</summary>
    public required Func<long?> LastOutputAt { get; init; }
    /// <summary>For probes that run commands (exec, progress exec, action exec).</summary>
    public required ILauncher Launcher { get; init; }
    /// <summary>A probe that learns readiness out of band (sd-notify's READY=1) reports it here.</summary>
    public Action<bool, string> ReportReady { get; init; } = (_, _) => { };
}

/// <summary>Creates the probe for a check kind. Vigil.Core provides the built-in kinds; a transport such as
/// Vigil.Tether registers its own (through <see cref="Supervision.SupervisorOptions.ProbeProviders"/>).</summary>
public interface IProbeProvider
{
    /// <summary>A new probe for one run, or null when this provider does not know the check's kind.</summary>
    /// <param name="environment">Variables to add to the child's environment (sd-notify's NOTIFY_SOCKET), set before the spawn.</param>
    IProbe? Create(ProbeSpec spec, string unitName, IDictionary<string, string> environment);
}

/// <summary>A probe provider whose probes learn the target's PID from the target itself (COPS's replies): it can also
/// answer, outside a run, which process answers now, for an external unit with <c>attach: { probe: KIND }</c>.</summary>
public interface IPidSource
{
    /// <summary>The PID the process of <paramref name="spec"/> reports now, or null and why not.</summary>
    Task<(int? Pid, string Why)> ReportedPidAsync(ProbeSpec spec, string unitName, CancellationToken cancel);
}
