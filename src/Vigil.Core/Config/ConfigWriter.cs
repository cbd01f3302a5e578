using System.Globalization;
using Vigil.Specs;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Vigil.Config;

/// <summary>Writes specs back as a config file that <see cref="ConfigLoader"/> reads to equal specs (<c>vigil save</c>).</summary>
public static class ConfigWriter
{
    /// <summary>
    /// The YAML text of a config with instance name <paramref name="name"/>, these units in this order, and the
    /// extension <paramref name="sections"/> (such as <c>tether:</c>) that are not at their defaults. Keys at their
    /// defaults are left out; paths are absolute.
    /// </summary>
    /// <param name="templatesFolder">Written as <c>templates:</c>; the units defined by its templates are left out of
    /// <paramref name="specs"/> by the caller (then <paramref name="specs"/> may be empty).</param>
    /// <param name="extensions">Writes the probes of extension kinds (<c>kind: tether</c>); without it such a probe is refused.</param>
    /// <exception cref="ArgumentException">No units, an invalid instance name or spec, or a spec holding what a config
    /// cannot say (a library probe); the message names each unit and key.</exception>
    public static string ToYaml(string name, IReadOnlyList<ProcessSpec> specs, ConfigSections? sections = null,
        Supervision.StatusEvents statusEvents = Supervision.StatusEvents.Significant, ConfigExtensions? extensions = null,
        Telemetry.History.HistorySettings? history = null, HookSet? hooks = null, string? templatesFolder = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(specs);
        var problems = new List<string>();
        if (!ConfigLoader.IsInstanceName(name))
            problems.Add($"name: expected 1 to 64 letters, digits, '-', '_' or '.' (not starting with '.'), got {YScalar.Show(name)}");
        if (specs.Count == 0 && templatesFolder is null) problems.Add("processes: no processes to write (a config needs at least one)");
        var processes = new List<CNode>(specs.Count);
        for (int i = 0; i < specs.Count; i++)
        {
            var spec = specs[i] ?? throw new ArgumentNullException(nameof(specs), $"processes[{i}] is null");
            var where = string.Create(CultureInfo.InvariantCulture, $"processes[{i}] ({spec.DisplayName})");
            problems.AddRange(spec.Validate().Select(e => $"{where}: {e}"));
            var entries = ConfigNodes.Process(spec, extensions);
            foreach (var (key, value) in entries)
                foreach (var what in Opaques(value))
                    problems.Add($"{where}: {key}: {what}: a config file cannot hold it");
            processes.Add(new CMap(entries, Flow: false));
        }
        if (problems.Count > 0) throw new ArgumentException("cannot write the config: " + string.Join("; ", problems), nameof(specs));

        var top = new List<KeyValuePair<string, CNode>> { new("name", new CText(name)) };
        // The templates stay in their folder (read again at start and reload), not copied into processes:.
        if (templatesFolder is not null) top.Add(new("templates", new CText(Path.GetFullPath(templatesFolder))));
        if (processes.Count > 0) top.Add(new("processes", new CList(processes, Flow: false)));
        foreach (var (section, value) in sections?.All ?? [])
            if (ConfigNodes.Section(section, value, Environment.CurrentDirectory) is { } node) top.Add(new(section.Name, node));
        if (statusEvents == Supervision.StatusEvents.All)
            top.Add(new("events", new CMap([new("status", new CText("all"))], Flow: true)));
        if (ConfigNodes.History(history) is { } h) top.Add(new("history", h));
        if (hooks is not null)
        {
            problems.AddRange(hooks.Validate().Select(e => e.Under("hooks").ToString()));
            if (ConfigNodes.Hooks(hooks) is { } node) top.Add(new("hooks", node));
            if (problems.Count > 0) throw new ArgumentException("cannot write the config: " + string.Join("; ", problems), nameof(hooks));
        }

        var text = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        text.Write("# A Vigil config, written by Vigil from the units it ran. Start it with: vigil run -c FILE\n");
        // No line width: a folded long line is one more thing that could read back differently.
        var emitter = new Emitter(text, 2, int.MaxValue);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart());
        Emit(emitter, new CMap(top, Flow: false));
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
        return text.ToString();
    }

    private static IEnumerable<string> Opaques(CNode node) => node switch
    {
        COpaque o => [o.What],
        CList l => l.Items.SelectMany(Opaques),
        CMap m => m.Entries.SelectMany(e => Opaques(e.Value)),
        _ => [],
    };

    private static void Emit(IEmitter emitter, CNode node)
    {
        switch (node)
        {
            case CText t:
                emitter.Emit(Scalar(t.Value, MustQuote(t.Value) ? ScalarStyle.DoubleQuoted : ScalarStyle.Any));
                break;
            case CWord w:
                emitter.Emit(Scalar(w.Value, ScalarStyle.Any));
                break;
            case CNull:
                emitter.Emit(Scalar("~", ScalarStyle.Plain));
                break;
            case CList l:
                emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, true, l.Flow || l.Items.Count == 0 ? SequenceStyle.Flow : SequenceStyle.Block));
                foreach (var item in l.Items) Emit(emitter, item);
                emitter.Emit(new SequenceEnd());
                break;
            case CMap m:
                emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, true, m.Flow || m.Entries.Count == 0 ? MappingStyle.Flow : MappingStyle.Block));
                foreach (var (key, value) in m.Entries)
                {
                    Emit(emitter, new CText(key));
                    Emit(emitter, value);
                }
                emitter.Emit(new MappingEnd());
                break;
            default:
                throw new InvalidOperationException($"cannot write {node}"); // opaque values are refused before writing
        }
    }

    private static Scalar Scalar(string value, ScalarStyle style) => new(AnchorName.Empty, TagName.Empty, value, style, true, true);

    // Words other YAML readers take for null, booleans (YAML 1.1's yes/no/on/off too) or merge keys.
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
        { "~", "null", "true", "false", "yes", "no", "y", "n", "on", "off", "<<", "=", ".inf", "-.inf", "+.inf", ".nan" };

    /// <summary>
    /// True for a string that is not plainly safe, so it goes in double quotes (whose escapes say every character
    /// exactly): empty, a null/boolean word, anything that starts like a number (1e3, 0x1F, -5, .5, 1:20,
    /// 2024-01-01), leading or trailing spaces, a leading <c>-</c> that could be a list item, and any character other
    /// than letters, digits, spaces and <c>_-./+@=%</c>. The last rule is wider than YAML needs on purpose: the
    /// parser that reads the file back (YamlDotNet 16.3) misreads some plain scalars YAML allows, such as a key
    /// <c>a *</c> (found by the round-trip property test), and a plain scalar made of these characters has nothing
    /// for it to misread. Paths, words and command lines still come out plain.
    /// </summary>
    internal static bool MustQuote(string s)
    {
        if (s.Length == 0 || Reserved.Contains(s)) return true;
        char c0 = s[0];
        if (char.IsAsciiDigit(c0) || c0 is ' ' or '@' or '%' || s[^1] == ' ') return true;
        if (c0 is '-' or '+' or '.' && s.Length > 1 && (char.IsAsciiDigit(s[1]) || s[1] == '.')) return true;
        if (c0 == '-' && (s.Length == 1 || s[1] is ' ' or '-')) return true;
        foreach (var c in s)
            if (!(char.IsLetterOrDigit(c) || c is ' ' or '_' or '-' or '.' or '/' or '+' or '@' or '=' or '%')) return true;
        return false;
    }
}
