using System.Collections.Immutable;
using Vigil.Launching;
using Vigil.Specs;

namespace Vigil.Config;

// The `hooks:` mapping, at the top level and in a process: event kind → a hook or a list of hooks, and minInterval.
public static partial class ConfigLoader
{
    private static readonly string[] HookKeys = ["exec", "shell", "webhook", "mqtt", "timeout", "cwd", "env"];
    private static readonly string[] HookKinds = ["exec", "shell", "webhook", "mqtt"];
    private static readonly string[] WebhookKeys = ["url", "method", "headers", "slack", "format", "timeout"];
    private static readonly string[] MqttHookKeys = ["topic", "qos", "retain", "timeout"];
    private static readonly (string, WebhookFormat)[] WebhookFormats = [("json", WebhookFormat.Json), ("slack", WebhookFormat.Slack)];

    /// <summary>The start-up checks of exec hooks (<see cref="LoadChecked"/>): the program is found and executable,
    /// and a given cwd is a folder, as the spawn will look them up. A <c>shell:</c> hook runs sh, which is there.</summary>
    private static IEnumerable<ConfigError> HookChecks(VigilConfig config, Mapper mapper, string file)
    {
        var sets = config.Processes.Select((p, i) => (p.Hooks, Path: $"{Index(i)}.hooks", Cwd: CommandResolver.WorkingDirectory(p)))
            .Append((Hooks: (HookSet?)config.Hooks, Path: "hooks", Cwd: Environment.CurrentDirectory));
        foreach (var (hooks, path, unitCwd) in sets)
        {
            if (hooks is null || hooks.IsEmpty) continue;
            foreach (var b in hooks.Bindings)
                for (int j = 0; j < b.Actions.Length; j++)
                {
                    if (b.Actions[j] is not ExecHook { Shell: null } hook) continue;
                    var hookPath = b.Actions.Length == 1 ? $"{path}.{b.Event}" : $"{path}.{b.Event}[{j}]";
                    var cwd = hook.Cwd ?? unitCwd;
                    if (hook.Cwd is null && Launcher.CheckWorkingDirectory(cwd) is not null) continue; // the unit's own error says so
                    var (key, failure) = Launcher.CheckWorkingDirectory(cwd) is { } badCwd ? ("cwd", badCwd)
                        : ("exec", Launcher.ResolveExecutable(hook.Command[0], cwd,
                            Launcher.FindEnv(CommandResolver.Environment(new ProcessSpec(), hook.Env), "PATH") ?? Launcher.DefaultPath).Failure);
                    if (failure is null) continue;
                    var at = mapper.PositionOf($"{hookPath}.{key}") ?? mapper.PositionOf(hookPath) ?? new Pos(1, 1);
                    yield return new ConfigError(file, at.Line, at.Column, $"{hookPath}.{key}", failure.Message);
                }
        }
    }

    internal sealed partial class Mapper
    {
        /// <summary>Where each <c>mqtt:</c> hook was written: checked against the registered transport once the whole
        /// file (and its broker section, wherever it is) has been read.</summary>
        private readonly List<(Pos At, string Path)> _mqttHooks = [];

        /// <summary>A <c>hooks:</c> mapping; null when it is null or not a mapping (reported).</summary>
        private HookSet? Hooks(YNode v, string path, Pos at)
        {
            if (Mapping(v, path, at) is not { } map) return null;
            var set = HookSet.Empty;
            var bindings = ImmutableArray.CreateBuilder<HookBinding>();
            var seen = new Dictionary<string, Pos>(StringComparer.Ordinal);
            string[] known = ["minInterval", HookEvents.Any, .. HookEvents.Kinds];
            foreach (var (k, value) in map.Entries)
            {
                if (k is not YScalar { IsNull: false } ks)
                {
                    Error(k.Start, path, $"expected an event kind (exited, gave-up, …) or minInterval, got {k.Describe()}");
                    continue;
                }
                // `*` is another way to write `any`.
                var key = ks.Value == "*" ? HookEvents.Any : ks.Value;
                var keyPath = Join(path, ks.Value);
                if (seen.TryGetValue(key, out var first))
                {
                    Error(ks.Start, keyPath, $"duplicate key (already given at line {first.Line}{(key == HookEvents.Any ? "; '*' and 'any' are the same" : "")})");
                    continue;
                }
                seen[key] = ks.Start;
                _keyPositions[keyPath] = ks.Start;
                if (key == "minInterval")
                {
                    if (Duration(value, keyPath, ks.Start) is { } interval) set = set with { MinInterval = interval };
                    continue;
                }
                if (!HookEvents.IsKnown(key))
                {
                    var near = HookEvents.NeverHooked(key) || ErrorsFull ? null : Suggestions.Nearest(key, known);
                    Error(ks.Start, keyPath, HookEvents.UnknownMessage(key)
                        + (near is not null ? $"; did you mean '{near}'?" : HookEvents.NeverHooked(key) ? "" : $" (expected one of: minInterval, any, {string.Join(", ", HookEvents.Kinds)})"));
                    continue;
                }
                var actions = HookList(value, key == ks.Value ? keyPath : Join(path, key), ks.Start);
                if (actions.Length > 0) bindings.Add(new HookBinding(key, actions));
            }
            return set with { Bindings = bindings.ToImmutable() };
        }

        /// <summary>One hook (a mapping) or a list of them.</summary>
        private ImmutableArray<HookAction> HookList(YNode v, string path, Pos at)
        {
            switch (v)
            {
                case YScalar { IsNull: true }:
                    return [];
                case YMapping m:
                    return Hook(m, path) is { } one ? [one] : [];
                case YSequence seq:
                    var list = ImmutableArray.CreateBuilder<HookAction>(seq.Items.Count);
                    for (int i = 0; i < seq.Items.Count; i++)
                    {
                        // A list of one is written as the hook alone: the same key path, as the spec's validation names it.
                        var itemPath = seq.Items.Count == 1 ? path : Index(path, i);
                        if (seq.Items[i] is YMapping im) { if (Hook(im, itemPath) is { } h) list.Add(h); }
                        else Error(seq.Items[i].Start, itemPath, $"expected a hook ({{ exec: [cmd, args…] }}, {{ webhook: URL }}, {{ mqtt: {{ topic: … }} }}), got {seq.Items[i].Describe()}");
                    }
                    return list.ToImmutable();
                default:
                    Error(at, path, $"expected a hook ({{ exec: [cmd, args…] }}, {{ shell: \"…\" }}, {{ webhook: URL }}, {{ mqtt: {{ topic: … }} }}) or a list of them, got {v.Describe()}");
                    return [];
            }
        }

        private HookAction? Hook(YMapping map, string path)
        {
            HookAction? hook = null;
            string? kind = null;
            TimeSpan? timeout = null, innerTimeout = null;
            string? cwd = null;
            ImmutableDictionary<string, string?>? env = null;
            Pos cwdAt = default, envAt = default, timeoutAt = default;
            foreach (var (key, keyPath, at, v) in Entries(map, path, HookKeys))
            {
                if (HookKinds.Contains(key))
                {
                    if (kind is not null)
                    {
                        Error(at, keyPath, $"a hook does one thing: '{kind}' is given already (a list holds several hooks)");
                        continue;
                    }
                    kind = key;
                }
                switch (key)
                {
                    case "exec":
                        var argv = Command(v, keyPath, at);
                        if (!argv.IsDefaultOrEmpty) hook = new ExecHook(argv);
                        break;
                    case "shell":
                        if (String(v, keyPath, at) is { } line)
                        {
                            if (line.Trim().Length == 0) Error(at, keyPath, "must not be empty (give the command line sh -c runs)");
                            else hook = ExecHook.ShellLine(line);
                        }
                        break;
                    case "webhook":
                        (hook, innerTimeout) = Webhook(v, keyPath, at);
                        break;
                    case "mqtt":
                        (hook, innerTimeout) = MqttHook(v, keyPath, at);
                        if (hook is not null) _mqttHooks.Add((at, keyPath));
                        break;
                    case "timeout":
                        timeout = Duration(v, keyPath, at);
                        timeoutAt = at;
                        break;
                    case "cwd":
                        cwd = String(v, keyPath, at);
                        if (cwd is { Length: 0 }) { Error(at, keyPath, "must not be empty (leave it out for the unit's folder)"); cwd = null; }
                        cwdAt = at;
                        break;
                    case "env":
                        env = Env(v, keyPath, at);
                        envAt = at;
                        break;
                }
            }
            if (kind is null)
            {
                Error(map.Start, path, "a hook needs one of exec, shell, webhook or mqtt");
                return null;
            }
            if (kind is not ("exec" or "shell"))
            {
                if (cwd is not null) Error(cwdAt, Join(path, "cwd"), "only an exec or shell hook has a working folder");
                if (env is not null) Error(envAt, Join(path, "env"), "only an exec or shell hook has an environment");
            }
            if (timeout is not null && innerTimeout is not null)
                Error(timeoutAt, Join(path, "timeout"), $"given twice: here and in {kind}.timeout (keep one)");
            return hook switch
            {
                null => null,
                ExecHook x => x with
                {
                    Timeout = timeout ?? HookAction.DefaultTimeout,
                    Cwd = cwd is null ? null : Path.GetFullPath(cwd, baseDir),
                    Env = env ?? ImmutableDictionary<string, string?>.Empty,
                },
                _ => hook with { Timeout = timeout ?? innerTimeout ?? HookAction.DefaultTimeout },
            };
        }

        /// <summary><c>webhook: URL</c> or <c>webhook: { url, method, headers, slack, format, timeout }</c>; the timeout
        /// given inside, if any, comes back separately.</summary>
        private (HookAction?, TimeSpan?) Webhook(YNode v, string path, Pos at)
        {
            if (v is YScalar { IsNull: false }) return (Url(v, path, at) is { } only ? new WebhookHook(only) : null, null);
            if (Mapping(v, path, at) is not { } map) return (null, null);
            Uri? url = null;
            bool urlGiven = false;
            string method = "POST";
            var headers = ImmutableDictionary<string, string>.Empty;
            bool? slack = null;
            WebhookFormat? format = null;
            TimeSpan? timeout = null;
            Pos formatAt = default;
            foreach (var (key, keyPath, kAt, kv) in Entries(map, path, WebhookKeys))
            {
                switch (key)
                {
                    case "url": url = Url(kv, keyPath, kAt); urlGiven = true; break;
                    case "method": method = String(kv, keyPath, kAt)?.Trim().ToUpperInvariant() ?? method; break;
                    case "headers": headers = Headers(kv, keyPath, kAt); break;
                    case "slack": slack = Bool(kv, keyPath, kAt); break;
                    case "format": format = Choice(kv, keyPath, kAt, WebhookFormats); formatAt = kAt; break;
                    case "timeout": timeout = Duration(kv, keyPath, kAt); break;
                }
            }
            if (!urlGiven) Error(map.Start, Join(path, "url"), "missing: the URL to send the event to");
            if (slack is not null && format is not null && (slack == true) != (format == WebhookFormat.Slack))
                Error(formatAt, Join(path, "format"), "disagrees with 'slack' (give one of them)");
            var hook = url is null ? null : new WebhookHook(url)
            {
                Method = method,
                Headers = headers,
                Format = format ?? (slack == true ? WebhookFormat.Slack : WebhookFormat.Json),
            };
            return (hook, timeout);
        }

        private Uri? Url(YNode v, string path, Pos at)
        {
            if (String(v, path, at) is not { } text) return null;
            if (Uri.TryCreate(text.Trim(), UriKind.Absolute, out var url)) return url;
            Error(at, path, $"expected an http:// or https:// URL, got {Show(text)}");
            return null;
        }

        private ImmutableDictionary<string, string> Headers(YNode v, string path, Pos at)
        {
            if (Mapping(v, path, at) is not { } map) return ImmutableDictionary<string, string>.Empty;
            var headers = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (k, value) in map.Entries)
            {
                if (k is not YScalar { IsNull: false } ks) { Error(k.Start, path, $"expected a header name, got {k.Describe()}"); continue; }
                var keyPath = Join(path, ks.Value);
                _keyPositions[keyPath] = ks.Start;
                if (headers.ContainsKey(ks.Value)) { Error(ks.Start, keyPath, "duplicate header"); continue; }
                if (String(value, keyPath, ks.Start) is { } s) headers[ks.Value] = s;
            }
            return headers.ToImmutable();
        }

        /// <summary><c>mqtt: TOPIC</c> or <c>mqtt: { topic, qos, retain, timeout }</c>.</summary>
        private (HookAction?, TimeSpan?) MqttHook(YNode v, string path, Pos at)
        {
            if (v is YScalar { IsNull: false })
            {
                _keyPositions[Join(path, "topic")] = at; // the topic's own problems are reported here
                return (String(v, path, at) is { } only ? new MqttHook(only) : null, null);
            }
            if (Mapping(v, path, at) is not { } map) return (null, null);
            string? topic = null;
            int qos = 1;
            bool retain = false;
            TimeSpan? timeout = null;
            foreach (var (key, keyPath, kAt, kv) in Entries(map, path, MqttHookKeys))
            {
                switch (key)
                {
                    case "topic": topic = String(kv, keyPath, kAt); break;
                    case "qos": qos = Int(kv, keyPath, kAt) ?? qos; break;
                    case "retain": retain = Bool(kv, keyPath, kAt) ?? retain; break;
                    case "timeout": timeout = Duration(kv, keyPath, kAt); break;
                }
            }
            if (topic is null) { Error(map.Start, Join(path, "topic"), "missing: the topic to publish the event on"); return (null, timeout); }
            return (new MqttHook(topic) { Qos = qos, Retain = retain }, timeout);
        }

        /// <summary>After the whole file: every <c>mqtt:</c> hook needs the program's MQTT transport and the file's
        /// broker section it publishes through.</summary>
        private void CheckMqttHooks(ConfigSections sections)
        {
            if (_mqttHooks.Count == 0) return;
            var transport = extensions?.HookTransport("mqtt");
            foreach (var (at, path) in _mqttHooks)
            {
                if (transport is null)
                    Error(at, path, "this program has no MQTT connection to publish through (the vigil executable has: it uses the broker of the 'tether:' section)");
                else if (!sections.All.Any(s => ReferenceEquals(s.Section, transport.Connection)))
                    Error(at, path, $"publishes through the '{transport.Connection.Name}:' connection, and this config has no '{transport.Connection.Name}:' section (add one naming the broker)");
            }
        }
    }
}
