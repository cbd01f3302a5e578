using System.Collections.Immutable;
using Vigil.Specs;

namespace Vigil.Config;

// Overview
// --------
// Vigil.Core knows the config keys of the engine only. A transport (Vigil.Tether, later COPS) adds a top-level section
// (`tether:`) and a probe kind (`kind: tether`) by registering them here, on an instance the program composes once
// (the CLI's CliContext) and gives to ConfigLoader, ConfigWriter and SpecDiff. Each key is declared once, as a
// ConfigKey<T>: its name, how its value is read (the loader's own typed readers, so errors are positioned and worded
// like every built-in key's, and unknown keys get the same suggestions) and which property of T it sets and gets
// (so the writer and the diff need nothing more: a key whose value equals the default's is left out). Adding a key
// to a section is one line in its key list.

/// <summary>
/// Extra top-level config sections and probe kinds, registered by the project that implements them
/// (<c>Vigil.Tether</c> adds <c>tether:</c> and <c>kind: tether</c>). An instance per program, not a global: pass it to
/// <see cref="ConfigLoader"/>, <see cref="ConfigWriter"/> and <see cref="SpecDiff"/>. A loader without an extension
/// refuses its keys as unknown.
/// </summary>
public sealed class ConfigExtensions
{
    private readonly List<ConfigSection> _sections = [];
    private readonly List<ProbeKind> _probeKinds = [];
    private readonly List<HookTransport> _hookTransports = [];
    private readonly List<ConfigImport> _imports = [];

    /// <summary>Registers a foreign config format read as it is (a COPS file); returns this instance.</summary>
    /// <exception cref="ArgumentException">Its detecting key is a built-in key or another import's.</exception>
    public ConfigExtensions Add(ConfigImport import)
    {
        ArgumentNullException.ThrowIfNull(import);
        if (ConfigLoader.BuiltInTopKeys.Contains(import.DetectKey) || _imports.Exists(i => i.DetectKey == import.DetectKey))
            throw new ArgumentException($"a config format detected by '{import.DetectKey}' exists already", nameof(import));
        _imports.Add(import);
        return this;
    }

    /// <summary>The import whose detecting key is among <paramref name="topKeys"/>, if any.</summary>
    internal ConfigImport? ImportFor(IEnumerable<string> topKeys) => _imports.Find(i => topKeys.Contains(i.DetectKey));

    /// <summary>The registered sections, in registration order.</summary>
    public IReadOnlyList<ConfigSection> Sections => _sections;

    /// <summary>The registered probe kinds, in registration order.</summary>
    public IReadOnlyList<ProbeKind> ProbeKinds => _probeKinds;

    /// <summary>Registers a top-level section; returns this instance.</summary>
    /// <exception cref="ArgumentException">The name is a built-in key or already registered.</exception>
    public ConfigExtensions Add(ConfigSection section)
    {
        ArgumentNullException.ThrowIfNull(section);
        if (ConfigLoader.BuiltInTopKeys.Contains(section.Name) || Section(section.Name) is not null)
            throw new ArgumentException($"a config section '{section.Name}' exists already", nameof(section));
        _sections.Add(section);
        return this;
    }

    /// <summary>Registers a probe kind; returns this instance.</summary>
    /// <exception cref="ArgumentException">The kind or its check type is a built-in one or already registered.</exception>
    public ConfigExtensions Add(ProbeKind kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        if (ConfigLoader.BuiltInProbeKinds.Contains(kind.Name) || Kind(kind.Name) is not null || KindOf(kind.CheckType) is not null)
            throw new ArgumentException($"a probe kind '{kind.Name}' exists already", nameof(kind));
        foreach (var (alias, key) in kind.Aliases)
            if (!ConfigLoader.ProbeCommonKeys.Contains(key) || ConfigLoader.ProbeCommonKeys.Contains(alias) || kind.Keys.Contains(alias))
                throw new ArgumentException($"probe kind '{kind.Name}': '{alias}' cannot stand for '{key}' (an alias names a common probe key, and is no key itself)", nameof(kind));
        _probeKinds.Add(kind);
        return this;
    }

    /// <summary>Registers the connection a hook kind publishes through; returns this instance.</summary>
    /// <exception cref="ArgumentException">The kind has one already, or its section is not registered.</exception>
    public ConfigExtensions Add(HookTransport transport)
    {
        ArgumentNullException.ThrowIfNull(transport);
        if (HookTransport(transport.Kind) is not null) throw new ArgumentException($"hook kind '{transport.Kind}' has a transport already", nameof(transport));
        if (!_sections.Contains(transport.Connection)) throw new ArgumentException($"register the section '{transport.Connection.Name}' first", nameof(transport));
        _hookTransports.Add(transport);
        return this;
    }

    internal HookTransport? HookTransport(string kind) => _hookTransports.Find(t => t.Kind == kind);

    internal ConfigSection? Section(string name) => _sections.Find(s => s.Name == name);

    internal ProbeKind? Kind(string name) => _probeKinds.Find(k => k.Name == name);

    internal ProbeKind? KindOf(Type checkType) => _probeKinds.Find(k => k.CheckType == checkType);
}

/// <summary>The connection hooks of <see cref="Kind"/> publish through: <c>mqtt</c> hooks through the broker of the
/// <c>tether:</c> section (Vigil.Tether registers it). A config with such a hook and without that section is refused;
/// the publisher itself is given to the hook runner by the program.</summary>
/// <param name="Kind">The hook kind: <c>mqtt</c>.</param>
/// <param name="Connection">The registered section that names the connection.</param>
public sealed record HookTransport(string Kind, ConfigSection Connection);

/// <summary>
/// A foreign config format that <c>vigil run -c FILE</c> accepts as it is: a file whose top level has
/// <paramref name="DetectKey"/> and no <c>processes</c> (COPS: <c>processList</c>). Its top-level keys are
/// <paramref name="Keys"/> (plus the registered sections and <c>name</c>, read as usual); <paramref name="Map"/> turns
/// their values into process specs, each with the key path its errors are placed at (<c>processList[1]</c>), and reports
/// its own problems through <see cref="ConfigValue.Error"/>.
/// </summary>
public sealed record ConfigImport(string Name, string DetectKey, IReadOnlyList<string> Keys,
    Func<IReadOnlyList<ConfigValue>, IReadOnlyList<(ProcessSpec Spec, string KeyPath)>> Map);

/// <summary>A top-level config section of an extension (untyped view; see <see cref="ConfigSection{T}"/>).</summary>
public abstract class ConfigSection
{
    private protected ConfigSection(string name) => Name = ConfigKey.CheckName(name);

    /// <summary>The top-level key: <c>tether</c>.</summary>
    public string Name { get; }

    /// <summary>The section's keys, in documented order (the order breaks suggestion ties).</summary>
    public abstract IReadOnlyList<string> Keys { get; }

    /// <summary>The value when the section is not in the file.</summary>
    public abstract object DefaultValue { get; }

    /// <param name="entries">The section's entries whose keys are among the given ones.</param>
    /// <param name="error">Reports a problem of a key the file did not give, at the section: (key, message).</param>
    internal abstract object Read(Func<string[], IEnumerable<ConfigValue>> entries, Action<string, string> error);

    internal abstract List<KeyValuePair<string, CNode>> Write(object value, string baseDir);
}

/// <summary>
/// A top-level section whose value is a <typeparamref name="T"/> (an immutable record), built from
/// <see cref="Default"/> by its keys. Example: <c>new ConfigSection&lt;TetherSettings&gt;("tether", new(),
/// ConfigKey.String&lt;TetherSettings&gt;("host", s =&gt; s.Host, (s, v) =&gt; s with { Host = v }), …)</c>.
/// </summary>
public sealed class ConfigSection<T> : ConfigSection where T : class
{
    private readonly ImmutableArray<ConfigKey<T>> _keys;

    public ConfigSection(string name, T defaultValue, params IReadOnlyList<ConfigKey<T>> keys) : base(name)
    {
        ArgumentNullException.ThrowIfNull(defaultValue);
        ArgumentNullException.ThrowIfNull(keys);
        Default = defaultValue;
        _keys = ConfigKey.Distinct(keys, name);
    }

    /// <summary>The value when the section (or a key of it) is not in the file.</summary>
    public T Default { get; }

    public override IReadOnlyList<string> Keys => [.. _keys.Select(k => k.Name)];

    public override object DefaultValue => Default;

    /// <summary>Checks that involve more than one key (a certificate needs its key), run on the section read from the
    /// file; each problem is (key, message) and is reported at that key: <c>file:line:col: tether.cert: MESSAGE</c>.</summary>
    public Func<T, IEnumerable<(string Key, string Message)>>? Validate { get; init; }

    internal override object Read(Func<string[], IEnumerable<ConfigValue>> entries, Action<string, string> error)
    {
        var value = Default;
        var given = new Dictionary<string, ConfigValue>(StringComparer.Ordinal);
        foreach (var v in entries([.. Keys]))
        {
            value = _keys.First(k => k.Name == v.Key).Read(value, v);
            given[v.Key] = v;
        }
        foreach (var (key, message) in Validate?.Invoke(value) ?? [])
        {
            if (given.TryGetValue(key, out var v)) v.Error(message);
            else error(key, message);
        }
        return value;
    }

    internal override List<KeyValuePair<string, CNode>> Write(object value, string baseDir) => ConfigKey.WriteAll(_keys, (T)value, Default, baseDir);
}

/// <summary>A probe kind of an extension (untyped view; see <see cref="ProbeKind{TCheck}"/>).</summary>
public abstract class ProbeKind
{
    private protected ProbeKind(string name) => Name = ConfigKey.CheckName(name);

    /// <summary>The <c>kind:</c> value: <c>tether</c>.</summary>
    public string Name { get; }

    /// <summary>The kind's own keys (besides the common probe keys), in documented order.</summary>
    public abstract IReadOnlyList<string> Keys { get; }

    /// <summary>Other names this kind accepts for common probe keys: <c>interval</c> for <c>period</c>, <c>allowance</c>
    /// for <c>failureThreshold</c> (the Tether pinger's words).</summary>
    public IReadOnlyDictionary<string, string> Aliases { get; init; } = ImmutableDictionary<string, string>.Empty;

    internal abstract Type CheckType { get; }

    internal abstract ProbeCheck Read(IEnumerable<ConfigValue> values);

    internal abstract List<KeyValuePair<string, CNode>> Write(ProbeCheck check, string baseDir);
}

/// <summary>
/// A probe kind whose settings are a <typeparamref name="TCheck"/> record, built from <see cref="Default"/> by its keys.
/// The probe itself is created by the extension's <see cref="Health.IProbeProvider"/>, given to the supervisor.
/// </summary>
public sealed class ProbeKind<TCheck> : ProbeKind where TCheck : ProbeCheck
{
    private readonly ImmutableArray<ConfigKey<TCheck>> _keys;

    /// <param name="defaultCheck">The check of <c>{ kind: NAME }</c> with no other key; its <see cref="ProbeCheck.Kind"/> is the name.</param>
    public ProbeKind(TCheck defaultCheck, params IReadOnlyList<ConfigKey<TCheck>> keys) : base(defaultCheck?.Kind!)
    {
        ArgumentNullException.ThrowIfNull(defaultCheck);
        ArgumentNullException.ThrowIfNull(keys);
        Default = defaultCheck;
        _keys = ConfigKey.Distinct(keys, Name);
    }

    /// <summary>The check when none of the kind's keys is given.</summary>
    public TCheck Default { get; }

    public override IReadOnlyList<string> Keys => [.. _keys.Select(k => k.Name)];

    internal override Type CheckType => typeof(TCheck);

    internal override ProbeCheck Read(IEnumerable<ConfigValue> values)
    {
        var check = Default;
        foreach (var v in values)
            check = _keys.First(k => k.Name == v.Key).Read(check, v);
        return check;
    }

    internal override List<KeyValuePair<string, CNode>> Write(ProbeCheck check, string baseDir) => ConfigKey.WriteAll(_keys, (TCheck)check, Default, baseDir);
}

/// <summary>One key of an extension's section or probe kind: read into a <typeparamref name="T"/>, written from it.
/// Made by the factories of <see cref="ConfigKey"/>.</summary>
public sealed class ConfigKey<T> where T : class
{
    private readonly Func<T, ConfigValue, T> _read;
    private readonly Func<T, T, string, CNode?> _write;

    internal ConfigKey(string name, Func<T, ConfigValue, T> read, Func<T, T, string, CNode?> write)
    {
        Name = ConfigKey.CheckName(name);
        (_read, _write) = (read, write);
    }

    /// <summary>The key as written in the file.</summary>
    public string Name { get; }

    internal T Read(T current, ConfigValue value) => _read(current, value);

    /// <summary>The node to write for <paramref name="value"/>, or null when it says what <paramref name="defaults"/> says.</summary>
    internal CNode? Write(T value, T defaults, string baseDir) => _write(value, defaults, baseDir);
}

/// <summary>Factories for the keys of extension sections and probe kinds. Each reads its value with the loader's
/// own readers (same messages and positions as built-in keys) and writes it back in the loader's forms.</summary>
public static class ConfigKey
{
    /// <summary>A string. <c>key: ~</c> sets null when <paramref name="nullable"/> (written back as <c>~</c>), else keeps
    /// the default; an empty string is refused unless <paramref name="allowEmpty"/>.</summary>
    public static ConfigKey<T> String<T>(string name, Func<T, string?> get, Func<T, string?, T> set, bool nullable = false, bool allowEmpty = false)
        where T : class =>
        new(name,
            (t, v) =>
            {
                if (v.IsNull) return nullable ? set(t, null) : t;
                if (v.String() is not { } s) return t;
                if (s.Length == 0 && !allowEmpty) { v.Error("must not be empty"); return t; }
                return set(t, s);
            },
            (t, d, _) => get(t) == get(d) ? null : get(t) is { } s ? new CText(s) : CNull.Instance);

    /// <summary>A file path, resolved against the config file's folder when read, and written absolute.</summary>
    public static ConfigKey<T> FilePath<T>(string name, Func<T, string?> get, Func<T, string?, T> set) where T : class =>
        new(name,
            (t, v) =>
            {
                if (v.IsNull || v.String() is not { } s) return t;
                if (s.Length == 0) { v.Error("must not be empty (leave it out for none)"); return t; }
                return set(t, Path.GetFullPath(s, v.BaseDir));
            },
            (t, d, baseDir) => get(t) == get(d) ? null : get(t) is { } s ? new CText(Path.GetFullPath(s, baseDir)) : CNull.Instance);

    /// <summary>A whole number within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static ConfigKey<T> Int<T>(string name, Func<T, int> get, Func<T, int, T> set, int min = int.MinValue, int max = int.MaxValue)
        where T : class =>
        new(name,
            (t, v) =>
            {
                if (v.Int() is not { } n) return t;
                if (n < min || n > max) { v.Error($"expected a whole number {min}-{max}, got {n}"); return t; }
                return set(t, n);
            },
            (t, d, _) => get(t) == get(d) ? null : ConfigNodes.Int(get(t)));

    /// <summary>A TCP port, 1-65535.</summary>
    public static ConfigKey<T> Port<T>(string name, Func<T, int> get, Func<T, int, T> set) where T : class =>
        new(name,
            (t, v) =>
            {
                if (v.Int() is not { } port) return t;
                if (port is < 1 or > 65535) { v.Error($"expected a port 1-65535, got {port}"); return t; }
                return set(t, port);
            },
            (t, d, _) => get(t) == get(d) ? null : ConfigNodes.Int(get(t)));

    /// <summary>true or false.</summary>
    public static ConfigKey<T> Bool<T>(string name, Func<T, bool> get, Func<T, bool, T> set) where T : class =>
        new(name,
            (t, v) => v.Bool() is { } b ? set(t, b) : t,
            (t, d, _) => get(t) == get(d) ? null : new CWord(get(t) ? "true" : "false"));

    /// <summary>A duration (<c>100ms</c>, <c>1.5s</c>, <c>5m</c>, or integer milliseconds).</summary>
    public static ConfigKey<T> Duration<T>(string name, Func<T, TimeSpan> get, Func<T, TimeSpan, T> set) where T : class =>
        new(name,
            (t, v) => v.Duration() is { } d ? set(t, d) : t,
            (t, d, _) => get(t) == get(d) ? null : ConfigNodes.Duration(get(t)));

    /// <summary>One of <paramref name="options"/> (case-insensitive), such as <c>[("mqtt", Mqtt), ("mqtts", Mqtts)]</c>.</summary>
    public static ConfigKey<T> Choice<T, TValue>(string name, IReadOnlyList<(string Name, TValue Value)> options, Func<T, TValue> get, Func<T, TValue, T> set)
        where T : class where TValue : struct
    {
        ArgumentOutOfRangeException.ThrowIfZero(options.Count);
        (string, TValue)[] choices = [.. options];
        return new(name,
            (t, v) => v.Choice(choices) is { } c ? set(t, c) : t,
            (t, d, _) => EqualityComparer<TValue>.Default.Equals(get(t), get(d)) ? null
                : new CWord(choices.First(o => EqualityComparer<TValue>.Default.Equals(o.Item2, get(t))).Item1));
    }

    /// <summary>A value read from its text by <paramref name="parse"/> (null refuses it: <c>expected EXPECTED, got
    /// 'text'</c>) and written back as <paramref name="format"/> gives it; <c>key: ~</c> keeps the default. For values
    /// whose reading a transport shares with its own config files (Tether's <c>protocol</c>: mqtt, mqtts, ws, wss and
    /// mqtt.js's other names for them).</summary>
    public static ConfigKey<T> Parsed<T, TValue>(string name, Func<string, TValue?> parse, string expected, Func<TValue, string> format,
        Func<T, TValue> get, Func<T, TValue, T> set) where T : class where TValue : struct
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(format);
        return new(name,
            (t, v) =>
            {
                if (v.IsNull || v.String() is not { } s) return t;
                if (parse(s) is { } value) return set(t, value);
                v.Error($"expected {expected}, got {YScalar.Show(s)}");
                return t;
            },
            (t, d, _) => EqualityComparer<TValue>.Default.Equals(get(t), get(d)) ? null : new CWord(format(get(t))));
    }

    /// <summary>A list of strings (<c>tags: [site:lab, env:prod]</c>), written back as a flow list.</summary>
    public static ConfigKey<T> Strings<T>(string name, Func<T, IReadOnlyList<string>> get, Func<T, IReadOnlyList<string>, T> set) where T : class =>
        new(name,
            (t, v) => v.Strings() is { } list ? set(t, list) : t,
            (t, d, _) => get(t).SequenceEqual(get(d)) ? null : new CList([.. get(t).Select(s => (CNode)new CText(s))], Flow: true));

    /// <summary>A mapping of its own keys (<c>otlp: { endpoint: …, protocol: … }</c>), read and written with
    /// <paramref name="section"/>'s keys and checks, so its errors are positioned like the section's
    /// (<c>telemetry.otlp.endpoint: …</c>); <c>key: ~</c> keeps the default.</summary>
    public static ConfigKey<T> Mapping<T, TSub>(ConfigSection<TSub> section, Func<T, TSub> get, Func<T, TSub, T> set)
        where T : class where TSub : class
    {
        ArgumentNullException.ThrowIfNull(section);
        return new(section.Name,
            (t, v) => v.Mapping(section) is { } sub ? set(t, sub) : t,
            (t, d, baseDir) => Equals(get(t), get(d)) ? null : new CMap(section.Write(get(t), baseDir), Flow: true));
    }

    internal static string CheckName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return name;
    }

    internal static ImmutableArray<ConfigKey<T>> Distinct<T>(IReadOnlyList<ConfigKey<T>> keys, string owner) where T : class
    {
        var dup = keys.GroupBy(k => k.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"'{owner}' declares the key '{dup.Key}' twice", nameof(keys));
        return [.. keys];
    }

    internal static List<KeyValuePair<string, CNode>> WriteAll<T>(ImmutableArray<ConfigKey<T>> keys, T value, T defaults, string baseDir) where T : class
    {
        var entries = new List<KeyValuePair<string, CNode>>();
        foreach (var key in keys)
            if (key.Write(value, defaults, baseDir) is { } node) entries.Add(new(key.Name, node));
        return entries;
    }
}

/// <summary>One key's value as written in the file, read by the loader's typed readers: a wrong value is reported at
/// the key's position with the loader's message, and the reader returns null (the key then keeps its default).</summary>
public sealed class ConfigValue
{
    private readonly ConfigLoader.Mapper _mapper;
    private readonly YNode _node;
    private readonly Pos _at;

    internal ConfigValue(ConfigLoader.Mapper mapper, string key, string keyPath, Pos at, YNode node) =>
        (_mapper, Key, KeyPath, _at, _node) = (mapper, key, keyPath, at, node);

    /// <summary>The key: <c>port</c>.</summary>
    public string Key { get; }

    /// <summary>Where it is: <c>tether.port</c>, <c>processes[0].health[1].agentId</c>.</summary>
    public string KeyPath { get; }

    /// <summary>YAML's null (<c>key: ~</c>, or nothing after the colon).</summary>
    public bool IsNull => _node is YScalar { IsNull: true };

    /// <summary>The config file's folder, against which relative paths resolve.</summary>
    public string BaseDir => _mapper.BaseDir;

    public string? String() => _mapper.String(_node, KeyPath, _at);
    public int? Int() => _mapper.Int(_node, KeyPath, _at);
    public bool? Bool() => _mapper.Bool(_node, KeyPath, _at);
    public double? Number() => _mapper.Number(_node, KeyPath, _at);
    public TimeSpan? Duration() => _mapper.Duration(_node, KeyPath, _at);
    public long? Size() => _mapper.Size(_node, KeyPath, _at);
    public TValue? Choice<TValue>((string Name, TValue Value)[] options) where TValue : struct => _mapper.Choice(_node, KeyPath, _at, options);

    /// <summary>A list of strings; null (after reporting it) when it is not one, or for <c>key: ~</c>.</summary>
    public IReadOnlyList<string>? Strings() => _mapper.StringList(_node, KeyPath, _at) is { } list ? list : null;

    /// <summary>A mapping read with <paramref name="section"/>'s keys (unknown ones are reported as everywhere); null
    /// (after reporting it) when the value is not a mapping, or for <c>key: ~</c>.</summary>
    public TSub? Mapping<TSub>(ConfigSection<TSub> section) where TSub : class
    {
        ArgumentNullException.ThrowIfNull(section);
        if (_mapper.Mapping(_node, KeyPath, _at) is not { } map) return null;
        return (TSub)section.Read(keys => _mapper.Values(map, KeyPath, keys), (k, m) => _mapper.Error(_at, KeyPath + "." + k, m));
    }

    /// <summary>The items of a list, each a value at <c>key[i]</c>; null (after reporting it) when it is not a list.</summary>
    public IReadOnlyList<ConfigValue>? Items()
    {
        if (_node is not YSequence seq)
        {
            if (!IsNull) Error($"expected a list, got {_node.Describe()}");
            return null;
        }
        var items = new List<ConfigValue>();
        for (int i = 0; i < seq.Items.Count; i++)
        {
            var path = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{KeyPath}[{i}]");
            _mapper.Remember(path, seq.Items[i].Start);
            items.Add(new ConfigValue(_mapper, Key, path, seq.Items[i].Start, seq.Items[i]));
        }
        return items;
    }

    /// <summary>The entries of a mapping whose keys are among <paramref name="known"/> (others are reported as unknown,
    /// with suggestions); null (after reporting it) when the value is not a mapping.</summary>
    public IReadOnlyList<ConfigValue>? Entries(params string[] known)
    {
        if (_mapper.Mapping(_node, KeyPath, _at) is not { } map) return null;
        return [.. _mapper.Values(map, KeyPath, known)];
    }

    /// <summary>Reports a problem with this value, at its key: <c>file:line:col: tether.port: MESSAGE</c>.</summary>
    public void Error(string message) => _mapper.Error(_at, KeyPath, message);
}

/// <summary>The values of the extension sections a config file gave (<see cref="VigilConfig.Sections"/>). Immutable.</summary>
public sealed class ConfigSections
{
    /// <summary>No section given: every <see cref="Get{T}"/> is the section's default.</summary>
    public static ConfigSections Empty { get; } = new([]);

    private readonly ImmutableArray<(ConfigSection Section, object Value)> _values;

    private ConfigSections(ImmutableArray<(ConfigSection, object)> values) => _values = values;

    /// <summary>The section's value, or its <see cref="ConfigSection{T}.Default"/> when the file did not give it.</summary>
    public T Get<T>(ConfigSection<T> section) where T : class
    {
        ArgumentNullException.ThrowIfNull(section);
        foreach (var (s, v) in _values)
            if (ReferenceEquals(s, section)) return (T)v;
        return section.Default;
    }

    /// <summary>A copy with <paramref name="section"/> set to <paramref name="value"/> (for writing a config).</summary>
    public ConfigSections With<T>(ConfigSection<T> section, T value) where T : class
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(value);
        return With((ConfigSection)section, value);
    }

    internal ConfigSections With(ConfigSection section, object value) =>
        new([.. _values.Where(e => !ReferenceEquals(e.Section, section)), (section, value)]);

    /// <summary>The sections given, in the order they were read or set.</summary>
    internal ImmutableArray<(ConfigSection Section, object Value)> All => _values;
}
