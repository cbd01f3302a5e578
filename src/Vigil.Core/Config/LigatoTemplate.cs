using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Vigil.Specs;

namespace Vigil.Config;

// Overview
// --------
// Ligato's process manager (ligato/cn-infra exec/processmanager) keeps process templates as <name>.json files in one
// folder: the JSON form of its process.proto Template message, written by Go's encoding/json (snake_case:
// p_options, run_on_startup) or by protobuf's JSON mapping (camelCase: pOptions, runOnStartup). Vigil reads both
// spellings, maps each template to a ProcessSpec (LigatoTemplate.ToSpec) and writes a unit back as one
// (LigatoTemplate.FromSpec, Ligato's Template option). How the fields map:
//   cmd + args          → command (Ligato runs cmd from its own working folder, as Vigil does with no cwd)
//   restart 0 / -1 / N  → restart policy never / always / always with restart.max N (a lifetime cap, as Ligato's
//                         watcher counts restarts down for the life of the process object)
//   detach              → detach;  run_on_startup → autostart (false: the unit waits in state initial)
//   out_writer          → stdout lines also go to Vigil's stdout, err_writer → stderr lines to Vigil's stderr
//                         (Ligato copies them to its os.Stdout/os.Stderr); the unit's log captures them either way
//   notify              → accepted: every Vigil unit has its notification stream (Unit.Notifications())
//   auto_terminate      → accepted: Vigil always reaps its children
//   cpu_affinity_mask / cpu_affinity_list (and the older cpu_affinity) + cpu_affinity_delay → cpuAffinity

/// <summary>One Ligato process template (process.proto's <c>Template</c>), as read from or written to a JSON file.</summary>
public sealed record LigatoTemplate
{
    /// <summary>The template's name: the unit's name and, when written, the file's (<c>name.json</c>).</summary>
    public required string Name { get; init; }
    /// <summary>The program (Ligato's <c>cmd</c>).</summary>
    public required string Cmd { get; init; }
    public ImmutableArray<string> Args { get; init; } = [];
    /// <summary>Copy the process's stdout to Vigil's stdout (besides its log).</summary>
    public bool OutWriter { get; init; }
    /// <summary>Copy the process's stderr to Vigil's stderr (besides its log).</summary>
    public bool ErrWriter { get; init; }
    /// <summary>0: never restart, -1: always, N: at most N automatic restarts in the unit's life.</summary>
    public int Restart { get; init; }
    public bool Detach { get; init; }
    public bool RunOnStartup { get; init; }
    public bool Notify { get; init; }
    public bool AutoTerminate { get; init; }
    /// <summary>Hex, as taskset takes it (<c>0x7</c> or <c>7</c>).</summary>
    public string? CpuAffinityMask { get; init; }
    /// <summary>A CPU list (<c>0-2,6</c>).</summary>
    public string? CpuAffinityList { get; init; }
    /// <summary>A Go duration (<c>500ms</c>, <c>1m30s</c>).</summary>
    public string? CpuAffinityDelay { get; init; }
    /// <summary>The file it was read from (null for one made from a unit).</summary>
    public string? SourcePath { get; init; }

    /// <summary>Where <c>cmd</c> is in <see cref="SourcePath"/> (for the start-up check's error); 0 when unknown.</summary>
    internal int CmdLine { get; init; }
    internal int CmdColumn { get; init; }

    /// <summary>The unit this template defines. The template must be valid (as loaded).</summary>
    public ProcessSpec ToSpec()
    {
        var restart = Restart switch
        {
            0 => RestartSpec.Default with { Policy = RestartPolicyKind.Never },
            < 0 => RestartSpec.Default,
            _ => RestartSpec.Default with { Max = Restart },
        };
        return new ProcessSpec
        {
            Name = Name,
            Command = [Cmd],
            Args = Args.IsDefault ? [] : Args,
            Restart = restart,
            Detach = Detach,
            Autostart = RunOnStartup,
            CpuAffinity = Affinity(out _),
            Log = OutWriter || ErrWriter ? LogSpec.Default with { Echo = (OutWriter ? LogEcho.Out : 0) | (ErrWriter ? LogEcho.Err : 0) } : null,
        };
    }

    /// <summary>The CPU affinity the template asks for (null: none); <paramref name="error"/> says what is wrong with it.</summary>
    internal CpuAffinity? Affinity(out string? error)
    {
        error = null;
        var delay = TimeSpan.Zero;
        if (!string.IsNullOrWhiteSpace(CpuAffinityDelay) && !TryParseGoDuration(CpuAffinityDelay, out delay))
        {
            error = $"cpu_affinity_delay: expected a Go duration like 500ms, 2s or 1m30s, got \"{CpuAffinityDelay}\"";
            return null;
        }
        ImmutableArray<int> cpus;
        if (!string.IsNullOrWhiteSpace(CpuAffinityList))
        {
            if (!CpuAffinity.TryParseList(CpuAffinityList, out cpus, out var e)) { error = "cpu_affinity_list: " + e; return null; }
        }
        else if (!string.IsNullOrWhiteSpace(CpuAffinityMask))
        {
            if (!CpuAffinity.TryParseMask(CpuAffinityMask, out cpus, out var e)) { error = "cpu_affinity_mask: " + e; return null; }
        }
        else return null;
        return new CpuAffinity { Cpus = cpus, Delay = delay };
    }

    /// <summary>A unit as a template (Ligato's <c>Template</c> option): what a template can say of it. What it cannot
    /// (cwd, env, probes, a restart schedule, log files) is listed in <paramref name="lost"/>, keyed as in vigil.yaml.</summary>
    /// <exception cref="ArgumentException">The unit has no command (a script unit, an attached process).</exception>
    public static LigatoTemplate FromSpec(ProcessSpec spec, out IReadOnlyList<string> lost)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Command.IsDefaultOrEmpty)
            throw new ArgumentException($"unit {spec.DisplayName} has no command (a script or an attached process): a Ligato template needs one", nameof(spec));
        var r = spec.Restart;
        var never = r.Policy == RestartPolicyKind.Never || r.ScheduleMeansNever || r.Max == 0;
        var template = new LigatoTemplate
        {
            Name = spec.DisplayName,
            Cmd = spec.Command[0],
            Args = [.. spec.Command.Skip(1), .. spec.Args.IsDefault ? [] : spec.Args],
            Restart = never ? 0 : r.Max ?? -1,
            Detach = spec.Detach,
            RunOnStartup = spec.Autostart,
            Notify = true,
            OutWriter = spec.Log is { } l && l.Echo.HasFlag(LogEcho.Out),
            ErrWriter = spec.Log is { } l2 && l2.Echo.HasFlag(LogEcho.Err),
            CpuAffinityList = spec.CpuAffinity?.ListText,
            CpuAffinityDelay = spec.CpuAffinity is { Delay: var d } && d > TimeSpan.Zero ? FormatGoDuration(d) : null,
        };
        // What does not survive the trip, so `vigil save-template` can say so rather than lose it silently.
        var back = template.ToSpec();
        lost = [.. SpecDiff.Fields(spec with { Name = spec.DisplayName, Command = [spec.Command[0]], Args = template.Args }, back)];
        return template;
    }

    /// <summary>Where a template named <paramref name="name"/> is written in <paramref name="folder"/>: <c>name.json</c>.</summary>
    /// <exception cref="ArgumentException">The name cannot be a file name (empty, '.', '..', a '/' or a NUL in it).</exception>
    public static string FilePath(string folder, string name)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0 || name is "." or ".." || name.Contains('/') || name.Contains('\0'))
            throw new ArgumentException($"'{name}' cannot name a template file (it becomes <name>.json: no '/', not '.' or '..')", nameof(name));
        return Path.Combine(Path.GetFullPath(folder), name + ".json");
    }

    /// <summary>The template as Ligato writes it (encoding/json of the Template message: snake_case, fields at their
    /// zero value left out), indented.</summary>
    public string ToJson()
    {
        var b = new StringBuilder();
        b.Append("{\n  \"name\": ").Append(Quote(Name)).Append(",\n  \"cmd\": ").Append(Quote(Cmd));
        var o = new List<string>();
        if (!Args.IsDefaultOrEmpty) o.Add("\"args\": [" + string.Join(", ", Args.Select(Quote)) + "]");
        if (OutWriter) o.Add("\"out_writer\": true");
        if (ErrWriter) o.Add("\"err_writer\": true");
        if (Restart != 0) o.Add("\"restart\": " + Restart.ToString(CultureInfo.InvariantCulture));
        if (Detach) o.Add("\"detach\": true");
        if (RunOnStartup) o.Add("\"run_on_startup\": true");
        if (Notify) o.Add("\"notify\": true");
        if (AutoTerminate) o.Add("\"auto_terminate\": true");
        if (CpuAffinityMask is not null) o.Add("\"cpu_affinity_mask\": " + Quote(CpuAffinityMask));
        if (CpuAffinityList is not null) o.Add("\"cpu_affinity_list\": " + Quote(CpuAffinityList));
        if (CpuAffinityDelay is not null) o.Add("\"cpu_affinity_delay\": " + Quote(CpuAffinityDelay));
        if (o.Count > 0) b.Append(",\n  \"p_options\": {\n    ").Append(string.Join(",\n    ", o)).Append("\n  }");
        return b.Append("\n}\n").ToString();
    }

    private static string Quote(string s)
    {
        var b = new StringBuilder("\"");
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': b.Append("\\\""); break;
                case '\\': b.Append("\\\\"); break;
                case '\n': b.Append("\\n"); break;
                case '\r': b.Append("\\r"); break;
                case '\t': b.Append("\\t"); break;
                case < ' ' or '\u2028' or '\u2029' or '\u007f': b.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"); break;
                default: b.Append(c); break;
            }
        }
        return b.Append('"').ToString();
    }

    /// <summary>Go's time.ParseDuration: an optional sign, then numbers with units ns, us (µs), ms, s, m, h
    /// (<c>1m30s</c>, <c>1.5s</c>); <c>0</c> alone is zero. Negative durations are refused (a wait cannot be).</summary>
    public static bool TryParseGoDuration(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        var s = text.Trim();
        if (s.StartsWith('+')) s = s[1..];
        if (s == "0") return true;
        if (s.Length == 0) return false;
        decimal total = 0; // in ticks
        int i = 0;
        while (i < s.Length)
        {
            int start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            if (i == start || !decimal.TryParse(s[start..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n)) return false;
            int u = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.') i++;
            decimal ticks = s[u..i] switch
            {
                "ns" => 0.01m, "us" or "µs" or "μs" => 10m, "ms" => TimeSpan.TicksPerMillisecond, "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute, "h" => TimeSpan.TicksPerHour, _ => -1m,
            };
            if (ticks < 0) return false;
            try { total += n * ticks; }
            catch (OverflowException) { return false; }
            if (total > TimeSpan.MaxValue.Ticks) return false;
        }
        value = TimeSpan.FromTicks((long)Math.Round(total));
        return true;
    }

    /// <summary>Go's Duration.String for whole milliseconds and up: <c>1m30s</c>, <c>500ms</c>, <c>2h0m0s</c>.</summary>
    public static string FormatGoDuration(TimeSpan d)
    {
        if (d < TimeSpan.FromSeconds(1)) return d.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + "ms";
        var b = new StringBuilder();
        if (d.TotalHours >= 1) b.Append(CultureInfo.InvariantCulture, $"{(long)d.TotalHours}h");
        if (d.TotalMinutes >= 1) b.Append(CultureInfo.InvariantCulture, $"{d.Minutes}m");
        var seconds = d.Seconds + d.Milliseconds / 1000m + (d.Ticks % TimeSpan.TicksPerMillisecond) / (decimal)TimeSpan.TicksPerSecond;
        b.Append(seconds.ToString("0.#######", CultureInfo.InvariantCulture)).Append('s');
        return b.ToString();
    }
}
