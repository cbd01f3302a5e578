using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Vigil.Config;
using Vigil.Specs;
using Vigil.Tether.Mqtt;

namespace Vigil.Tether.Pinger;

// Overview
//
// The Tether Process Pinger read its config with the npm `rc` package, then `parse-strings-in-object`. This file does
// the same, source by source, lowest first (rc's order; a later source wins key by key, objects merge, arrays are
// replaced whole, as deep-extend):
//   defaults, /etc/NAME/config, /etc/NAMErc, ~/.config/NAME/config, ~/.config/NAME, ~/.NAME/config, ~/.NAMErc,
//   the nearest .NAMErc from the current folder up, the file in env NAME_config, the file of --config,
//   environment NAME_a__b (prefix case-insensitive, `__` nests), command line --a.b=c (minimist: --no-x, repeats).
// Files are JSON when they start with `{` (comments and trailing commas allowed), INI otherwise. Every value keeps
// the source it came from, so an error names it: `environment TetherProcessPinger_ping__interval: ping.interval:
// expected milliseconds …`. Strings are coerced by key ("true" → true, "3000" → 3000 ms); unknown keys are warnings
// (a drop-in must not refuse a file the original accepted), bad values of known keys are errors.

/// <summary>Reads <see cref="PingerSettings"/> from the Tether Process Pinger's config sources.</summary>
public static class PingerConfig
{
    /// <summary>The rc application name: the prefix of files and environment variables.</summary>
    public const string AppName = "TetherProcessPinger";

    static readonly string[] Keys =
    [
        "targetAppName", "tether.host", "tether.port", "tether.username", "tether.password", "tether.agentId",
        "tether.protocol", "tether.path", "tether.protocolVersion", "tether.ca", "tether.cert", "tether.key", "tether.insecureSkipVerify",
        "ping.interval", "ping.timeout", "ping.tetherAgentId", "ping.grace",
        "pm2.enabled", "pm2.processName", "pm2.bin", "datadog.enabled", "datadog.globalTags", "datadog.decodeStats",
        "loglevel", "exitPause", "restart.exec",
    ];

    /// <summary>What a value is and where it came from.</summary>
    sealed record Value(object? Raw, string Source);

    /// <summary>Loads the settings. Throws <see cref="PingerConfigException"/> listing every bad value (each naming
    /// its source and key); unknown keys go to <paramref name="warnings"/>.</summary>
    /// <param name="args">The arguments after <c>pinger</c>.</param>
    /// <param name="environment">The environment variables.</param>
    /// <param name="cwd">Where the search for <c>.TetherProcessPingerrc</c> starts.</param>
    /// <param name="home">The home folder (null: none).</param>
    /// <param name="etc">The system config folder.</param>
    public static PingerSettings Load(IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment, string cwd, string? home,
        List<string>? warnings = null, string etc = "/etc")
    {
        var errors = new List<string>();
        var merged = new Dictionary<string, Value>(StringComparer.Ordinal);
        var argv = ParseArgs(args, errors);
        var env = FromEnvironment(environment);

        var files = new List<string>();
        void AddFile(string? path)
        {
            if (path is null || files.Contains(path)) return;
            if (File.Exists(path)) { files.Add(path); Merge(merged, ReadFile(path, errors)); }
        }
        AddFile(Path.Combine(etc, AppName, "config"));
        AddFile(Path.Combine(etc, AppName + "rc"));
        if (home is not null)
        {
            AddFile(Path.Combine(home, ".config", AppName, "config"));
            AddFile(Path.Combine(home, ".config", AppName));
            AddFile(Path.Combine(home, "." + AppName, "config"));
            AddFile(Path.Combine(home, "." + AppName + "rc"));
        }
        AddFile(FindUp(cwd, "." + AppName + "rc"));
        foreach (var explicitFile in new[] { env.GetValueOrDefault("config"), argv.GetValueOrDefault("config") })
        {
            if (explicitFile?.Raw is not string f) continue;
            if (Limits.HasNul(f)) { errors.Add($"{explicitFile.Source}: config: {Limits.NulMessage}"); continue; }
            var full = Path.GetFullPath(f, cwd);
            if (!File.Exists(full)) errors.Add($"{explicitFile.Source}: config file '{f}' not found");
            else AddFile(full);
        }
        Merge(merged, env);
        Merge(merged, argv);
        merged.Remove("config");
        merged.Remove("configs");

        foreach (var (key, v) in merged)
            if (!Keys.Contains(key))
                warnings?.Add($"{v.Source}: {key}: unknown key, ignored" + (Suggestions.Nearest(key, Keys) is { } near ? $"; did you mean '{near}'?" : ""));

        var s = Bind(merged, cwd, errors);
        if (s.InsecureSkipVerify)
            warnings?.Add($"{merged["tether.insecureSkipVerify"].Source}: tether.insecureSkipVerify: the broker's certificate is not checked; anyone on the path can read and change the traffic (for tests only)");
        if (errors.Count > 0) throw new PingerConfigException(errors);
        return s;
    }

    static PingerSettings Bind(Dictionary<string, Value> m, string cwd, List<string> errors)
    {
        var d = new PingerSettings();
        string Str(string key, string fallback) => m.TryGetValue(key, out var v) ? AsString(v, key, errors) ?? fallback : fallback;
        string? OptStr(string key, string? fallback) => m.TryGetValue(key, out var v) ? AsString(v, key, errors) : fallback;
        bool Bool(string key, bool fallback) => m.TryGetValue(key, out var v) ? AsBool(v, key, errors) ?? fallback : fallback;
        string? PathOf(string key) => OptStr(key, null) is { Length: > 0 } p ? System.IO.Path.GetFullPath(p, cwd) : null;
        TimeSpan Ms(string key, TimeSpan fallback, bool zeroOk = false) => m.TryGetValue(key, out var v) ? AsMs(v, key, zeroOk, errors) ?? fallback : fallback;

        var s = new PingerSettings
        {
            TargetAppName = Str("targetAppName", d.TargetAppName),
            Host = Str("tether.host", d.Host),
            Port = m.TryGetValue("tether.port", out var port) ? AsPort(port, errors) ?? d.Port : d.Port,
            Username = OptStr("tether.username", d.Username),
            Password = OptStr("tether.password", d.Password),
            AgentId = OptStr("tether.agentId", null),
            Protocol = m.TryGetValue("tether.protocol", out var protocol) ? AsProtocol(protocol, errors) ?? d.Protocol : d.Protocol,
            Path = Str("tether.path", d.Path),
            ProtocolVersion = m.TryGetValue("tether.protocolVersion", out var version) ? AsVersion(version, errors) ?? d.ProtocolVersion : d.ProtocolVersion,
            CaFile = PathOf("tether.ca"),
            CertFile = PathOf("tether.cert"),
            KeyFile = PathOf("tether.key"),
            InsecureSkipVerify = Bool("tether.insecureSkipVerify", d.InsecureSkipVerify),
            Interval = Ms("ping.interval", d.Interval),
            Timeout = Ms("ping.timeout", d.Timeout),
            TetherAgentId = OptStr("ping.tetherAgentId", null),
            Grace = Ms("ping.grace", d.Grace, zeroOk: true),
            Pm2Enabled = Bool("pm2.enabled", d.Pm2Enabled),
            Pm2ProcessName = Str("pm2.processName", d.Pm2ProcessName),
            Pm2Bin = Str("pm2.bin", d.Pm2Bin),
            DatadogEnabled = Bool("datadog.enabled", d.DatadogEnabled),
            GlobalTags = m.TryGetValue("datadog.globalTags", out var tags) ? AsList(tags, "datadog.globalTags", errors) ?? d.GlobalTags : d.GlobalTags,
            DecodeStats = Bool("datadog.decodeStats", d.DecodeStats),
            LogLevel = m.TryGetValue("loglevel", out var level) ? AsLevel(level, errors) ?? d.LogLevel : d.LogLevel,
            ExitPause = Ms("exitPause", d.ExitPause, zeroOk: true),
            RestartExec = m.TryGetValue("restart.exec", out var exec) ? AsCommand(exec, errors) : [],
        };
        foreach (var (key, value) in new[] { ("tether.agentId", s.AgentId), ("ping.tetherAgentId", s.TetherAgentId) })
            if (value is not null && value.AsSpan().IndexOfAny("/+#") >= 0)
                errors.Add($"{m[key].Source}: {key}: a Tether agent id cannot contain '/', '+' or '#', got '{value}'");
        if (s.Host.Length == 0) errors.Add($"{m["tether.host"].Source}: tether.host: must not be empty");
        CheckTls(s, m, errors);
        return s;
    }

    /// <summary>TLS files and flags: they need mqtts or wss, a certificate needs its key and the other way round, and
    /// each file must exist; every error names the key.</summary>
    static void CheckTls(PingerSettings s, Dictionary<string, Value> m, List<string> errors)
    {
        string Where(string key) => $"{m[key].Source}: {key}";
        bool tls = s.Protocol is MqttTransport.Tls or MqttTransport.SecureWebSocket;
        foreach (var (key, file) in new[] { ("tether.ca", s.CaFile), ("tether.cert", s.CertFile), ("tether.key", s.KeyFile) })
        {
            if (file is null) continue;
            if (!tls) errors.Add($"{Where(key)}: needs tether.protocol mqtts or wss (TLS), not {m.GetValueOrDefault("tether.protocol")?.Raw ?? "mqtt"}");
            else if (!File.Exists(file)) errors.Add($"{Where(key)}: file '{file}' does not exist");
        }
        if (s.InsecureSkipVerify && !tls) errors.Add($"{Where("tether.insecureSkipVerify")}: needs tether.protocol mqtts or wss (TLS)");
        if (s.CertFile is not null && s.KeyFile is null) errors.Add($"{Where("tether.cert")}: a client certificate needs tether.key (its private key)");
        if (s.KeyFile is not null && s.CertFile is null) errors.Add($"{Where("tether.key")}: a key needs tether.cert (the client certificate it belongs to)");
    }

    static MqttTransport? AsProtocol(Value v, List<string> errors) =>
        v.Raw is string s && MqttClientOptions.ParseTransport(s) is { } t ? t
        : Fail<MqttTransport?>(errors, Expected(v, "tether.protocol", MqttClientOptions.TransportNames));

    static int? AsVersion(Value v, List<string> errors) => v.Raw switch
    {
        double n when n is 4 or 5 => (int)n,
        string s when s.Trim() is "4" or "3.1.1" => 4,
        string s when s.Trim() is "5" or "5.0" => 5,
        _ => Fail<int?>(errors, Expected(v, "tether.protocolVersion", "4 (MQTT 3.1.1) or 5 (MQTT 5)")),
    };

    static string Expected(Value v, string key, string what) => $"{v.Source}: {key}: expected {what}, got {Show(v.Raw)}";

    static string Show(object? raw) => raw switch
    {
        null => "null",
        string s => $"'{s}'",
        bool b => b ? "true" : "false",
        double n => n.ToString(CultureInfo.InvariantCulture),
        List<object?> l => $"a list of {l.Count}",
        _ => raw.ToString() ?? "?",
    };

    static string? AsString(Value v, string key, List<string> errors) => v.Raw switch
    {
        null => null,
        // A JSON file can hold "\u0000"; exec(2) and the environment would cut the value there.
        string s when Limits.HasNul(s) => Fail<string>(errors, $"{v.Source}: {key}: {Limits.NulMessage}"),
        string s => s,
        double n => n.ToString(CultureInfo.InvariantCulture),
        _ => Fail<string>(errors, Expected(v, key, "a string")),
    };

    static bool? AsBool(Value v, string key, List<string> errors) => v.Raw switch
    {
        bool b => b,
        string s when s.Trim().Equals("true", StringComparison.OrdinalIgnoreCase) => true,
        string s when s.Trim().Equals("false", StringComparison.OrdinalIgnoreCase) => false,
        _ => Fail<bool?>(errors, Expected(v, key, "true or false")),
    };

    static TimeSpan? AsMs(Value v, string key, bool zeroOk, List<string> errors)
    {
        TimeSpan? t = v.Raw switch
        {
            double n when double.IsFinite(n) && n >= 0 && n < int.MaxValue => TimeSpan.FromMilliseconds(n),
            string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0 && n < int.MaxValue => TimeSpan.FromMilliseconds(n),
            string s when Durations.TryParse(s, out var d) => d,
            _ => null,
        };
        if (t is null || (!zeroOk && t <= TimeSpan.Zero))
            return Fail<TimeSpan?>(errors, Expected(v, key, (zeroOk ? "" : "more than 0 ") + "milliseconds (a number like 3000, or a duration like 3s)"));
        // Each of these is one timer's wait.
        if (Limits.TimerWait(t.Value, key) is { } tooLong) return Fail<TimeSpan?>(errors, $"{v.Source}: {tooLong}");
        return t;
    }

    static int? AsPort(Value v, List<string> errors) => v.Raw switch
    {
        double n when n == Math.Floor(n) && n is >= 1 and <= 65535 => (int)n,
        string s when int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is >= 1 and <= 65535 => p,
        _ => Fail<int?>(errors, Expected(v, "tether.port", "a port number 1-65535")),
    };

    static PingerLogLevel? AsLevel(Value v, List<string> errors) =>
        v.Raw is string s && Enum.TryParse<PingerLogLevel>(s.Trim(), ignoreCase: true, out var level) && !int.TryParse(s, out _) ? level
        : Fail<PingerLogLevel?>(errors, Expected(v, "loglevel", "one of trace, debug, info, warn, error, fatal, off"));

    /// <summary>A list: a JSON/INI array or repeated flag, a string holding a JSON array, or comma-separated text.</summary>
    static ImmutableArray<string>? AsList(Value v, string key, List<string> errors)
    {
        var list = AsListUnchecked(v, key, errors);
        if (list is { } l && l.Any(Limits.HasNul)) return Fail<ImmutableArray<string>?>(errors, $"{v.Source}: {key}: {Limits.NulMessage}");
        return list;
    }

    static ImmutableArray<string>? AsListUnchecked(Value v, string key, List<string> errors)
    {
        switch (v.Raw)
        {
            case List<object?> items when items.All(i => i is string or double):
                return [.. items.Select(i => i is double n ? n.ToString(CultureInfo.InvariantCulture) : (string)i!)];
            case string s when s.TrimStart().StartsWith('['):
                // Read with JsonDocument, not JsonSerializer: no reflection (the shipped build is Native AOT).
                try
                {
                    using var doc = JsonDocument.Parse(s);
                    if (doc.RootElement.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
                        return Fail<ImmutableArray<string>?>(errors, Expected(v, key, "a JSON list of strings"));
                    return [.. doc.RootElement.EnumerateArray().Select(e => e.GetString()!)];
                }
                catch (JsonException e) { return Fail<ImmutableArray<string>?>(errors, Expected(v, key, $"a JSON list of strings ({e.Message})")); }
            case string s:
                return [.. s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            default:
                return Fail<ImmutableArray<string>?>(errors, Expected(v, key, "a list of strings"));
        }
    }

    /// <summary><c>restart.exec</c>: a string runs through <c>sh -c</c>; a list is the argv.</summary>
    static ImmutableArray<string> AsCommand(Value v, List<string> errors)
    {
        if (v.Raw is string s && !s.TrimStart().StartsWith('['))
        {
            if (Limits.HasNul(s)) return Fail<ImmutableArray<string>>(errors, $"{v.Source}: restart.exec: {Limits.NulMessage}");
            return string.IsNullOrWhiteSpace(s) ? [] : ["/bin/sh", "-c", s];
        }
        var argv = AsList(v, "restart.exec", errors);
        return argv is { Length: > 0 } a ? a : [];
    }

    static T Fail<T>(List<string> errors, string message)
    {
        errors.Add(message);
        return default!;
    }

    static void Merge(Dictionary<string, Value> into, Dictionary<string, Value> from)
    {
        foreach (var (key, v) in from)
        {
            // A scalar replaces a whole object below it and an object replaces a scalar at its own key (deep-extend).
            foreach (var k in into.Keys.Where(k => k.StartsWith(key + ".", StringComparison.Ordinal) || key.StartsWith(k + ".", StringComparison.Ordinal)).ToList())
                into.Remove(k);
            into[key] = v;
        }
    }

    static string? FindUp(string start, string name)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>minimist's rules: <c>--a.b=c</c>, <c>--a.b c</c>, <c>--flag</c> (true), <c>--no-flag</c> (false); a key
    /// given twice becomes a list. Values stay strings and are coerced by key.</summary>
    static Dictionary<string, Value> ParseArgs(IReadOnlyList<string> args, List<string> errors)
    {
        var result = new Dictionary<string, Value>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2)
            {
                errors.Add($"command line: unexpected argument '{a}' (options look like --ping.interval=3000)");
                continue;
            }
            var body = a[2..];
            string key;
            object? value;
            int eq = body.IndexOf('=');
            if (eq > 0) (key, value) = (body[..eq], body[(eq + 1)..]);
            else if (body.StartsWith("no-", StringComparison.Ordinal)) (key, value) = (body[3..], false);
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) (key, value) = (body, args[++i]);
            else (key, value) = (body, true);
            var source = $"command line --{key}";
            if (result.TryGetValue(key, out var earlier))
                value = earlier.Raw is List<object?> list ? [.. list, value] : new List<object?> { earlier.Raw, value };
            result[key] = new Value(value, source);
        }
        return result;
    }

    /// <summary>rc's env rule: variables starting with <c>TetherProcessPinger_</c> (any case), the rest split on <c>__</c>.</summary>
    static Dictionary<string, Value> FromEnvironment(IReadOnlyDictionary<string, string> environment)
    {
        var result = new Dictionary<string, Value>(StringComparer.Ordinal);
        var prefix = AppName + "_";
        foreach (var (name, value) in environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (!name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) continue;
            var parts = name[prefix.Length..].Split("__", StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0) continue;
            result[string.Join('.', parts)] = new Value(value, $"environment {name}");
        }
        return result;
    }

    static Dictionary<string, Value> ReadFile(string path, List<string> errors)
    {
        var result = new Dictionary<string, Value>(StringComparer.Ordinal);
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add($"{path}: cannot read: {e.Message}");
            return result;
        }
        if (text.TrimStart().StartsWith('{'))
        {
            try
            {
                using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
                Flatten(doc.RootElement, "", path, result);
            }
            catch (JsonException e) { errors.Add($"{path}: invalid JSON: {e.Message}"); }
        }
        else ReadIni(text, path, result, errors);
        return result;
    }

    static void Flatten(JsonElement e, string prefix, string source, Dictionary<string, Value> into)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in e.EnumerateObject()) Flatten(p.Value, prefix.Length == 0 ? p.Name : $"{prefix}.{p.Name}", source, into);
            return;
        }
        into[prefix] = new Value(Scalar(e), source);
    }

    static object? Scalar(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => e.EnumerateArray().Select(Scalar).ToList(),
        JsonValueKind.Object => e.GetRawText(),
        _ => null,
    };

    /// <summary>The npm <c>ini</c> format as rc reads it: <c>[a.b]</c> sections nest, <c>key = value</c>, <c>key[] = v</c>
    /// lists, <c>;</c> and <c>#</c> comments, quotes stripped, true/false/null as such.</summary>
    static void ReadIni(string text, string source, Dictionary<string, Value> into, List<string> errors)
    {
        string section = "";
        var lines = text.Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            var line = lines[n].Trim();
            if (line.Length == 0 || line[0] is ';' or '#') continue;
            if (line[0] == '[' && line[^1] == ']') { section = line[1..^1].Trim(); continue; }
            int eq = line.IndexOf('=');
            if (eq <= 0) { errors.Add($"{source}:{n + 1}: expected 'key = value' or '[section]', got '{line}'"); continue; }
            var key = line[..eq].Trim();
            var raw = line[(eq + 1)..].Trim();
            if (raw.Length >= 2 && (raw[0] == '"' && raw[^1] == '"' || raw[0] == '\'' && raw[^1] == '\'')) raw = raw[1..^1];
            object? value = raw switch { "true" => true, "false" => false, "null" => null, _ => raw };
            bool isList = key.EndsWith("[]", StringComparison.Ordinal);
            if (isList) key = key[..^2];
            var full = section.Length == 0 ? key : $"{section}.{key}";
            if (isList) value = into.TryGetValue(full, out var earlier) && earlier.Raw is List<object?> l ? [.. l, value] : new List<object?> { value };
            into[full] = new Value(value, source);
        }
    }
}

/// <summary>Bad pinger configuration; each error names its source and key.</summary>
public sealed class PingerConfigException(IReadOnlyList<string> errors) : Exception(string.Join("; ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
