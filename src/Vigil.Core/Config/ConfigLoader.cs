using System.Collections.Immutable;
using System.Globalization;
using System.Numerics;
using System.Text.RegularExpressions;
using Vigil.Launching;
using Vigil.Specs;
using YamlDotNet.Core;

namespace Vigil.Config;

/// <summary>
/// Reads a Vigil config file (YAML or JSON) into validated <see cref="ProcessSpec"/>s. Every problem in the file is
/// collected (wrong kinds, bad values, unknown keys with a suggestion, spec validation) and thrown together as one
/// <see cref="ConfigException"/>, each error as <c>file:line:col: key.path: what was expected</c>. A file that loads
/// is complete: nothing half-starts.
/// </summary>
public static partial class ConfigLoader
{
    /// <summary>Loads the file at <paramref name="path"/>. Errors name the file as given; relative <c>cwd</c>s resolve
    /// against the file's folder.</summary>
    /// <exception cref="ConfigException">The file is missing, unreadable, not YAML/JSON, or not a valid config.</exception>
    /// <param name="extensions">Sections and probe kinds beyond the built-in ones (Vigil.Tether's <c>tether:</c>); without
    /// them their keys are unknown keys.</param>
    public static VigilConfig Load(string path, ConfigExtensions? extensions = null) => Read(path, extensions).Config;

    /// <summary>The load itself, with the mapper that knows where each key was written.</summary>
    private static (VigilConfig Config, Mapper Mapper) Read(string path, ConfigExtensions? extensions)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full;
        try
        {
            full = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw FileError(path, "not a valid file path");
        }
        if (Directory.Exists(full)) throw FileError(path, "is a folder, not a config file");
        if (!File.Exists(full)) throw FileError(path, "file does not exist");
        string text;
        try
        {
            text = File.ReadAllText(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw FileError(path, $"cannot read the file: {e.Message}");
        }
        var mapper = new Mapper(path, Path.GetDirectoryName(full)!, extensions);
        return (mapper.Map(text, full), mapper);
    }

    /// <summary>Parses config text. <paramref name="sourceName"/> names the file in errors (and becomes
    /// <see cref="VigilConfig.SourcePath"/>); relative <c>cwd</c>s, and the package.json check, use <paramref name="baseDir"/>.</summary>
    /// <exception cref="ConfigException">The text is not YAML/JSON or not a valid config.</exception>
    public static VigilConfig Parse(string text, string sourceName, string baseDir, ConfigExtensions? extensions = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(sourceName);
        ArgumentNullException.ThrowIfNull(baseDir);
        return new Mapper(sourceName, Path.GetFullPath(baseDir), extensions).Map(text, sourceName);
    }

    private static ConfigException FileError(string file, string message) => new([new ConfigError(file, 0, 0, "", message)]);

    // Keys this version knows, per mapping, in the order they are documented (the order breaks suggestion ties).
    // Extension sections come between processes and events.
    internal static readonly string[] BuiltInTopKeys = ["name", "processes", "events", "history", "hooks", "templates"];
    private static readonly string[] EventsKeys = ["status"];
    private static readonly string[] HistoryKeys = ["enabled", "keep", "maxSize"];
    private static readonly (string, Supervision.StatusEvents)[] StatusEventChoices =
        [("significant", Supervision.StatusEvents.Significant), ("all", Supervision.StatusEvents.All)];
    private static readonly string[] TopKeysNotYet = [];
    internal static readonly string[] ProcessKeys = ["name", "command", "script", "args", "cwd", "env", "detach", "ipc", "tty", "tmux", "restart", "stop", "log", "health", "hooks", "autostart", "cpuAffinity", "attach"];
    private static readonly string[] AttachKeys = ["pid", "pidfile", "systemd", "probe", "poll"];
    private static readonly string[] ProcessKeysNotYet = [];
    private static readonly string[] LogKeys = ["file", "out", "err", "timestamps", "stream", "prefix", "stripAnsi", "maxSize", "keep", "maxLine", "ringLines", "echo"];
    private static readonly string[] RestartKeys = ["policy", "schedule", "resetAfter", "backoff", "limit", "max"];
    private static readonly string[] BackoffKeys = ["initial", "multiplier", "max", "jitter"];
    private static readonly string[] LimitKeys = ["restarts", "within", "then", "retryEvery"];
    private static readonly string[] StopKeys = ["signal", "timeout", "killWait"];

    private static readonly (string, RestartPolicyKind)[] Policies =
        [("always", RestartPolicyKind.Always), ("on-failure", RestartPolicyKind.OnFailure), ("never", RestartPolicyKind.Never)];
    private static readonly (string, LogEcho)[] EchoChoices = [("none", LogEcho.None), ("out", LogEcho.Out), ("err", LogEcho.Err), ("both", LogEcho.Both)];
    private static readonly (string, LimitAction)[] LimitActions = [("slow-retry", LimitAction.SlowRetry), ("stop", LimitAction.Stop)];

    internal static readonly TimeSpan DefaultBackoffInitial = TimeSpan.FromSeconds(1);
    internal const double DefaultBackoffMultiplier = 2;
    internal static readonly TimeSpan DefaultBackoffMax = TimeSpan.FromMinutes(5);

    // YamlException.Message is "(Line: 3, Col: 5, Idx: 20) - (Line: 3, Col: 6, Idx: 21): what"; we report the position ourselves.
    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex YamlPositionPrefix();

    /// <summary>One load: the errors found so far and where each key was written (to place spec-validation errors).</summary>
    internal sealed partial class Mapper(string file, string baseDir, ConfigExtensions? extensions)
    {
        /// <summary>The config file's folder: relative paths resolve against it.</summary>
        public string BaseDir => baseDir;

        private readonly List<ConfigError> _errors = [];

        /// <summary>Errors kept for the message. A file of garbage (or a fuzzer's) can hold an error every few bytes:
        /// past this many, the rest are only counted, so the work and memory stay small and the output readable.</summary>
        internal const int MaxErrors = 100;

        /// <summary>Every error found, kept or not.</summary>
        private int _errorCount;
        private Pos _firstDropped;

        private bool ErrorsFull => _errors.Count >= MaxErrors;
        private readonly Dictionary<string, Pos> _keyPositions = new(StringComparer.Ordinal);

        /// <summary>Notes where a list item was written, so errors about it are placed there.</summary>
        internal void Remember(string keyPath, Pos at) => _keyPositions[keyPath] = at;

        /// <summary>Where <paramref name="keyPath"/> (a key, or a <c>processes[i]</c> entry) was written, if it was.</summary>
        public Pos? PositionOf(string keyPath) => _keyPositions.TryGetValue(keyPath, out var at) ? at : null;

        public VigilConfig Map(string text, string sourcePath)
        {
            YNode? root = null;
            try
            {
                root = YamlTree.Parse(text.StartsWith('\uFEFF') ? text[1..] : text);
            }
            catch (YamlException e)
            {
                var at = Pos.From(e.Start);
                var what = YamlPositionPrefix().Replace(e.Message, "");
                Error(at, "", e is YamlLimitException ? what : $"not valid YAML or JSON: {what}");
                Throw();
            }

            var processes = new List<ProcessSpec>();
            var sections = ConfigSections.Empty;
            string? name = null;
            var statusEvents = Supervision.StatusEvents.Significant;
            var history = Telemetry.History.HistorySettings.Default;
            HookSet? hooks = null;
            (string Folder, IReadOnlyList<LigatoTemplate> Templates)? templates = null;
            if (root is null || root is YScalar { IsNull: true })
                Error(root?.Start ?? new Pos(1, 1), "processes", "no processes to run");
            else if (root is not YMapping top)
                Error(root.Start, "", $"expected a mapping with a 'processes' list at the top level, got {root.Describe()}");
            else if (!top.Entries.Any(e => e.Key is YScalar { Value: "processes" })
                && extensions?.ImportFor(top.Entries.Select(e => e.Key is YScalar k ? k.Value : "")) is { } import)
            {
                // A foreign format read as it is (a COPS file): its own keys go to the import, sections and name as usual.
                string[] keys = [.. import.Keys, .. extensions.Sections.Select(s => s.Name), "name"];
                var values = new List<ConfigValue>();
                foreach (var (key, keyPath, at, value) in Entries(top, "", keys))
                {
                    if (extensions.Section(key) is { } section)
                    {
                        sections = ReadSection(sections, section, value, keyPath, at);
                    }
                    else if (key == "name") name = InstanceName(value, keyPath, at);
                    else values.Add(new ConfigValue(this, key, keyPath, at, value));
                }
                foreach (var (spec, keyPath) in import.Map(values))
                {
                    var at = PositionOf(keyPath) ?? top.Start;
                    _keyPositions.TryAdd(keyPath, at);
                    Problems(spec.Validate(), keyPath, at);
                    processes.Add(spec);
                }
                if (processes.Count == 0 && _errors.Count == 0) Error(top.Start, import.DetectKey, $"no processes in this {import.Name} file");
            }
            else
            {
                YNode? list = null;
                Pos listAt = top.Start;
                string[] topKeys = [.. BuiltInTopKeys[..2], .. extensions?.Sections.Select(s => s.Name) ?? [], .. BuiltInTopKeys[2..]];
                foreach (var (key, keyPath, at, value) in Entries(top, "", topKeys, TopKeysNotYet))
                {
                    if (key == "processes") (list, listAt) = (value, at);
                    else if (extensions?.Section(key) is { } section)
                    {
                        sections = ReadSection(sections, section, value, keyPath, at);
                    }
                    else if (key == "name") name = InstanceName(value, keyPath, at);
                    else if (key == "events" && Mapping(value, keyPath, at) is { } em)
                        foreach (var (_, ePath, eAt, eValue) in Entries(em, keyPath, EventsKeys))
                            statusEvents = Choice(eValue, ePath, eAt, StatusEventChoices) ?? statusEvents;
                    else if (key == "history") history = History(value, keyPath, at) ?? history;
                    else if (key == "hooks" && Hooks(value, keyPath, at) is { } h) Problems((hooks = h).Validate(), keyPath, at);
                    else if (key == "templates") templates = Templates(value, keyPath, at);
                }
                // A folder of templates is enough to run: the processes list may then be left out.
                if (templates is null || list is not (null or YSequence { Items.Count: 0 })) MapProcesses(list, listAt, processes);
            }
            CheckMqttHooks(sections);
            Throw();
            return new VigilConfig(sourcePath, processes)
            {
                Sections = sections, Name = name ?? VigilConfig.DefaultName, StatusEvents = statusEvents, History = history, Hooks = hooks ?? HookSet.Empty,
                TemplatesFolder = templates?.Folder, Templates = templates?.Templates ?? [],
            };
        }

        /// <summary>An extension's top-level section read into <paramref name="sections"/> (unchanged when it is not a mapping).</summary>
        private ConfigSections ReadSection(ConfigSections sections, ConfigSection section, YNode value, string keyPath, Pos at) =>
            Mapping(value, keyPath, at) is { } sm ? sections.With(section, section.Read(keys => Values(sm, keyPath, keys), (k, m) => Error(at, Join(keyPath, k), m))) : sections;

        private void Throw()
        {
            if (_errors.Count == 0) return;
            var sorted = _errors.OrderBy(e => e.Line).ThenBy(e => e.Column).ToList();
            if (_errorCount > _errors.Count)
                sorted.Add(new ConfigError(file, _firstDropped.Line, _firstDropped.Column, "",
                    string.Create(CultureInfo.InvariantCulture, $"... and {_errorCount - _errors.Count:N0} more errors (only the first {MaxErrors} are listed)")));
            throw new ConfigException(sorted);
        }

        internal void Error(Pos at, string keyPath, string message)
        {
            if (_errorCount++ == MaxErrors) _firstDropped = at;
            if (ErrorsFull) return;
            // A key can be any quoted string: keep the error on one line whatever it holds.
            _errors.Add(new ConfigError(file, at.Line, at.Column, OneLine(Shorten(keyPath)), OneLine(message)));
        }

        /// <summary>A key path cut to 200 characters: a key can be as long as the file.</summary>
        private static string Shorten(string keyPath) => keyPath.Length <= 200 ? keyPath : keyPath[..200] + "…";

        private static string OneLine(string s) => s.AsSpan().IndexOfAny("\n\r\0") < 0 ? s : s.Replace("\n", "\\n").Replace("\r", "\\r").Replace("\0", "\\0");

        private static string Show(string value) => YScalar.Show(value);

        private static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;

        private static string Index(string path, int i) => string.Create(CultureInfo.InvariantCulture, $"{path}[{i}]");

        /// <summary>The entries of a mapping whose keys are known, reporting (and skipping) duplicate, unknown, not yet
        /// supported and non-scalar keys. Yields each entry's key, key path, the key's position and value.</summary>
        /// <summary><see cref="Entries"/> as values an extension reads.</summary>
        internal IEnumerable<ConfigValue> Values(YMapping map, string path, string[] known) =>
            Entries(map, path, known).Select(e => new ConfigValue(this, e.Key, e.Path, e.At, e.Value));

        private IEnumerable<(string Key, string Path, Pos At, YNode Value)> Entries(YMapping map, string path, string[] known, string[]? notYet = null)
        {
            var seen = new Dictionary<string, Pos>(StringComparer.Ordinal);
            foreach (var (k, v) in map.Entries)
            {
                if (k is not YScalar { IsNull: false } ks)
                {
                    Error(k.Start, path, $"expected a key name, got {k.Describe()}");
                    continue;
                }
                var key = ks.Value;
                var keyPath = Join(path, key);
                if (seen.TryGetValue(key, out var first))
                {
                    Error(ks.Start, keyPath, string.Create(CultureInfo.InvariantCulture, $"duplicate key (already given at line {first.Line})"));
                    continue;
                }
                seen[key] = ks.Start;
                if (known.Contains(key))
                {
                    _keyPositions[keyPath] = ks.Start;
                    yield return (key, keyPath, ks.Start, v);
                }
                else if (notYet is not null && notYet.Contains(key))
                    Error(ks.Start, keyPath, "not supported yet by this version of Vigil");
                else
                    Error(ks.Start, keyPath, ErrorsFull ? "" : UnknownKey(key, [.. known, .. notYet ?? []]));   // a suggestion costs a distance per known key
            }
        }

        private void MapProcesses(YNode? list, Pos at, List<ProcessSpec> processes)
        {
            switch (list)
            {
                case null or YScalar { IsNull: true }:
                    Error(at, "processes", "no processes to run");
                    return;
                case YSequence { Items.Count: 0 }:
                    Error(at, "processes", "no processes to run (the list is empty)");
                    return;
                case YSequence seq:
                    for (int i = 0; i < seq.Items.Count; i++)
                    {
                        var path = Index("processes", i);
                        _keyPositions[path] = seq.Items[i].Start;
                        if (seq.Items[i] is YMapping m) processes.Add(MapProcess(m, path));
                        else Error(seq.Items[i].Start, path, $"expected a mapping with the process's keys (name, command, …), got {seq.Items[i].Describe()}");
                    }
                    return;
                default:
                    Error(at, "processes", $"expected a list of processes, got {list.Describe()}");
                    return;
            }
        }

        private ProcessSpec MapProcess(YMapping map, string path)
        {
            var spec = new ProcessSpec();
            bool commandGiven = false, scriptRefused = false, attachGiven = false;
            Pos? restartAt = null;
            foreach (var (key, keyPath, at, v) in Entries(map, path, ProcessKeys, ProcessKeysNotYet))
            {
                switch (key)
                {
                    case "name":
                        spec = spec with { Name = String(v, keyPath, at) };
                        break;
                    case "command":
                        commandGiven = v is not YScalar { IsNull: true };
                        spec = spec with { Command = Command(v, keyPath, at) };
                        break;
                    case "script":
                        spec = spec with { Script = String(v, keyPath, at) };
                        scriptRefused = spec.Script is null && v is not YScalar { IsNull: true };   // its error is reported
                        break;
                    case "args":
                        spec = spec with { Args = StringList(v, keyPath, at) ?? [] };
                        break;
                    case "cwd":
                        var cwd = String(v, keyPath, at);
                        if (cwd is { Length: 0 }) Error(at, keyPath, "must not be empty (leave it out to use the config file's folder)");
                        else if (cwd is not null) spec = spec with { Cwd = Path.GetFullPath(cwd, baseDir) };
                        break;
                    case "env":
                        spec = spec with { Env = Env(v, keyPath, at) };
                        break;
                    case "detach":
                        spec = spec with { Detach = Bool(v, keyPath, at) ?? false };
                        break;
                    case "ipc":
                        spec = spec with { Ipc = Bool(v, keyPath, at) };
                        break;
                    case "tty":
                        spec = spec with { Tty = Tty(v, keyPath, at) };
                        break;
                    case "tmux":
                        spec = spec with { Tmux = Tmux(v, keyPath, at) };
                        break;
                    case "restart":
                        if (Mapping(v, keyPath, at) is { } rm) spec = spec with { Restart = Restart(rm, keyPath) };
                        restartAt = at;
                        break;
                    case "stop":
                        if (Mapping(v, keyPath, at) is { } sm) spec = spec with { Stop = Stop(sm, keyPath) };
                        break;
                    case "log":
                        if (Mapping(v, keyPath, at) is { } lm) spec = spec with { Log = Log(lm, keyPath) };
                        break;
                    case "health":
                        spec = spec with { Health = Health(v, keyPath, at) };
                        break;
                    case "hooks":
                        spec = spec with { Hooks = Hooks(v, keyPath, at) };
                        break;
                    case "autostart":
                        spec = spec with { Autostart = Bool(v, keyPath, at) ?? true };
                        break;
                    case "cpuAffinity":
                        spec = spec with { CpuAffinity = CpuAffinity(v, keyPath, at) };
                        break;
                    case "attach":
                        attachGiven = true;
                        if (Mapping(v, keyPath, at) is { } am) spec = spec with { Attach = Attach(am, keyPath) };
                        break;
                }
            }

            // Any restart key is refused for an external unit, also one that says what the defaults say.
            if (attachGiven && restartAt is { } rat)
            {
                Error(rat, path + ".restart", AttachSpec.RestartRefused);
                spec = spec with { Restart = RestartSpec.Default }; // so the spec's own check does not say it twice
            }

            if (!commandGiven && !scriptRefused && !attachGiven && string.IsNullOrEmpty(spec.Script))
            {
                // elife: with neither, the entry point is "main" of package.json in the working folder.
                var dir = spec.Cwd ?? baseDir;
                if (!File.Exists(Path.Combine(dir, "package.json")))
                    Error(map.Start, path, "needs 'command' or 'script'");
            }

            Problems(spec.Validate(), path, map.Start);
            return spec;
        }

        /// <summary>Reports a spec's validation problems (keys relative to <paramref name="path"/>) at their keys'
        /// positions, or at <paramref name="fallback"/> for a key that was not written; returns how many there were.</summary>
        private int Problems(IEnumerable<SpecError> problems, string path, Pos fallback)
        {
            int count = 0;
            foreach (var problem in problems)
            {
                count++;
                var keyPath = problem.Under(path).KeyPath;
                Error(_keyPositions.TryGetValue(keyPath, out var at) ? at : fallback, keyPath, problem.Message);
            }
            return count;
        }

        private ImmutableArray<string> Command(YNode v, string path, Pos at)
        {
            switch (v)
            {
                case YScalar { IsNull: true }:
                    return [];
                case YScalar s:
                    if (!NoNul(s, path, at)) return [];
                    if (!CommandLine.TrySplit(s.Value, out var words, out var error))
                    {
                        Error(at, path, error!);
                        return [];
                    }
                    if (words.Count == 0) Error(at, path, "must not be empty (give the program and its arguments)");
                    return [.. words];
                case YSequence { Items.Count: 0 }:
                    Error(at, path, "must not be empty (give the program and its arguments)");
                    return [];
                case YSequence:
                    return StringList(v, path, at) ?? [];
                default:
                    Error(at, path, $"expected a list of strings (or one command line), got {v.Describe()}");
                    return [];
            }
        }

        private ImmutableDictionary<string, string?> Env(YNode v, string path, Pos at)
        {
            if (v is YScalar { IsNull: true }) return ImmutableDictionary<string, string?>.Empty;
            if (v is not YMapping map)
            {
                Error(at, path, $"expected a mapping of variable names to values, got {v.Describe()}");
                return ImmutableDictionary<string, string?>.Empty;
            }
            var env = ImmutableDictionary.CreateBuilder<string, string?>(StringComparer.Ordinal);
            foreach (var (k, value) in map.Entries)
            {
                if (k is not YScalar { IsNull: false } ks)
                {
                    Error(k.Start, path, $"expected a variable name, got {k.Describe()}");
                    continue;
                }
                var keyPath = Join(path, ks.Value);
                if (env.ContainsKey(ks.Value))
                {
                    Error(ks.Start, keyPath, "duplicate variable");
                    continue;
                }
                if (!NoNul(ks, keyPath, ks.Start)) continue;
                if (value is YScalar s) { if (NoNul(s, keyPath, ks.Start)) env[ks.Value] = s.IsNull ? null : s.Value; }
                else Error(ks.Start, keyPath, $"expected a string, number, true/false, or null to remove the variable, got {value.Describe()}");
            }
            return env.ToImmutable();
        }

        private RestartSpec Restart(YMapping map, string path)
        {
            var spec = RestartSpec.Default;
            foreach (var (key, keyPath, at, v) in Entries(map, path, RestartKeys))
            {
                switch (key)
                {
                    case "policy":
                        if (Choice(v, keyPath, at, Policies) is { } policy) spec = spec with { Policy = policy };
                        break;
                    case "schedule":
                        if (v is YScalar { IsNull: true }) break;
                        if (v is not YSequence seq)
                        {
                            Error(at, keyPath, $"expected a list of durations (like [100ms, 1s, 1m], or [] to never restart), got {v.Describe()}");
                            // Given, though wrong: validation still sees that a schedule came with a backoff.
                            spec = spec with { Schedule = [] };
                            break;
                        }
                        var delays = ImmutableArray.CreateBuilder<TimeSpan>(seq.Items.Count);
                        for (int i = 0; i < seq.Items.Count; i++)
                            delays.Add(Duration(seq.Items[i], Index(keyPath, i), seq.Items[i].Start, listItem: true) ?? TimeSpan.Zero);
                        spec = spec with { Schedule = delays.MoveToImmutable() };
                        break;
                    case "resetAfter":
                        if (Duration(v, keyPath, at) is { } reset) spec = spec with { ResetAfter = reset };
                        break;
                    case "backoff":
                        if (Mapping(v, keyPath, at) is not { } bm) break;
                        spec = spec with { Backoff = Backoff(bm, keyPath) };
                        break;
                    case "limit":
                        if (Mapping(v, keyPath, at) is { } lm) spec = spec with { Limit = Limit(lm, keyPath, at) };
                        break;
                    case "max":
                        spec = spec with { Max = Int(v, keyPath, at) };
                        break;
                }
            }
            return spec;   // a schedule with a backoff is refused by the spec's validation
        }

        private BackoffSpec Backoff(YMapping map, string path)
        {
            TimeSpan initial = DefaultBackoffInitial;
            TimeSpan? max = null;
            double multiplier = DefaultBackoffMultiplier, jitter = 0;
            foreach (var (key, keyPath, at, v) in Entries(map, path, BackoffKeys))
            {
                switch (key)
                {
                    case "initial": initial = Duration(v, keyPath, at) ?? initial; break;
                    case "multiplier": multiplier = Number(v, keyPath, at) ?? multiplier; break;
                    case "max": max = Duration(v, keyPath, at) ?? max; break;
                    case "jitter": jitter = Number(v, keyPath, at) ?? jitter; break;
                }
            }
            // Without a max, cap at 5 minutes, or at the initial delay when that is longer.
            return new BackoffSpec(initial, multiplier, max ?? (initial > DefaultBackoffMax ? initial : DefaultBackoffMax), jitter);
        }

        private CrashLoopLimit? Limit(YMapping map, string path, Pos mapAt)
        {
            int? restarts = null;
            TimeSpan? within = null, retryEvery = null;
            LimitAction then = LimitAction.SlowRetry;
            Pos? retryEveryAt = null;
            bool restartsWrong = false, withinWrong = false;   // given, but with an error already reported
            foreach (var (key, keyPath, at, v) in Entries(map, path, LimitKeys))
            {
                bool isNull = v is YScalar { IsNull: true };
                switch (key)
                {
                    case "restarts": restarts = Int(v, keyPath, at); restartsWrong = restarts is null && !isNull; break;
                    case "within": within = Duration(v, keyPath, at); withinWrong = within is null && !isNull; break;
                    case "then": then = Choice(v, keyPath, at, LimitActions) ?? then; break;
                    case "retryEvery": retryEvery = Duration(v, keyPath, at); retryEveryAt = at; break;
                }
            }
            if (restarts is null && !restartsWrong) Error(mapAt, path, "missing 'restarts' (how many restarts are allowed within 'within')");
            if (within is null && !withinWrong) Error(mapAt, path, "missing 'within' (a duration like 10m)");
            if (retryEvery is not null && then == LimitAction.Stop)
                Error(retryEveryAt!.Value, Join(path, "retryEvery"), "only applies when 'then' is slow-retry");
            return restarts is null || within is null ? null : new CrashLoopLimit(restarts.Value, within.Value, then, retryEvery);
        }

        private LogSpec Log(YMapping map, string path)
        {
            var spec = LogSpec.Default;
            string? LogPath(YNode v, string keyPath, Pos at) =>
                String(v, keyPath, at) is { Length: > 0 } p ? Path.GetFullPath(p, baseDir) : null; // relative to the config file
            foreach (var (key, keyPath, at, v) in Entries(map, path, LogKeys))
            {
                switch (key)
                {
                    case "file": spec = spec with { File = LogPath(v, keyPath, at) }; break;
                    case "out": spec = spec with { Out = LogPath(v, keyPath, at) }; break;
                    case "err": spec = spec with { Err = LogPath(v, keyPath, at) }; break;
                    case "timestamps": spec = spec with { Timestamps = Bool(v, keyPath, at) ?? spec.Timestamps }; break;
                    case "stream": spec = spec with { Stream = Bool(v, keyPath, at) ?? spec.Stream }; break;
                    case "prefix": spec = spec with { Prefix = Bool(v, keyPath, at) ?? spec.Prefix }; break;
                    case "stripAnsi": spec = spec with { StripAnsi = Bool(v, keyPath, at) ?? spec.StripAnsi }; break;
                    case "maxSize":
                        if (Size(v, keyPath, at) is { } bytes) spec = spec with { MaxSize = bytes };
                        break;
                    case "keep": spec = spec with { Keep = Int(v, keyPath, at) ?? spec.Keep }; break;
                    case "maxLine":
                        // Past int (2 GiB) it cannot be a MaxLine; LogSpec.Validate names the real bound (16MB) for both.
                        if (Size(v, keyPath, at) is { } ml) spec = spec with { MaxLine = (int)Math.Min(ml, Limits.MaxLineBytes + 1L) };
                        break;
                    case "ringLines": spec = spec with { RingLines = Int(v, keyPath, at) ?? spec.RingLines }; break;
                    case "echo": spec = spec with { Echo = Choice(v, keyPath, at, EchoChoices) ?? spec.Echo }; break;
                }
            }
            return spec;
        }

        /// <summary><c>attach: { pid: N | pidfile: PATH | systemd: NAME, poll: 1s }</c>; a relative pidfile is the config file's folder's.</summary>
        private AttachSpec Attach(YMapping map, string path)
        {
            var spec = new AttachSpec();
            foreach (var (key, keyPath, at, v) in Entries(map, path, AttachKeys))
            {
                switch (key)
                {
                    case "pid":
                        if (Int(v, keyPath, at) is { } pid) spec = spec with { Pid = pid };
                        break;
                    case "pidfile":
                        if (String(v, keyPath, at) is { } file) spec = spec with { PidFile = file.Length == 0 || file.Contains('\0') ? file : Path.GetFullPath(file, baseDir) };
                        break;
                    case "systemd":
                        if (String(v, keyPath, at) is { } unit) spec = spec with { Systemd = unit };
                        break;
                    case "probe":
                        if (String(v, keyPath, at) is { } kind) spec = spec with { Probe = kind };
                        break;
                    case "poll":
                        if (Duration(v, keyPath, at) is { } poll) spec = spec with { Poll = poll };
                        break;
                }
            }
            return spec;
        }

        private StopSpec Stop(YMapping map, string path)
        {
            var spec = StopSpec.Default;
            foreach (var (key, keyPath, at, v) in Entries(map, path, StopKeys))
            {
                switch (key)
                {
                    case "signal":
                        if (Scalar(v, keyPath, at, "a signal like TERM, SIGTERM or 15") is not { } text) break;
                        if (Signals.TryParse(text, out var signal)) spec = spec with { Signal = signal };
                        else Error(at, keyPath, $"expected a signal like TERM, SIGTERM or a number 1-64, got {Show(text)}");
                        break;
                    case "timeout":
                        if (Duration(v, keyPath, at) is { } timeout) spec = spec with { Timeout = timeout };
                        break;
                    case "killWait":
                        if (Duration(v, keyPath, at) is { } killWait) spec = spec with { KillWait = killWait };
                        break;
                }
            }
            return spec;
        }

        // ---- Typed readers. Each returns null when the value is YAML null (the key then keeps its default) or wrong
        // (after reporting it at `at`: the key's position for a mapping value, the item's own for a list item).

        internal YMapping? Mapping(YNode v, string path, Pos at)
        {
            if (v is YMapping m) return m;
            if (v is not YScalar { IsNull: true }) Error(at, path, $"expected a mapping, got {v.Describe()}");
            return null;
        }

        private string? Scalar(YNode v, string path, Pos at, string expected)
        {
            if (v is YScalar s) return s.IsNull || !NoNul(s, path, at) ? null : s.Value;
            Error(at, path, $"expected {expected}, got {v.Describe()}");
            return null;
        }

        internal string? String(YNode v, string path, Pos at) => Scalar(v, path, at, "a string");

        /// <summary>The top-level <c>history:</c>: <c>false</c>/<c>true</c>, or <c>{ enabled, keep, maxSize }</c>.</summary>
        private Telemetry.History.HistorySettings? History(YNode v, string path, Pos at)
        {
            var settings = Telemetry.History.HistorySettings.Default;
            if (v is YScalar { IsNull: false })
                return Bool(v, path, at) is { } on ? settings with { Enabled = on } : null;
            if (Mapping(v, path, at) is not { } m) return null;
            foreach (var (key, keyPath, kAt, value) in Entries(m, path, HistoryKeys))
            {
                switch (key)
                {
                    case "enabled": settings = settings with { Enabled = Bool(value, keyPath, kAt) ?? settings.Enabled }; break;
                    case "keep":
                        if (Duration(value, keyPath, kAt) is not { } keep) break;
                        if (keep < TimeSpan.FromMinutes(1)) Error(kAt, keyPath, $"expected at least 1m (how long events are kept), got {Durations.Format(keep)}");
                        else settings = settings with { Keep = keep };
                        break;
                    case "maxSize":
                        if (Size(value, keyPath, kAt) is not { } size) break;
                        if (size < 1L << 20) Error(kAt, keyPath, $"expected at least 1MB (the database's size bound), got {Sizes.Format(size)}");
                        else settings = settings with { MaxSize = size };
                        break;
                }
            }
            return settings;
        }

        /// <summary>The top-level <c>name:</c>: it names the control socket file, so letters, digits, '-', '_' and '.' only.</summary>
        private string? InstanceName(YNode v, string path, Pos at)
        {
            if (String(v, path, at) is not { } s) return null;
            if (!IsInstanceName(s))
            {
                Error(at, path, $"expected 1 to 64 letters, digits, '-', '_' or '.' (not starting with '.'), got {Show(s)}");
                return null;
            }
            return s;
        }

        internal ImmutableArray<string>? StringList(YNode v, string path, Pos at)
        {
            if (v is YScalar { IsNull: true }) return null;
            if (v is not YSequence seq)
            {
                Error(at, path, $"expected a list of strings, got {v.Describe()}");
                return null;
            }
            var list = ImmutableArray.CreateBuilder<string>(seq.Items.Count);
            for (int i = 0; i < seq.Items.Count; i++)
            {
                var item = seq.Items[i];
                if (item is YScalar { IsNull: false } s) { if (NoNul(s, Index(path, i), item.Start)) list.Add(s.Value); }
                else Error(item.Start, Index(path, i), $"expected a string, got {item.Describe()}");
            }
            return list.Count == seq.Items.Count ? list.MoveToImmutable() : null;
        }

        /// <summary>False (after reporting it) when the scalar holds a NUL byte: every value ends up in a path, an argv,
        /// the environment or a message, and C strings would cut it there (Path.GetFullPath throws on it).</summary>
        private bool NoNul(YScalar s, string path, Pos at)
        {
            if (!Limits.HasNul(s.Value)) return true;
            Error(at, path, Limits.NulMessage);
            return false;
        }

        internal bool? Bool(YNode v, string path, Pos at)
        {
            if (Scalar(v, path, at, "true or false") is not { } text) return null;
            if (text.Equals("true", StringComparison.OrdinalIgnoreCase)) return true;
            if (text.Equals("false", StringComparison.OrdinalIgnoreCase)) return false;
            Error(at, path, $"expected true or false, got {Show(text)}");
            return null;
        }

        internal TimeSpan? Duration(YNode v, string path, Pos at, bool listItem = false)
        {
            if (v is YScalar { IsNull: true } && !listItem) return null;   // `key: ~` keeps the default; a null list item is an error
            if (v is YScalar { IsNull: false } s)
            {
                if (!NoNul(s, path, at)) return null;
                if (Durations.TryParse(s.Value, out var d)) return d;
                Error(at, path, Durations.TooLong(s.Value) ? $"{Show(s.Value)} is too long a duration (at most {Durations.MaxText})" : $"expected {Durations.Expected}, got {Show(s.Value)}");
                return null;
            }
            Error(at, path, $"expected {Durations.Expected}, got {v.Describe()}");
            return null;
        }

        internal int? Int(YNode v, string path, Pos at)
        {
            if (Scalar(v, path, at, "a whole number") is not { } text) return null;
            if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)) return n;
            // A whole number past int is out of every numeric key's range; say so rather than "expected a whole number".
            Error(at, path, BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)
                ? $"{text} is out of range (at most {int.MaxValue:N0}; the key's own bound is lower)"
                : $"expected a whole number, got {Show(text)}");
            return null;
        }

        internal long? Size(YNode v, string path, Pos at)
        {
            if (Scalar(v, path, at, Sizes.Expected) is not { } text) return null;
            if (Sizes.TryParse(text, out var bytes)) return bytes;
            Error(at, path, Sizes.TooLarge(text) ? $"{Show(text)} is too large a size (at most {Sizes.MaxText})" : $"expected {Sizes.Expected}, got {Show(text)}");
            return null;
        }

        internal double? Number(YNode v, string path, Pos at)
        {
            if (Scalar(v, path, at, "a number") is not { } text) return null;
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n)) return n;
            Error(at, path, $"expected a number, got {Show(text)}");
            return null;
        }

        internal T? Choice<T>(YNode v, string path, Pos at, (string Name, T Value)[] options) where T : struct
        {
            var expected = string.Join(", ", options[..^1].Select(o => o.Name)) + " or " + options[^1].Name;
            if (Scalar(v, path, at, expected) is not { } text) return null;
            foreach (var (name, value) in options)
                if (string.Equals(name, text.Trim(), StringComparison.OrdinalIgnoreCase)) return value;
            Error(at, path, $"expected {expected}, got {Show(text)}");
            return null;
        }
    }

    /// <summary>An instance name names the control socket file: 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'.</summary>
    public static bool IsInstanceName(string s) =>
        s.Length is > 0 and <= 64 && s[0] != '.' && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>"unknown key; did you mean 'command'?" when a known key is close enough, else the list of known keys.</summary>
    internal static string UnknownKey(string key, IReadOnlyList<string> known)
    {
        var best = Suggestions.Nearest(key, known);
        return best is not null ? $"unknown key; did you mean '{best}'?" : $"unknown key (expected one of: {string.Join(", ", known)})";
    }

}
