using System.Collections.Immutable;
using System.Globalization;
using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;

namespace Vigil.Config;

// Overview
// --------
// A spec as the config keys that say it: the one mapping from ProcessSpec back to config, used both to write a file
// (ConfigWriter, `vigil save`) and to compare two specs (SpecDiff, reload). Sharing it means a reload calls a unit
// changed exactly when the file written for it would differ, and a key the writer forgets shows up in the round-trip
// tests instead of silently reloading as "unchanged".
// Only keys that differ from what the loader would produce without them are written, so a saved file reads like one a
// person wrote. Values are kept in the loader's own forms (durations as 1.5s, sizes as 50MB, signals as TERM), and
// paths the loader would resolve against the config file's folder are written absolute, so the file means the same
// wherever it is saved. What a config cannot say (a library probe, a progress delegate) becomes an opaque node:
// compared by reference, refused by the writer.

/// <summary>A config value before it becomes YAML text.</summary>
internal abstract record CNode;

/// <summary>A string: written quoted whenever YAML would read the plain text as something else (null, true, 1e3).</summary>
internal sealed record CText(string Value) : CNode;

/// <summary>A value written as it is: a number, duration, size, true/false or an enum name.</summary>
internal sealed record CWord(string Value) : CNode;

/// <summary>YAML's null (an env variable that removes the inherited one).</summary>
internal sealed record CNull : CNode
{
    public static readonly CNull Instance = new();
}

internal sealed record CList(IReadOnlyList<CNode> Items, bool Flow) : CNode;

internal sealed record CMap(IReadOnlyList<KeyValuePair<string, CNode>> Entries, bool Flow) : CNode;

/// <summary>Something only a library can hold (a custom probe or progress delegate): equal only to itself, and not
/// writable. <see cref="What"/> names it in the writer's error. <see cref="ByValue"/>: a plain-data check of a kind
/// no extension was given for (a reload's diff in the engine), equal to an equal record.</summary>
internal sealed record COpaque(object Value, string What, bool ByValue = false) : CNode;

internal static partial class ConfigNodes
{
    private static readonly HttpCheck HttpDefaults = new(new Uri("http://127.0.0.1/"));
    private static readonly TimeSpan CpuDefaultWindow = TimeSpan.FromMinutes(1);

    /// <summary>The keys of one <c>processes:</c> entry, in the documented order; keys at their defaults are left out.</summary>
    /// <param name="extensions">Writes the probes of extension kinds; without it they are opaque (compared as values).</param>
    public static List<KeyValuePair<string, CNode>> Process(ProcessSpec s, ConfigExtensions? extensions = null)
    {
        var e = new List<KeyValuePair<string, CNode>>();
        void Add(string key, CNode value) => e.Add(new(key, value));
        if (s.Name is not null) Add("name", new CText(s.Name));
        if (!s.Command.IsDefaultOrEmpty) Add("command", Strings(s.Command));
        if (s.Script is not null) Add("script", new CText(s.Script));
        if (!s.Args.IsDefaultOrEmpty) Add("args", Strings(s.Args));
        // The spawn resolves a relative cwd against Vigil's folder, the loader against the file's: write what it means.
        if (s.Cwd is not null) Add("cwd", new CText(Path.GetFullPath(s.Cwd)));
        if (!s.Env.IsEmpty)
            Add("env", new CMap([.. s.Env.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => new KeyValuePair<string, CNode>(kv.Key, kv.Value is null ? CNull.Instance : new CText(kv.Value)))], Flow: false));
        if (s.Detach) Add("detach", new CWord("true"));
        if (s.Ipc is { } ipc) Add("ipc", new CWord(ipc ? "true" : "false"));
        if (s.Tty is { } tty) Add("tty", Tty(tty));
        if (s.Tmux is { } tmux) Add("tmux", Tmux(tmux));
        if (Restart(s.Restart) is { } restart) Add("restart", restart);
        if (Stop(s.Stop) is { } stop) Add("stop", stop);
        if (s.Log is { } log) Add("log", Log(log));
        if (!s.Health.IsDefaultOrEmpty)
        {
            var cwd = CommandResolver.WorkingDirectory(s);
            Add("health", new CList([.. s.Health.Select(p => Probe(p, cwd, extensions))], Flow: false));
        }
        if (s.Hooks is { } hooks && Hooks(hooks) is { } node) Add("hooks", node);
        if (!s.Autostart) Add("autostart", new CWord("false"));
        if (s.CpuAffinity is { } cpus) Add("cpuAffinity", CpuAffinity(cpus));
        if (s.Attach is { } attach) Add("attach", Attach(attach));
        return e;
    }

    private static CMap Attach(AttachSpec a)
    {
        var e = new List<KeyValuePair<string, CNode>>();
        if (a.Pid is { } pid) e.Add(new("pid", Int(pid)));
        if (a.PidFile is { } file) e.Add(new("pidfile", new CText(Path.GetFullPath(file))));
        if (a.Systemd is { } unit) e.Add(new("systemd", new CText(unit)));
        if (a.Probe is { } kind) e.Add(new("probe", new CText(kind)));
        if (a.Poll != AttachSpec.DefaultPoll) e.Add(new("poll", Duration(a.Poll)));
        return new CMap(e, Flow: true);
    }

    /// <summary>An extension's top-level section, or null when it holds only the defaults.</summary>
    public static CNode? Section(ConfigSection section, object value, string baseDir)
    {
        var e = section.Write(value, baseDir);
        return e.Count == 0 ? null : new CMap(e, Flow: false);
    }

    /// <summary>The top-level <c>history:</c>: <c>false</c> when off, its keys that differ from the defaults, or null.</summary>
    public static CNode? History(Telemetry.History.HistorySettings? h)
    {
        if (h is null) return null;
        if (!h.Enabled) return new CWord("false");
        var d = Telemetry.History.HistorySettings.Default;
        var e = new List<KeyValuePair<string, CNode>>();
        // Whole days as days (the unit retention is thought in), anything else as any duration is written.
        if (h.Keep != d.Keep) e.Add(new("keep", h.Keep.Ticks % TimeSpan.TicksPerDay == 0 ? new CWord(Invariant((long)h.Keep.TotalDays) + "d") : Duration(h.Keep)));
        if (h.MaxSize != d.MaxSize) e.Add(new("maxSize", Size(h.MaxSize)));
        return e.Count == 0 ? null : new CMap(e, Flow: true);
    }

    private static CMap? Restart(RestartSpec r)
    {
        var d = RestartSpec.Default;
        var e = new List<KeyValuePair<string, CNode>>();
        if (r.Policy != d.Policy) e.Add(new("policy", new CWord(PolicyName(r.Policy))));
        // With a backoff the schedule is never used (and validation refuses both), so it is not part of the config.
        if (r.Backoff is null && !SameDurations(r.Schedule, d.Schedule))
            e.Add(new("schedule", new CList([.. Items(r.Schedule).Select(Duration)], Flow: true)));
        if (r.ResetAfter != d.ResetAfter) e.Add(new("resetAfter", Duration(r.ResetAfter)));
        if (r.Backoff is { } b)
            e.Add(new("backoff", new CMap(
            [
                new("initial", Duration(b.Initial)), new("multiplier", Number(b.Multiplier)),
                new("max", Duration(b.Max)), new("jitter", Number(b.Jitter)),
            ], Flow: true)));
        if (r.Limit is { } l)
        {
            var le = new List<KeyValuePair<string, CNode>>
            {
                new("restarts", Int(l.Restarts)), new("within", Duration(l.Within)),
                new("then", new CWord(l.Then == LimitAction.Stop ? "stop" : "slow-retry")),
            };
            // Only slow retry waits; the loader refuses retryEvery next to then: stop.
            if (l.Then == LimitAction.SlowRetry && l.RetryEvery is { } every) le.Add(new("retryEvery", Duration(every)));
            e.Add(new("limit", new CMap(le, Flow: true)));
        }
        if (r.Max is { } max) e.Add(new("max", Int(max)));
        return e.Count == 0 ? null : new CMap(e, Flow: false);
    }

    /// <summary><c>cpuAffinity: "0-2,6"</c>, or with a delay <c>{ cpus: "0-2,6", delay: 1s }</c>.</summary>
    private static CNode CpuAffinity(CpuAffinity a) => a.Delay == TimeSpan.Zero ? new CText(a.ListText)
        : new CMap([new("cpus", new CText(a.ListText)), new("delay", Duration(a.Delay))], Flow: true);

    private static CMap? Stop(StopSpec s)
    {
        var d = StopSpec.Default;
        var e = new List<KeyValuePair<string, CNode>>();
        if (s.Signal != d.Signal) e.Add(new("signal", new CWord(SignalName(s.Signal))));
        if (s.Timeout != d.Timeout) e.Add(new("timeout", Duration(s.Timeout)));
        if (s.KillWait != d.KillWait) e.Add(new("killWait", Duration(s.KillWait)));
        return e.Count == 0 ? null : new CMap(e, Flow: true);
    }

    private static CMap Log(LogSpec l)
    {
        var d = LogSpec.Default;
        var e = new List<KeyValuePair<string, CNode>>();
        void Bool(string key, bool value, bool def) { if (value != def) e.Add(new(key, new CWord(value ? "true" : "false"))); }
        if (l.File is not null) e.Add(new("file", FilePath(l.File)));
        if (l.Out is not null) e.Add(new("out", FilePath(l.Out)));
        if (l.Err is not null) e.Add(new("err", FilePath(l.Err)));
        Bool("timestamps", l.Timestamps, d.Timestamps);
        Bool("stream", l.Stream, d.Stream);
        Bool("prefix", l.Prefix, d.Prefix);
        Bool("stripAnsi", l.StripAnsi, d.StripAnsi);
        if (l.MaxSize is { } max) e.Add(new("maxSize", Size(max)));
        if (l.Keep != d.Keep) e.Add(new("keep", Int(l.Keep)));
        if (l.MaxLine != d.MaxLine) e.Add(new("maxLine", Size(l.MaxLine)));
        if (l.RingLines != d.RingLines) e.Add(new("ringLines", Int(l.RingLines)));
        if (l.Echo != LogEcho.None) e.Add(new("echo", new CWord(l.Echo.ToString().ToLowerInvariant())));
        return new CMap(e, Flow: false);
    }

    /// <summary>An empty log path stays empty (validation names it); any other is written absolute.</summary>
    private static CText FilePath(string path) => new(path.Length == 0 ? path : Path.GetFullPath(path));

    private static CNode Probe(ProbeSpec p, string cwd, ConfigExtensions? extensions)
    {
        var c = p.Check;
        var e = new List<KeyValuePair<string, CNode>> { new("kind", new CText(c.Kind)) };
        void Add(string key, CNode value) => e.Add(new(key, value));
        // Probe paths resolve against the unit's folder at run time, and against the file's folder when loaded.
        CText At(string path) => new(Path.GetFullPath(path, cwd));
        switch (c)
        {
            case ExecCheck x:
                Add("command", Strings(x.Command));
                break;
            case HttpCheck x:
                Add("url", new CText(x.Url.OriginalString));
                if (x.StatusMin != HttpDefaults.StatusMin || x.StatusMax != HttpDefaults.StatusMax)
                    Add("status", new CWord(x.StatusMin == x.StatusMax ? Invariant(x.StatusMin) : $"{Invariant(x.StatusMin)}-{Invariant(x.StatusMax)}"));
                if (x.BodyContains is not null) Add("body", new CText(x.BodyContains));
                break;
            case TcpCheck x:
                // The loader splits at the last ':' and strips brackets, so an IPv6 host goes in brackets.
                Add("address", new CText((x.Host.Contains(':') ? $"[{x.Host}]" : x.Host) + ":" + Invariant(x.Port)));
                break;
            case HeartbeatFileCheck x:
                Add("path", At(x.Path));
                break;
            case OutputStallCheck:
                break;
            case ProgressCheck x:
                switch (x.Source)
                {
                    case ProgressSource.Exec s: Add("exec", Strings(s.Command)); break;
                    case ProgressSource.FileSize s: Add("file", At(s.Path)); break;
                    case ProgressSource.FileLines s: Add("lines", At(s.Path)); break;
                    case ProgressSource.HttpJson s:
                        Add("http", new CText(s.Url.OriginalString));
                        Add("json", new CText(s.Field));
                        break;
                    case ProgressSource.Sql s:
                        Add("sql", new CText(s.Query));
                        Add("connection", new CText(s.Connection));
                        Add("driver", new CWord(s.Provider == SqlProvider.Postgres ? "postgres" : "sqlite"));
                        break;
                    default:
                        return new COpaque(x.Source, $"probe '{p.Name}' reads its progress through a library delegate");
                }
                break;
            case MemoryCheck x:
                Add("max", Size(x.MaxBytes));
                break;
            case CpuCheck x:
                if (x.MaxPercent is { } max) Add("max", new CWord(Invariant(max) + "%"));
                if (x.MinPercent is { } min) Add("min", new CWord(Invariant(min) + "%"));
                if (x.Window != CpuDefaultWindow) Add("window", Duration(x.Window));
                break;
            case SdNotifyCheck x:
                if (x.Watchdog is { } w) Add("watchdog", Duration(w));
                if (x.Access == NotifyAccess.All) Add("notifyAccess", new CWord("all"));
                break;
            case CustomCheck:
                return new COpaque(c, $"probe '{p.Name}' is a library probe");
            default:
                if (extensions?.KindOf(c.GetType()) is not { } kind)
                    return new COpaque(c, $"probe '{p.Name}' is of kind '{c.Kind}', which no registered config extension has", ByValue: true);
                e.AddRange(kind.Write(c, cwd));
                break;
        }

        if (p.Name != c.Kind) Add("name", new CText(p.Name));
        if (p.Role != ProbeRole.Liveness) Add("role", new CWord(p.Role switch { ProbeRole.Readiness => "readiness", _ => "startup" }));
        if (p.Action == ProbeAction.Exec) Add("action", new CMap([new("exec", Strings(p.ActionCommand))], Flow: true));
        else if (p.Action != ProbeAction.Restart) Add("action", new CWord(p.Action == ProbeAction.Kill ? "kill" : "notify"));
        // As the loader derives them: a stall kind given a timeout but no period gets a period from the timeout. So a
        // period that follows from the timeout is said by writing the timeout (even at its default), not the period.
        bool timeoutWritten = p.Timeout != c.DefaultTimeout
            || (c.TimeoutIsStallWindow && p.Period != c.DefaultPeriod && p.Period == ConfigLoader.DefaultStallPeriod(p.Timeout));
        var periodIfOmitted = c.TimeoutIsStallWindow && timeoutWritten ? ConfigLoader.DefaultStallPeriod(p.Timeout) : c.DefaultPeriod;
        if (p.Period != periodIfOmitted) Add("period", Duration(p.Period));
        if (timeoutWritten) Add("timeout", Duration(p.Timeout));
        if (p.InitialDelay != TimeSpan.Zero) Add("initialDelay", Duration(p.InitialDelay));
        if (p.FailureThreshold != c.DefaultFailureThreshold) Add("failureThreshold", Int(p.FailureThreshold));
        if (p.SuccessThreshold != 1) Add("successThreshold", Int(p.SuccessThreshold));
        return new CMap(e, Flow: true);
    }

    private static CList Strings(ImmutableArray<string> items) => new([.. Items(items).Select(s => (CNode)new CText(s))], Flow: true);

    private static ImmutableArray<T> Items<T>(ImmutableArray<T> a) => a.IsDefault ? [] : a;

    private static bool SameDurations(ImmutableArray<TimeSpan> a, ImmutableArray<TimeSpan> b) => Items(a).AsSpan().SequenceEqual(Items(b).AsSpan());

    private static string PolicyName(RestartPolicyKind p) => p switch
    {
        RestartPolicyKind.OnFailure => "on-failure",
        RestartPolicyKind.Never => "never",
        _ => "always",
    };

    /// <summary>TERM for the named signals; the number for the others (the loader reads SIG42 as no signal).</summary>
    private static string SignalName(int signal)
    {
        var name = Signals.Name(signal);
        return Signals.TryParse(name, out var back) && back == signal ? name[3..] : Invariant(signal);
    }

    /// <summary>The shortest form the loader reads back to exactly <paramref name="d"/>: 1.5s, 250ms, 5m, 2h.</summary>
    internal static CWord Duration(TimeSpan d)
    {
        string exactMs = d.Ticks % TimeSpan.TicksPerMillisecond == 0 ? Invariant(d.Ticks / TimeSpan.TicksPerMillisecond) + "ms" : "";
        // Below a millisecond the loader goes through a double and drops what is left below a tick, so a value that
        // lands a hair under the tick reads back one tick short: half a tick more lands inside it.
        string fraction = Invariant(d.TotalMilliseconds) + "ms", halfTickMore = Invariant((d.Ticks + 0.5) / TimeSpan.TicksPerMillisecond) + "ms";
        foreach (var text in new[] { Durations.Format(d), exactMs, fraction, halfTickMore })
            if (text.Length > 0 && Durations.TryParse(text, out var back) && back == d) return new(text);
        return new(fraction); // the nearest the loader can read

    }

    /// <summary>Whole KB/MB/GB/TB when exact (powers of 1024, as the loader reads them), else bytes.</summary>
    private static CWord Size(long bytes)
    {
        foreach (var (unit, factor) in new[] { ("TB", 1L << 40), ("GB", 1L << 30), ("MB", 1L << 20), ("KB", 1L << 10) })
            if (bytes != 0 && bytes % factor == 0) return new(Invariant(bytes / factor) + unit);
        return new(Invariant(bytes));
    }

    internal static CWord Int(long n) => new(Invariant(n));

    private static CWord Number(double n) => new(Invariant(n));

    private static string Invariant(long n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>The shortest text that parses back to the same double.</summary>
    private static string Invariant(double n) => n.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>True when <paramref name="a"/> and <paramref name="b"/> say the same config (opaque values by reference).</summary>
    public static bool Same(CNode? a, CNode? b) => (a, b) switch
    {
        (null, null) => true,
        (CText x, CText y) => x.Value == y.Value,
        (CWord x, CWord y) => x.Value == y.Value,
        (CNull, CNull) => true,
        (COpaque x, COpaque y) => ReferenceEquals(x.Value, y.Value) || (x.ByValue && y.ByValue && Equals(x.Value, y.Value)),
        (CList x, CList y) => x.Items.Count == y.Items.Count && x.Items.Zip(y.Items).All(p => Same(p.First, p.Second)),
        (CMap x, CMap y) => x.Entries.Count == y.Entries.Count
            && x.Entries.Zip(y.Entries).All(p => p.First.Key == p.Second.Key && Same(p.First.Value, p.Second.Value)),
        _ => false,
    };
}
