using System.Collections.Immutable;

namespace Vigil.Specs;

/// <summary>
/// Everything needed to run one unit. Immutable: change it with <c>with { … }</c>. <see cref="Validate"/> runs when
/// a <see cref="Supervision.Supervisor"/> accepts it (and when config is loaded), so a bad spec never half-starts.
/// </summary>
public sealed record ProcessSpec
{
    /// <summary>Optional and may repeat: an action on a name applies to every unit with it.</summary>
    public string? Name { get; init; }

    /// <summary>The argv to exec; argv[0] is looked up in PATH. No shell unless the user writes one. Exclusive with <see cref="Script"/>.</summary>
    public ImmutableArray<string> Command { get; init; } = [];

    /// <summary>A script run by the interpreter its extension names (.js node, .py python3, .dll dotnet, .sh bash).</summary>
    public string? Script { get; init; }

    /// <summary>Arguments appended after the command or script.</summary>
    public ImmutableArray<string> Args { get; init; } = [];

    /// <summary>Working directory; null = Vigil's current folder. Relative paths are resolved against Vigil's current folder.</summary>
    public string? Cwd { get; init; }

    /// <summary>Environment overrides on top of Vigil's own environment; a null value removes the variable.</summary>
    public ImmutableDictionary<string, string?> Env { get; init; } = ImmutableDictionary<string, string?>.Empty;

    public RestartSpec Restart { get; init; } = RestartSpec.Default;
    public StopSpec Stop { get; init; } = StopSpec.Default;

    /// <summary>Log files, line format, rotation and the in-memory ring; null = no file (the ring still keeps 1000 lines).</summary>
    public LogSpec? Log { get; init; }

    /// <summary>Health probes (liveness, readiness, startup), checked while a process runs.</summary>
    public ImmutableArray<ProbeSpec> Health { get; init; } = [];

    /// <summary>A detached unit is not stopped when Vigil exits, and its output goes to /dev/null rather than a pipe
    /// (a pipe would deliver SIGPIPE to it once Vigil is gone).</summary>
    public bool Detach { get; init; }

    /// <summary>Start the process with a Node IPC channel (as child_process.fork), and stop it by first sending
    /// <c>{"stopping":true}</c> on it; null = only for a script run by node (elife's rule).</summary>
    public bool? Ipc { get; init; }

    /// <summary>This unit's <c>hooks:</c>, run besides the top-level ones; null = none.</summary>
    public HookSet? Hooks { get; init; }

    /// <summary>False: the unit is defined but not started with Vigil (state initial; <c>vigil start NAME</c> starts
    /// it), as a Ligato template without <c>run_on_startup</c>.</summary>
    public bool Autostart { get; init; } = true;

    /// <summary>The CPUs the process may run on, set on the child after it is spawned; null = inherited from Vigil.</summary>
    public CpuAffinity? CpuAffinity { get; init; }
    /// <summary>Run on a pseudo-terminal of this size (<c>tty: true</c>); null = pipes. Output is still captured by
    /// line, stdout and stderr merged (a terminal has one stream).</summary>
    public TerminalSpec? Tty { get; init; }

    /// <summary>Run inside a window of this tmux session on Vigil's own tmux server (an operator can attach to it);
    /// null = not in tmux. Output is still captured, stdout and stderr merged (a tmux pane is a terminal).</summary>
    public TmuxSpec? Tmux { get; init; }
    /// <summary>An external unit: the process to watch instead of a command to start (exclusive with
    /// <see cref="Command"/>, <see cref="Script"/> and <see cref="Args"/>; <see cref="Restart"/> stays at its default:
    /// Vigil never starts it, its own manager does).</summary>
    public AttachSpec? Attach { get; init; }

    /// <summary>Displayed as <c>name</c>, or the command's file name when there is none.</summary>
    public string DisplayName => Name ?? (Attach is { } a ? (a.Pid is { } pid ? $"pid{pid}" : a.PidFile is { } f ? Path.GetFileNameWithoutExtension(f) : a.Probe is not null ? "external" : a.Systemd!.Replace(".service", "", StringComparison.Ordinal)) : Script is not null ? Path.GetFileName(Script) : Command.IsDefaultOrEmpty ? "?" : Path.GetFileName(Command[0]));

    /// <summary>Problems with the spec, each naming its key (shown as <c>key: message</c>); empty when valid.</summary>
    public IReadOnlyList<SpecError> Validate()
    {
        var errors = new List<SpecError>();
        bool hasCommand = !Command.IsDefaultOrEmpty, hasScript = !string.IsNullOrEmpty(Script);
        if (hasCommand && hasScript) errors.Add(new("command/script", "give either command or script, not both"));
        if (hasCommand && string.IsNullOrWhiteSpace(Command[0])) errors.Add(new("command", "the first element (the program) is empty"));
        if (Name is { Length: 0 }) errors.Add(new("name", "must not be empty (leave it out for an unnamed unit)"));
        errors.AddRange(Limits.NulIn(Command, "command"));
        errors.AddRange(Limits.NulIn(Args, "args"));
        if (Limits.HasNul(Script)) errors.Add(new("script", Limits.NulMessage));
        if (Limits.HasNul(Cwd)) errors.Add(new("cwd", Limits.NulMessage));
        foreach (var (k, v) in Env)
        {
            if (k.Length == 0 || k.Contains('=') || k.Contains('\0')) errors.Add(new("env", $"'{k.Replace("\0", "\\0")}' is not a valid variable name"));
            else if (Limits.HasNul(v)) errors.Add(new($"env.{k}", Limits.NulMessage));
        }
        if (Attach is not null)
        {
            errors.AddRange(Attach.Validate().Select(e => e.Under("attach")));
            if (hasCommand || hasScript || !Args.IsDefaultOrEmpty) errors.Add(new("attach", "an external unit runs no command: give either attach or command/script/args"));
            // Refused rather than ignored: a restart policy on a process Vigil cannot start would look like a promise.
            if (Restart != RestartSpec.Default) errors.Add(new("restart", AttachSpec.RestartRefused));
            if (Attach.Probe is { Length: > 0 } kind && (Health.IsDefaultOrEmpty || !Health.Any(h => h.Check.Kind == kind)))
                errors.Add(new("attach.probe", $"the unit has no {kind} probe to report its pid"));
            if (Detach) errors.Add(new("detach", "an external unit is never stopped when Vigil exits anyway: remove detach"));
            // What only applies to a process Vigil starts itself is refused rather than silently ignored.
            foreach (var (key, given) in new[] { ("tty", Tty is not null), ("tmux", Tmux is not null), ("ipc", Ipc == true), ("cpuAffinity", CpuAffinity is not null) })
                if (given) errors.Add(new(key, "applies to a process Vigil starts; an external unit (attach) is started by its own manager"));
        }
        errors.AddRange(Restart.Validate());
        errors.AddRange(Stop.Validate());
        if (Log is not null) errors.AddRange(Log.Validate());
        if (!Health.IsDefault)
            for (int i = 0; i < Health.Length; i++) errors.AddRange(Health[i].Validate().Select(e => e.Under($"health[{i}]")));
        if (Hooks is not null) errors.AddRange(Hooks.Validate().Select(e => e.Under("hooks")));
        if (CpuAffinity is not null) errors.AddRange(CpuAffinity.Validate());
        if (Tty is not null)
        {
            errors.AddRange(Tty.Validate());
            // A detached unit's output goes to /dev/null (see Detach): a terminal nobody reads would fill and block it.
            if (Detach) errors.Add(new("tty", "cannot be combined with detach: true (a detached unit's output is not read)"));
            if (Tmux is not null) errors.Add(new("tty", "cannot be combined with tmux (a tmux window is a terminal already; its size is tmux.columns and tmux.rows)"));
        }
        if (Tmux is not null)
        {
            errors.AddRange(Tmux.Validate());
            // Vigil kills its tmux server when it exits; a window that should outlive it would go with it.
            if (Detach) errors.Add(new("tmux", "cannot be combined with detach: true (Vigil's tmux server ends with Vigil)"));
            if (Ipc == true) errors.Add(new("ipc", "cannot be combined with tmux (tmux starts the process and passes it no channel)"));
            // The window takes the unit's name, and tmux reads '.' and ':' in a target as pane and window separators.
            if (Name is { } n && n.IndexOfAny(['.', ':']) >= 0)
                errors.Add(new("name", $"a unit in tmux names its window, and a tmux window's name cannot hold '.' or ':' (got '{n}')"));
        }
        return errors;
    }
}

public enum RestartPolicyKind { Always, OnFailure, Never }

public enum LimitAction { SlowRetry, Stop }

/// <summary>Exponential backoff: initial × multiplier^n, capped at max, ± jitter (a fraction of the delay).</summary>
public sealed record BackoffSpec(TimeSpan Initial, double Multiplier, TimeSpan Max, double Jitter = 0)
{
    public IEnumerable<SpecError> Validate()
    {
        if (Initial < TimeSpan.Zero) yield return new("restart.backoff.initial", "must not be negative");
        if (!(Multiplier >= 1) || double.IsInfinity(Multiplier)) yield return new("restart.backoff.multiplier", "must be a number ≥ 1");
        else if (Multiplier > Limits.MaxBackoffMultiplier) yield return new("restart.backoff.multiplier", $"must be at most {Limits.MaxBackoffMultiplier:0}");
        if (Max < Initial) yield return new("restart.backoff.max", "must be at least restart.backoff.initial");
        if (!(Jitter >= 0 && Jitter <= 1)) yield return new("restart.backoff.jitter", "must be between 0 and 1");
    }
}

/// <summary>The crash-loop budget: more than <paramref name="Restarts"/> restarts within <paramref name="Within"/> and
/// the unit goes to slow retry (every <paramref name="RetryEvery"/>, with an event) or stops (with an event).</summary>
public sealed record CrashLoopLimit(int Restarts, TimeSpan Within, LimitAction Then = LimitAction.SlowRetry, TimeSpan? RetryEvery = null)
{
    public static readonly TimeSpan DefaultRetryEvery = TimeSpan.FromMinutes(5);
    public TimeSpan SlowRetryDelay => RetryEvery ?? DefaultRetryEvery;

    public IEnumerable<SpecError> Validate()
    {
        if (Restarts < 0) yield return new("restart.limit.restarts", "must be 0 or more");
        if (Restarts > Limits.MaxLimitRestarts) yield return new("restart.limit.restarts", $"must be at most {Limits.MaxLimitRestarts:N0}");
        if (Within <= TimeSpan.Zero) yield return new("restart.limit.within", "must be a positive duration");
        if (RetryEvery is { } r && r <= TimeSpan.Zero) yield return new("restart.limit.retryEvery", "must be a positive duration");
    }
}

public sealed record RestartSpec
{
    /// <summary>elife's restartAt from the seed: 100ms, 500ms, 1s, 10s, 30s, 1m, 5m, then 15m repeating.</summary>
    public static readonly ImmutableArray<TimeSpan> DefaultSchedule =
    [
        TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10),
        TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15),
    ];

    public static readonly RestartSpec Default = new();

    public RestartPolicyKind Policy { get; init; } = RestartPolicyKind.Always;

    /// <summary>Delay before each restart; the last entry repeats. <c>[]</c> or <c>[0]</c> means never restart (elife).</summary>
    public ImmutableArray<TimeSpan> Schedule { get; init; } = DefaultSchedule;

    /// <summary>restartOk: a run at least this long starts the schedule (and slow retry) over.</summary>
    public TimeSpan ResetAfter { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>When set, used instead of <see cref="Schedule"/>, which must then be left at its default.</summary>
    public BackoffSpec? Backoff { get; init; }

    public CrashLoopLimit? Limit { get; init; }

    /// <summary>The lifetime cap (Ligato's <c>Restarts: N</c>, Process Watcher's <c>max_restarts</c>): after this many
    /// automatic restarts in the unit's life it gives up, whatever the window; null = no cap. Unlike <see cref="Limit"/>
    /// nothing resets it, neither a long run nor a requested restart.</summary>
    public int? Max { get; init; }

    /// <summary>True for the elife "no restart" schedules, <c>[]</c> and <c>[0]</c>.</summary>
    public bool ScheduleMeansNever => Backoff is null && (Schedule.IsDefaultOrEmpty || (Schedule.Length == 1 && Schedule[0] == TimeSpan.Zero));

    public IEnumerable<SpecError> Validate()
    {
        if (!Schedule.IsDefault)
            for (int i = 0; i < Schedule.Length; i++)
                if (Schedule[i] < TimeSpan.Zero) yield return new($"restart.schedule[{i}]", "must not be negative");
        if (ResetAfter <= TimeSpan.Zero) yield return new("restart.resetAfter", "must be a positive duration");
        if (Backoff is not null)
        {
            // Only one of them is used (the backoff), so a schedule given with it would be silently ignored.
            if (!Schedule.IsDefault && !Schedule.AsSpan().SequenceEqual(DefaultSchedule.AsSpan()))
                yield return new("restart.backoff", "give either 'schedule' or 'backoff', not both");
            foreach (var e in Backoff.Validate()) yield return e;
        }
        if (Limit is not null) foreach (var e in Limit.Validate()) yield return e;
        if (Max is < 0) yield return new("restart.max", "must be 0 or more (restarts in the unit's life)");
    }
}

public sealed record StopSpec
{
    public static readonly StopSpec Default = new();

    /// <summary>Sent to the process group first (default SIGTERM), followed by SIGCONT.</summary>
    public int Signal { get; init; } = 15;

    /// <summary>Grace period before SIGKILL goes to every descendant.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to wait after SIGKILL before reporting survivors (a process in disk sleep can outlive it).</summary>
    public TimeSpan KillWait { get; init; } = TimeSpan.FromSeconds(5);

    public IEnumerable<SpecError> Validate()
    {
        if (Signal is <= 0 or > 64) yield return new("stop.signal", "must be a signal name like TERM or a number 1-64");
        if (Timeout < TimeSpan.Zero) yield return new("stop.timeout", "must not be negative");
        if (KillWait <= TimeSpan.Zero) yield return new("stop.killWait", "must be a positive duration");
        if (Limits.TimerWait(Timeout, "stop.timeout") is { } t) yield return t;
        if (Limits.TimerWait(KillWait, "stop.killWait") is { } k) yield return k;
    }
}
