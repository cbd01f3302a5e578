using System.Collections.Immutable;
using System.Globalization;
using Vigil.Specs;

namespace Vigil.Config;

// The `health:` list of a process.
public static partial class ConfigLoader
{
    internal static readonly string[] ProbeCommonKeys = ["kind", "name", "role", "action", "period", "timeout", "initialDelay", "failureThreshold", "successThreshold"];
    internal static readonly string[] BuiltInProbeKinds = ["exec", "http", "tcp", "heartbeat-file", "output-stall", "progress", "memory", "cpu", "sd-notify"];
    private static readonly Dictionary<string, string[]> ProbeKindKeys = new(StringComparer.Ordinal)
    {
        ["exec"] = ["command"],
        ["http"] = ["url", "status", "body"],
        ["tcp"] = ["address"],
        ["heartbeat-file"] = ["path"],
        ["output-stall"] = [],
        ["progress"] = ["exec", "file", "lines", "http", "json", "sql", "connection", "driver"],
        ["memory"] = ["max"],
        ["cpu"] = ["max", "min", "window"],
        ["sd-notify"] = ["watchdog", "notifyAccess"],
    };
    private static readonly (string, ProbeRole)[] Roles = [("liveness", ProbeRole.Liveness), ("readiness", ProbeRole.Readiness), ("startup", ProbeRole.Startup)];
    private static readonly (string, ProbeAction)[] Actions = [("restart", ProbeAction.Restart), ("kill", ProbeAction.Kill), ("notify", ProbeAction.Notify), ("exec", ProbeAction.Exec)];
    private static readonly (string, NotifyAccess)[] NotifyAccesses = [("main", NotifyAccess.Main), ("all", NotifyAccess.All)];
    private static readonly (string, SqlProvider)[] SqlDrivers = [("sqlite", SqlProvider.Sqlite), ("postgres", SqlProvider.Postgres)];

    internal sealed partial class Mapper
    {
        private ImmutableArray<ProbeSpec> Health(YNode v, string path, Pos at)
        {
            if (v is YScalar { IsNull: true }) return [];
            if (v is not YSequence seq)
            {
                Error(at, path, $"expected a list of probes ({{ kind: http, url: … }}), got {v.Describe()}");
                return [];
            }
            var probes = ImmutableArray.CreateBuilder<ProbeSpec>();
            for (int i = 0; i < seq.Items.Count; i++)
            {
                var itemPath = Index(path, i);
                if (seq.Items[i] is not YMapping m) { Error(seq.Items[i].Start, itemPath, $"expected a probe mapping with a kind, got {seq.Items[i].Describe()}"); continue; }
                if (Probe(m, itemPath) is { } p) probes.Add(p);
            }
            // Names tell probes apart in events: the kind, or kind#N when one kind is used twice.
            // N counts the probes of its kind so far, kept per kind as we go (counting from the start for each probe
            // was quadratic: 40,000 probes took 29 s, found while measuring the fuzzer's inputs).
            var counts = probes.GroupBy(p => p.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
            var seenOfKind = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < probes.Count; i++)
            {
                var kind = probes[i].Check.Kind;
                int n = seenOfKind[kind] = seenOfKind.GetValueOrDefault(kind) + 1;
                if (counts.Contains(probes[i].Name)) probes[i] = probes[i] with { Name = string.Create(CultureInfo.InvariantCulture, $"{probes[i].Name}#{n}") };
            }
            return probes.ToImmutable();
        }

        private ProbeSpec? Probe(YMapping map, string path)
        {
            int errorsBefore = _errorCount;
            string[] kinds = [.. BuiltInProbeKinds, .. extensions?.ProbeKinds.Select(k => k.Name) ?? []];
            // The kind decides which other keys exist, so read it first.
            string? kind = null;
            foreach (var (k, val) in map.Entries)
                if (k is YScalar { Value: "kind" } ks)
                {
                    var kindPath = Join(path, "kind");
                    kind = String(val, kindPath, ks.Start);
                    if (kind is not null && !kinds.Contains(kind))
                    {
                        var near = Suggestions.Nearest(kind, kinds);
                        Error(ks.Start, kindPath, $"unknown probe kind {Show(kind)}" + (near is not null ? $"; did you mean '{near}'?" : $" (expected one of: {string.Join(", ", kinds)})"));
                        return null;
                    }
                }
            if (kind is null) { Error(map.Start, Join(path, "kind"), $"every probe needs a kind: {string.Join(", ", kinds)}"); return null; }

            var extension = extensions?.Kind(kind);
            var keys = extension is null ? ProbeKindKeys[kind] : [.. extension.Keys, .. extension.Aliases.Keys];
            var values = new Dictionary<string, (string Path, Pos At, YNode Value)>(StringComparer.Ordinal);
            foreach (var (key, keyPath, at, v) in Entries(map, path, [.. ProbeCommonKeys, .. keys]))
                values[extension?.Aliases.GetValueOrDefault(key) ?? key] = (keyPath, at, v);

            string? Str(string key) => values.TryGetValue(key, out var e) ? String(e.Value, e.Path, e.At) : null;
            ImmutableArray<string> Cmd(string key) => values.TryGetValue(key, out var e) ? Command(e.Value, e.Path, e.At) : [];
            TimeSpan? Dur(string key) => values.TryGetValue(key, out var e) ? Duration(e.Value, e.Path, e.At) : null;
            void Missing(string key, string example)
            {
                // A key that was given but refused (a NUL byte, a wrong type) has its own error already.
                var keyPath = Join(path, key);
                if (!_errors.Skip(errorsBefore).Any(e => e.KeyPath == keyPath || e.KeyPath.StartsWith(keyPath + "[", StringComparison.Ordinal)))
                    Error(map.Start, Join(path, key), $"this {kind} probe needs {key}: {example}");
            }
            Uri? Url(string key)
            {
                if (Str(key) is not { } text) return null;
                if (Uri.TryCreate(text, UriKind.Absolute, out var u) && u.Scheme is "http" or "https") return u;
                Error(values[key].At, values[key].Path, $"expected an http:// or https:// URL, got {Show(text)}");
                return null;
            }

            ProbeCheck? check = null;
            switch (kind)
            {
                case "exec":
                    var cmd = Cmd("command");
                    if (cmd.IsDefaultOrEmpty) Missing("command", "[./check.sh]"); else check = new ExecCheck(cmd);
                    break;
                case "http":
                    if (Url("url") is not { } url) { if (!values.ContainsKey("url")) Missing("url", "http://127.0.0.1:8080/health"); break; }
                    var http = new HttpCheck(url) { BodyContains = Str("body") };
                    if (values.TryGetValue("status", out var st) && StatusRange(st.Value, st.Path, st.At) is { } range)
                        http = http with { StatusMin = range.Min, StatusMax = range.Max };
                    check = http;
                    break;
                case "tcp":
                    if (Str("address") is not { } address) { Missing("address", "127.0.0.1:5432"); break; }
                    int colon = address.LastIndexOf(':');
                    if (colon <= 0 || !int.TryParse(address[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
                        Error(values["address"].At, values["address"].Path, $"expected host:port, got {Show(address)}");
                    else check = new TcpCheck(address[..colon].Trim('[', ']'), port);
                    break;
                case "heartbeat-file":
                    if (Str("path") is { Length: > 0 } hb) check = new HeartbeatFileCheck(Path.GetFullPath(hb, baseDir));
                    else Missing("path", "/run/worker.beat");
                    break;
                case "output-stall":
                    check = new OutputStallCheck();
                    break;
                case "progress":
                    check = Progress(values, map, path);
                    break;
                case "memory":
                    if (!values.TryGetValue("max", out var mx)) { Missing("max", "2GB"); break; }
                    if (Size(mx.Value, mx.Path, mx.At) is { } bytes) check = new MemoryCheck(bytes);
                    break;
                case "cpu":
                    double? Pct(string key) => values.TryGetValue(key, out var e) ? Percent(e.Value, e.Path, e.At) : null;
                    check = new CpuCheck(Pct("max"), Pct("min"), Dur("window") ?? TimeSpan.FromMinutes(1));
                    break;
                case "sd-notify":
                    var access = NotifyAccess.Main;
                    if (values.TryGetValue("notifyAccess", out var na) && Choice(na.Value, na.Path, na.At, NotifyAccesses) is { } a) access = a;
                    check = new SdNotifyCheck(Dur("watchdog")) { Access = access };
                    break;
                default:
                    check = extension!.Read(values.Where(e => extension.Keys.Contains(e.Key))
                        .Select(e => new ConfigValue(this, e.Key, e.Value.Path, e.Value.At, e.Value.Value)));
                    break;
            }
            if (check is null) return null;

            var spec = new ProbeSpec(check);
            foreach (var (key, (keyPath, at, v)) in values)
            {
                switch (key)
                {
                    case "name": if (String(v, keyPath, at) is { Length: > 0 } n) spec = spec with { Name = n }; break;
                    case "role": if (Choice(v, keyPath, at, Roles) is { } role) spec = spec with { Role = role }; break;
                    case "action":
                        if (v is YMapping am)
                        {
                            foreach (var (ak, akPath, akAt, av) in Entries(am, keyPath, ["exec"]))
                                if (ak == "exec") spec = spec with { Action = ProbeAction.Exec, ActionCommand = Command(av, akPath, akAt) };
                        }
                        else if (Choice(v, keyPath, at, Actions) is { } action) spec = spec with { Action = action };
                        break;
                    case "period": if (Duration(v, keyPath, at) is { } p) spec = spec with { Period = p }; break;
                    case "timeout": if (Duration(v, keyPath, at) is { } t) spec = spec with { Timeout = t }; break;
                    case "initialDelay": if (Duration(v, keyPath, at) is { } d) spec = spec with { InitialDelay = d }; break;
                    case "failureThreshold": if (Int(v, keyPath, at) is { } f) spec = spec with { FailureThreshold = f }; break;
                    case "successThreshold": if (Int(v, keyPath, at) is { } s) spec = spec with { SuccessThreshold = s }; break;
                }
            }
            // A stall kind's default period follows its timeout, so a stall is seen within timeout + one period.
            if (check.TimeoutIsStallWindow && !values.ContainsKey("period") && values.ContainsKey("timeout"))
                spec = spec with { Period = DefaultStallPeriod(spec.Timeout) };
            // Validated here, at the probe's own position and index: a probe with errors is left out of the list, so
            // the process's validation would otherwise name the wrong index (and repeat what a key already reported).
            if (_errorCount > errorsBefore) return null;
            return Problems(spec.Validate(), path, map.Start) > 0 ? null : spec;
        }

        private ProbeCheck? Progress(Dictionary<string, (string Path, Pos At, YNode Value)> values, YMapping map, string path)
        {
            string[] sources = ["exec", "file", "lines", "http", "sql"];
            var given = sources.Where(values.ContainsKey).ToList();
            if (given.Count != 1)
            {
                Error(map.Start, path, given.Count == 0
                    ? "a progress probe needs one source: exec: [cmd…], file: PATH (size), lines: PATH, http: URL with json: field, or sql: QUERY with connection: …"
                    : $"a progress probe takes one source, got {string.Join(" and ", given)}");
                return null;
            }
            var (p, at, v) = values[given[0]];
            string? Str(string key) => values.TryGetValue(key, out var e) ? String(e.Value, e.Path, e.At) : null;
            switch (given[0])
            {
                case "exec":
                    var cmd = Command(v, p, at);
                    return cmd.IsDefaultOrEmpty ? null : new ProgressCheck(new ProgressSource.Exec(cmd));
                case "file":
                    return String(v, p, at) is { Length: > 0 } f ? new ProgressCheck(new ProgressSource.FileSize(Path.GetFullPath(f, baseDir))) : null;
                case "lines":
                    return String(v, p, at) is { Length: > 0 } l ? new ProgressCheck(new ProgressSource.FileLines(Path.GetFullPath(l, baseDir))) : null;
                case "http":
                    var text = String(v, p, at);
                    if (text is null) return null;
                    if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https")) { Error(at, p, $"expected an http:// or https:// URL, got {Show(text)}"); return null; }
                    if (Str("json") is not { Length: > 0 } field) { Error(at, Join(path, "json"), "an http progress source needs json: the numeric field to read (e.g. stats.processed)"); return null; }
                    return new ProgressCheck(new ProgressSource.HttpJson(url, field));
                default:
                    if (String(v, p, at) is not { Length: > 0 } query) return null;
                    if (Str("connection") is not { Length: > 0 } conn) { Error(at, Join(path, "connection"), "a sql progress source needs connection: (e.g. 'Host=127.0.0.1;Database=jobs;Username=vigil' or 'Data Source=jobs.db')"); return null; }
                    SqlProvider provider;
                    if (values.TryGetValue("driver", out var d)) { if (Choice(d.Value, d.Path, d.At, SqlDrivers) is not { } pr) return null; provider = pr; }
                    else provider = conn.Contains("Host=", StringComparison.OrdinalIgnoreCase) || conn.Contains("Server=", StringComparison.OrdinalIgnoreCase)
                        ? SqlProvider.Postgres : SqlProvider.Sqlite;
                    return new ProgressCheck(new ProgressSource.Sql(provider, conn, query));
            }
        }

        private (int Min, int Max)? StatusRange(YNode v, string path, Pos at)
        {
            const string expected = "a status like 200, or a range like 200-299";
            if (Scalar(v, path, at, expected) is not { } text) return null;
            var parts = text.Split('-', 2, StringSplitOptions.TrimEntries);
            if (int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var lo))
            {
                if (parts.Length == 1) return (lo, lo);
                if (int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var hi)) return (lo, hi);
            }
            Error(at, path, $"expected {expected}, got {Show(text)}");
            return null;
        }

        private double? Percent(YNode v, string path, Pos at)
        {
            const string expected = "a percentage of one core like 95% (100% = one full core)";
            if (Scalar(v, path, at, expected) is not { } text) return null;
            if (double.TryParse(text.TrimEnd().TrimEnd('%'), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n) && n >= 0) return n;
            Error(at, path, $"expected {expected}, got {Show(text)}");
            return null;
        }
    }

    /// <summary>The default period of a stall probe: a quarter of its window, between 100 ms and 30 s.</summary>
    internal static TimeSpan DefaultStallPeriod(TimeSpan window) =>
        TimeSpan.FromTicks(Math.Clamp(window.Ticks / 4, TimeSpan.FromMilliseconds(100).Ticks, TimeSpan.FromSeconds(30).Ticks));
}
