using System.Collections.Immutable;

namespace Vigil.Specs;

// The probe specs: plain data, validated with the process spec. The probes that carry them out are in Health.

/// <summary>What a probe's verdict is used for (Kubernetes semantics).</summary>
public enum ProbeRole
{
    /// <summary>A failure is a failure of the unit: the <see cref="ProbeSpec.Action"/> runs (restart by default).</summary>
    Liveness,
    /// <summary>Only marks the unit ready or not ready (events); never restarts it.</summary>
    Readiness,
    /// <summary>Holds liveness and readiness probes back until it first succeeds; failing it is a liveness failure.</summary>
    Startup,
}

/// <summary>What happens when a liveness (or startup) probe fails.</summary>
public enum ProbeAction
{
    /// <summary>Graceful stop of the tree (stop signal, grace, SIGKILL), then the restart policy as for a crash.</summary>
    Restart,
    /// <summary>COPS-style: SIGKILL the whole tree at once; the restart policy (or an outside manager) brings it back.</summary>
    Kill,
    /// <summary>An event only; the process keeps running.</summary>
    Notify,
    /// <summary>Runs <see cref="ProbeSpec.ActionCommand"/> with the event in its environment; the process keeps running.</summary>
    Exec,
}

/// <summary>
/// One health probe of a unit: the common timing and threshold settings plus the kind's own settings in
/// <see cref="Check"/>. Immutable; validated with the process spec.
/// </summary>
public sealed record ProbeSpec(ProbeCheck Check)
{
    /// <summary>Shown in events: the kind, or <c>kind#index</c> when a unit has several of one kind.</summary>
    public string Name { get; init; } = Check.Kind;
    public ProbeRole Role { get; init; } = ProbeRole.Liveness;
    public ProbeAction Action { get; init; } = ProbeAction.Restart;
    /// <summary>For <see cref="ProbeAction.Exec"/>: the argv to run (no shell unless written).</summary>
    public ImmutableArray<string> ActionCommand { get; init; } = [];

    /// <summary>Time between the starts of two checks.</summary>
    public TimeSpan Period { get; init; } = Check.DefaultPeriod;
    /// <summary>For request kinds (exec, http, tcp, sql…) the deadline of one check; for stall kinds
    /// (<see cref="ProbeCheck.TimeoutIsStallWindow"/>) how long the sign of life may be missing.</summary>
    public TimeSpan Timeout { get; init; } = Check.DefaultTimeout;
    public TimeSpan InitialDelay { get; init; } = TimeSpan.Zero;
    /// <summary>Consecutive failed checks before the probe fails.</summary>
    public int FailureThreshold { get; init; } = Check.DefaultFailureThreshold;
    /// <summary>Consecutive good checks before a failed probe counts as healthy (readiness: ready) again.</summary>
    public int SuccessThreshold { get; init; } = 1;

    /// <summary>The deadline for one check: <see cref="Timeout"/> for request kinds; for stall kinds the period
    /// (at least 1 s), since their timeout is a window, not a deadline.</summary>
    public TimeSpan CheckDeadline => Check.TimeoutIsStallWindow ? (Period > TimeSpan.FromSeconds(1) ? Period : TimeSpan.FromSeconds(1)) : Timeout;

    /// <summary>Problems with the probe, keys relative to it (<c>period</c>, <c>url</c>); empty when valid.</summary>
    public IEnumerable<SpecError> Validate()
    {
        if (Period <= TimeSpan.Zero) yield return new("period", "must be more than 0");
        if (Timeout <= TimeSpan.Zero) yield return new("timeout", "must be more than 0");
        if (InitialDelay < TimeSpan.Zero) yield return new("initialDelay", "must not be negative");
        if (FailureThreshold < 1) yield return new("failureThreshold", "must be at least 1");
        if (SuccessThreshold < 1) yield return new("successThreshold", "must be at least 1");
        if (FailureThreshold > Limits.MaxThreshold) yield return new("failureThreshold", $"must be at most {Limits.MaxThreshold:N0}");
        if (SuccessThreshold > Limits.MaxThreshold) yield return new("successThreshold", $"must be at most {Limits.MaxThreshold:N0}");
        foreach (var (d, key) in new[] { (Period, "period"), (Timeout, "timeout"), (InitialDelay, "initialDelay") })
            // sd-notify's timeout defaults to its watchdog, whose own check already names the key the user wrote.
            if (!(key == "timeout" && Check is SdNotifyCheck { Watchdog: { } w } && w == d) && Limits.TimerWait(d, key) is { } e) yield return e;
        foreach (var e in Limits.NulIn(ActionCommand, "action.exec")) yield return e;
        if (Role == ProbeRole.Startup && SuccessThreshold != 1) yield return new("successThreshold", "must be 1 for a startup probe (as in Kubernetes)");
        if (Action == ProbeAction.Exec && ActionCommand.IsDefaultOrEmpty) yield return new("action", "exec needs a command: action: { exec: [cmd, args…] }");
        foreach (var e in Check.Validate()) yield return e;
    }
}

/// <summary>The kind-specific part of a probe: plain data. Built-in kinds are the records below; a library user may give
/// <c>Health.CustomCheck</c> (any probe object), and a transport adds its own kinds: a record deriving from this one,
/// a config syntax (<c>Config.ProbeKind</c>) and a probe provider (<c>Health.IProbeProvider</c>).</summary>
public abstract record ProbeCheck
{
    /// <summary>The config name: exec, http, tcp, heartbeat-file, …</summary>
    public abstract string Kind { get; }
    /// <summary>True when <c>timeout</c> is how long a sign of life may be missing (heartbeat-file, output-stall,
    /// progress, sd-notify), false when it bounds one check (exec, http, tcp).</summary>
    public virtual bool TimeoutIsStallWindow => false;
    public virtual TimeSpan DefaultPeriod => TimeSpan.FromSeconds(10);
    public virtual TimeSpan DefaultTimeout => TimeSpan.FromSeconds(1);
    public virtual int DefaultFailureThreshold => 3;
    /// <summary>Problems with the kind's own settings, keys relative to the probe (<c>url</c>); empty when valid.</summary>
    public virtual IEnumerable<SpecError> Validate() => [];
}

/// <summary>Probe kinds whose timeout is a stall window: one missed window is the failure, and the default
/// period is a fraction of the window so a stall is seen within timeout + one period.</summary>
public abstract record StallCheck : ProbeCheck
{
    public override bool TimeoutIsStallWindow => true;
    public override TimeSpan DefaultTimeout => TimeSpan.FromSeconds(30);
    public override TimeSpan DefaultPeriod => TimeSpan.FromSeconds(5);
    public override int DefaultFailureThreshold => 1;
}

/// <summary><c>exec</c>: run a command in its own process group; exit 0 is healthy. Killed at the timeout.</summary>
public sealed record ExecCheck(ImmutableArray<string> Command) : ProbeCheck
{
    public override string Kind => "exec";
    public override IEnumerable<SpecError> Validate()
    {
        if (Command.IsDefaultOrEmpty || string.IsNullOrWhiteSpace(Command[0])) yield return new("command", "an exec probe needs a command");
        foreach (var e in Limits.NulIn(Command, "command")) yield return e;
    }
}

/// <summary><c>http</c>: GET <see cref="Url"/>; healthy when the status is in [<see cref="StatusMin"/>, <see cref="StatusMax"/>]
/// and, if given, the body contains <see cref="BodyContains"/>.</summary>
public sealed record HttpCheck(Uri Url) : ProbeCheck
{
    public override string Kind => "http";
    public int StatusMin { get; init; } = 200;
    public int StatusMax { get; init; } = 399;
    public string? BodyContains { get; init; }
    public override IEnumerable<SpecError> Validate()
    {
        if (Url.Scheme is not ("http" or "https")) yield return new("url", $"expected an http:// or https:// URL, got '{Url}'");
        if (Limits.HasNul(Url.OriginalString)) yield return new("url", Limits.NulMessage);
        if (Limits.HasNul(BodyContains)) yield return new("body", Limits.NulMessage);
        if (StatusMin < 100 || StatusMax > 599 || StatusMin > StatusMax) yield return new("status", $"expected a range within 100-599, got {StatusMin}-{StatusMax}");
    }
}

/// <summary><c>tcp</c>: a connection to host:port is accepted within the timeout.</summary>
public sealed record TcpCheck(string Host, int Port) : ProbeCheck
{
    public override string Kind => "tcp";
    public override IEnumerable<SpecError> Validate()
    {
        if (string.IsNullOrWhiteSpace(Host)) yield return new("address", "the host is empty");
        if (Limits.HasNul(Host)) yield return new("address", Limits.NulMessage);
        if (Port is < 1 or > 65535) yield return new("address", $"port {Port} is outside 1-65535");
    }
}

/// <summary><c>heartbeat-file</c>: the file's modification time must advance within the timeout.</summary>
public sealed record HeartbeatFileCheck(string Path) : StallCheck
{
    public override string Kind => "heartbeat-file";
    public override IEnumerable<SpecError> Validate()
    {
        if (Limits.HasNul(Path)) yield return new("path", Limits.NulMessage);
    }
}

/// <summary><c>output-stall</c>: a new stdout or stderr line must arrive within the timeout.</summary>
public sealed record OutputStallCheck : StallCheck
{
    public override string Kind => "output-stall";
}

/// <summary><c>progress</c>: a number read from <see cref="Source"/> must grow within the timeout.</summary>
public sealed record ProgressCheck(ProgressSource Source) : StallCheck
{
    public override string Kind => "progress";
    public override TimeSpan DefaultTimeout => TimeSpan.FromMinutes(5);
    public override TimeSpan DefaultPeriod => TimeSpan.FromSeconds(30);
    public override IEnumerable<SpecError> Validate()
    {
        var problem = Source switch
        {
            ProgressSource.Exec e => Limits.NulIn(e.Command, "exec").FirstOrDefault(),
            ProgressSource.FileSize f when Limits.HasNul(f.Path) => new SpecError("file", Limits.NulMessage),
            ProgressSource.FileLines l when Limits.HasNul(l.Path) => new SpecError("lines", Limits.NulMessage),
            ProgressSource.HttpJson h when Limits.HasNul(h.Url.OriginalString) || Limits.HasNul(h.Field) => new SpecError("http", Limits.NulMessage),
            ProgressSource.Sql q when Limits.HasNul(q.Connection) || Limits.HasNul(q.Query) => new SpecError("sql", Limits.NulMessage),
            _ => null,
        };
        if (problem is not null) yield return problem;
    }
}

/// <summary>Where a progress probe reads its number.</summary>
public abstract record ProgressSource
{
    /// <summary>The first number in the command's stdout.</summary>
    public sealed record Exec(ImmutableArray<string> Command) : ProgressSource;
    /// <summary>The file's size in bytes.</summary>
    public sealed record FileSize(string Path) : ProgressSource;
    /// <summary>The file's line count.</summary>
    public sealed record FileLines(string Path) : ProgressSource;
    /// <summary>A numeric field (dotted path, e.g. <c>stats.processed</c>) of a JSON response to GET <see cref="Url"/>.</summary>
    public sealed record HttpJson(Uri Url, string Field) : ProgressSource;
    /// <summary>The first column of the first row of <see cref="Query"/>.</summary>
    public sealed record Sql(SqlProvider Provider, string Connection, string Query) : ProgressSource;
    /// <summary>A library delegate returning the number (the Process Watcher's <c>set_progress_checker</c>).</summary>
    public sealed record Custom(Func<CancellationToken, ValueTask<double>> Read) : ProgressSource;
}

public enum SqlProvider { Sqlite, Postgres }

/// <summary><c>memory</c>: RSS of the whole process tree over <see cref="MaxBytes"/> for failureThreshold samples in a row.</summary>
public sealed record MemoryCheck(long MaxBytes) : ProbeCheck
{
    public override string Kind => "memory";
    public override TimeSpan DefaultPeriod => TimeSpan.FromSeconds(5);
    public override IEnumerable<SpecError> Validate()
    {
        if (MaxBytes <= 0) yield return new("max", "must be more than 0");
    }
}

/// <summary><c>cpu</c>: the tree's share of one core (100% = one core) over <see cref="MaxPercent"/> for the whole
/// <see cref="Window"/> (spinning), or under <see cref="MinPercent"/> for the window (stuck).</summary>
public sealed record CpuCheck(double? MaxPercent, double? MinPercent, TimeSpan Window) : ProbeCheck
{
    public override string Kind => "cpu";
    /// <summary>A quarter of the window (between 100 ms and 5 s), so a verdict comes within window + one period.</summary>
    public override TimeSpan DefaultPeriod => TimeSpan.FromTicks(Math.Clamp(Window.Ticks / 4, TimeSpan.FromMilliseconds(100).Ticks, TimeSpan.FromSeconds(5).Ticks));
    public override int DefaultFailureThreshold => 1;
    public override IEnumerable<SpecError> Validate()
    {
        if (MaxPercent is null && MinPercent is null) yield return new("max/min", "give max (e.g. 95%) or min (e.g. 1%) or both");
        if (MaxPercent is <= 0 || MinPercent is < 0) yield return new("max/min", "must be positive percentages");
        if (MaxPercent > Limits.MaxCpuPercent || MinPercent > Limits.MaxCpuPercent)
            yield return new("max/min", $"must be at most {Limits.MaxCpuPercent:0}% (1024 cores)");
        if (Window <= TimeSpan.Zero) yield return new("window", "must be more than 0");
        if (Limits.TimerWait(Window, "window") is { } w) yield return w;
    }
}

/// <summary>Which processes of a unit may send sd-notify messages (systemd's <c>NotifyAccess=</c>, see
/// systemd.service(5)). Messages from any other process are ignored and counted.</summary>
public enum NotifyAccess
{
    /// <summary>Only the unit's main process (the one Vigil started or attached), systemd's default for
    /// <c>Type=notify</c>.</summary>
    Main,
    /// <summary>The main process and any process of the unit: its descendants and the members of its session.</summary>
    All,
}

/// <summary><c>sd-notify</c>: Vigil gives the child NOTIFY_SOCKET; <c>READY=1</c> marks it ready; with
/// <see cref="Watchdog"/> it sets WATCHDOG_USEC and expects <c>WATCHDOG=1</c> within it.</summary>
public sealed record SdNotifyCheck(TimeSpan? Watchdog) : StallCheck
{
    public override string Kind => "sd-notify";
    /// <summary>Whose messages count (config <c>notifyAccess: main|all</c>).</summary>
    public NotifyAccess Access { get; init; } = NotifyAccess.Main;
    public override TimeSpan DefaultPeriod => Watchdog is { } w && w < TimeSpan.FromSeconds(4) ? w / 4 : TimeSpan.FromSeconds(1);
    public override TimeSpan DefaultTimeout => Watchdog ?? TimeSpan.FromSeconds(30);
    public override IEnumerable<SpecError> Validate()
    {
        if (Watchdog is { } w && w <= TimeSpan.Zero) yield return new("watchdog", "must be more than 0");
        if (Watchdog is { } x && Limits.TimerWait(x, "watchdog") is { } e) yield return e;
    }
}
