namespace Vigil.Specs;

/// <summary>
/// An external unit: a process Vigil did not start and never starts, named by <see cref="Pid"/>, by a
/// <see cref="PidFile"/> its own manager writes, or by a systemd service's MainPID. Vigil watches it (pidfd), runs its
/// probes and their actions, and reports it; a pidfile or service that names a new process is followed.
/// Exactly one of the three is given.
/// </summary>
public sealed record AttachSpec
{
    /// <summary>Why <c>restart</c> is refused beside <c>attach</c>: refused rather than ignored, since a restart policy on
    /// a process Vigil cannot start would read like a promise.</summary>
    public const string RestartRefused = "an external unit is never restarted by Vigil (its own manager restarts it): remove restart";

    /// <summary>The default for <see cref="Poll"/>.</summary>
    public static readonly TimeSpan DefaultPoll = TimeSpan.FromSeconds(1);

    /// <summary><c>pid: N</c>: that process, once; when it exits the unit is exited (nothing can name its successor).</summary>
    public int? Pid { get; init; }

    /// <summary><c>pidfile: PATH</c>: the process whose PID the file holds (first line, decimal), re-read every <see cref="Poll"/>.</summary>
    public string? PidFile { get; init; }

    /// <summary><c>systemd: NAME.service</c>: the service's MainPID (<c>systemctl show -p MainPID --value NAME</c>).</summary>
    public string? Systemd { get; init; }

    /// <summary><c>probe: cops</c>: the PID the process itself reports through the unit's probe of that kind (COPS's
    /// replies carry it); asked by the probe's provider (<c>Health.IPidSource</c>) while the unit waits.</summary>
    public string? Probe { get; init; }

    /// <summary>How often a pidfile or service is asked again for its PID (to follow a restart by its manager).</summary>
    public TimeSpan Poll { get; init; } = DefaultPoll;

    /// <summary>True when the target can change (pidfile, systemd): the unit follows it rather than ending with the process.</summary>
    public bool Follows => Pid is null;

    /// <summary>What names the process, for events: <c>pid 42</c>, <c>pidfile /run/x.pid</c>, <c>systemd x.service</c>.</summary>
    public string Describe() => Pid is { } p ? $"pid {p}" : PidFile is { } f ? $"pidfile {f}" : Probe is { } k ? $"the pid its {k} probe reports" : $"systemd {Systemd}";

    /// <summary>Problems, keys relative to <c>attach</c>; empty when valid.</summary>
    public IEnumerable<SpecError> Validate()
    {
        int given = (Pid is null ? 0 : 1) + (PidFile is null ? 0 : 1) + (Systemd is null ? 0 : 1) + (Probe is null ? 0 : 1);
        if (given != 1) yield return new("", given == 0 ? "give one of pid, pidfile or systemd" : "give only one of pid, pidfile, systemd or probe");
        if (Probe is { Length: 0 }) yield return new("probe", "must name a probe kind of the unit, like cops");
        if (Pid is <= 0) yield return new("pid", $"must be a positive process id, got {Pid}");
        if (PidFile is { Length: 0 }) yield return new("pidfile", "must not be empty");
        if (Limits.HasNul(PidFile)) yield return new("pidfile", Limits.NulMessage);
        if (Systemd is { } unit && (unit.Length == 0 || unit.StartsWith('-') || unit.Any(c => char.IsWhiteSpace(c) || c == '\0')))
            yield return new("systemd", $"expected a unit name like legacy.service, got '{unit.Replace("\0", "\\0")}'");
        if (Poll <= TimeSpan.Zero) yield return new("poll", "must be more than 0");
        if (Limits.TimerWait(Poll, "poll") is { } e) yield return e;
    }
}
