using System.Collections.Immutable;
using Vigil.Specs;
using YamlDotNet.Core;

namespace Vigil.Config;

public static partial class ConfigLoader
{
    // process.proto's fields, in Go's encoding/json spelling, then protobuf JSON's camelCase, which maps to them.
    private static readonly string[] TemplateKeys = ["name", "cmd", "p_options", "pOptions"];
    private static readonly string[] TemplateOptionKeys =
    [
        "args", "out_writer", "err_writer", "restart", "detach", "run_on_startup", "notify", "auto_terminate",
        "cpu_affinity_mask", "cpu_affinity_list", "cpu_affinity_delay", "cpu_affinity",
        "outWriter", "errWriter", "runOnStartup", "autoTerminate", "cpuAffinityMask", "cpuAffinityList", "cpuAffinityDelay", "cpuAffinity",
    ];

    /// <summary>A camelCase option key as its snake_case field (<c>runOnStartup</c> → <c>run_on_startup</c>).</summary>
    private static string Snake(string key) => string.Concat(key.Select(c => char.IsAsciiLetterUpper(c) ? "_" + char.ToLowerInvariant(c) : c.ToString()));

    /// <summary>Reads every <c>*.json</c> file of <paramref name="folder"/> as a Ligato process template (in file name
    /// order). Every problem of every file is collected and thrown together, each as <c>file:line:col: key: message</c>;
    /// two templates with one name are refused too.</summary>
    /// <exception cref="ConfigException">The folder is missing or unreadable, or a template is not valid.</exception>
    public static IReadOnlyList<LigatoTemplate> LoadTemplates(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder))
            throw FileError(folder, File.Exists(folder) ? "templates: is a file, not a folder of templates" : "templates: folder does not exist");
        string[] files;
        try
        {
            files = [.. new DirectoryInfo(folder).EnumerateFiles("*.json").Where(f => f.Extension == ".json").Select(f => f.FullName).Order(StringComparer.Ordinal)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw FileError(folder, $"templates: cannot list the folder: {e.Message}");
        }
        var templates = new List<LigatoTemplate>();
        var errors = new List<ConfigError>();
        var byName = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            try
            {
                var t = LoadTemplate(file);
                if (byName.TryGetValue(t.Name, out var other))
                {
                    errors.Add(new ConfigError(file, 0, 0, "name", $"template '{t.Name}' is also defined in {other}"));
                    continue;
                }
                byName[t.Name] = file;
                templates.Add(t);
            }
            catch (ConfigException e) { errors.AddRange(e.Errors); }
        }
        if (errors.Count > 0) throw new ConfigException(errors);
        return templates;
    }

    /// <summary>Reads one Ligato template file (Ligato's JSON; either spelling of its keys).</summary>
    /// <exception cref="ConfigException">The file is missing, unreadable or not a valid template.</exception>
    public static LigatoTemplate LoadTemplate(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw FileError(path, File.Exists(path) ? $"cannot read the template: {e.Message}" : "template file does not exist");
        }
        var full = Path.GetFullPath(path);
        return new Mapper(path, Path.GetDirectoryName(full)!, null).MapTemplate(text) with { SourcePath = full };
    }

    internal sealed partial class Mapper
    {
        /// <summary>The top-level <c>templates:</c> folder (relative to the config file), read now so that a bad template
        /// is a config error like any other: its own errors name its file.</summary>
        private (string Folder, IReadOnlyList<LigatoTemplate> Templates)? Templates(YNode v, string path, Pos at)
        {
            if (String(v, path, at) is not { } text) return null;
            if (text.Length == 0)
            {
                Error(at, path, "must not be empty (a folder of Ligato templates, relative to this file)");
                return null;
            }
            var folder = Path.GetFullPath(text, baseDir);
            if (!Directory.Exists(folder))
            {
                Error(at, path, $"{folder}: {(File.Exists(folder) ? "is a file, not a folder of templates" : "folder does not exist")}");
                return null;
            }
            try { return (folder, LoadTemplates(folder)); }
            catch (ConfigException e)
            {
                foreach (var error in e.Errors)
                {
                    if (_errorCount++ == MaxErrors) _firstDropped = at;
                    if (!ErrorsFull) _errors.Add(error);
                }
                return null;
            }
        }

        public LigatoTemplate MapTemplate(string text)
        {
            YNode? root = null;
            try
            {
                // JSON's whitespace may be tabs, which YAML refuses for indentation; in valid JSON a tab is never inside
                // a string (it would be written \t), so spaces mean the same and keep every column.
                root = YamlTree.Parse((text.StartsWith('\uFEFF') ? text[1..] : text).Replace('\t', ' '));
            }
            catch (YamlException e)
            {
                Error(Pos.From(e.Start), "", $"not valid JSON: {YamlPositionPrefix().Replace(e.Message, "")}");
                Throw();
            }
            string? name = null, cmd = null;
            var t = new LigatoTemplate { Name = "", Cmd = "" };
            if (root is not YMapping top)
            {
                Error(root?.Start ?? new Pos(1, 1), "", $"expected a Ligato process template (an object with name, cmd and p_options), got {root?.Describe() ?? "nothing"}");
                Throw();
                return t;
            }
            Pos? optionsAt = null;
            foreach (var (key, keyPath, at, v) in Entries(top, "", TemplateKeys))
            {
                switch (key)
                {
                    case "name": name = String(v, keyPath, at); break;
                    case "cmd": cmd = String(v, keyPath, at); break;
                    default:
                        if (optionsAt is { } first) { Error(at, keyPath, $"the options are given twice (p_options and pOptions; the first at line {first.Line})"); break; }
                        optionsAt = at;
                        if (Mapping(v, keyPath, at) is { } om) t = TemplateOptions(om, keyPath, t);
                        break;
                }
            }
            if (string.IsNullOrWhiteSpace(name)) Error(top.Start, "name", "a template needs a name (the unit's name)");
            if (string.IsNullOrWhiteSpace(cmd)) Error(top.Start, "cmd", "a template needs a cmd (the program to run)");
            var cmdAt = PositionOf("cmd") ?? top.Start;
            t = t with { Name = name ?? "", Cmd = cmd ?? "", CmdLine = cmdAt.Line, CmdColumn = cmdAt.Column };
            if (t.Affinity(out var affinityError) is null && affinityError is not null)
            {
                var field = affinityError[..affinityError.IndexOf(':', StringComparison.Ordinal)];
                var keyPath = PositionOf($"{OptionsPath(optionsAt)}.{field}") is not null ? $"{OptionsPath(optionsAt)}.{field}"
                    : $"{OptionsPath(optionsAt)}.{Camel(field)}";
                Error(PositionOf(keyPath) ?? top.Start, keyPath, affinityError[(field.Length + 2)..]);
            }
            if (!string.IsNullOrWhiteSpace(name) && !string.IsNullOrWhiteSpace(cmd))
                foreach (var problem in t.ToSpec().Validate())
                    Error(top.Start, problem.KeyPath, problem.Message);
            Throw();
            return t;
        }

        private string OptionsPath(Pos? optionsAt) =>
            optionsAt is { } at && PositionOf("pOptions") == at ? "pOptions" : "p_options";

        private static string Camel(string snake) => string.Concat(snake.Split('_').Select((w, i) => i == 0 || w.Length == 0 ? w : char.ToUpperInvariant(w[0]) + w[1..]));

        private LigatoTemplate TemplateOptions(YMapping map, string path, LigatoTemplate t)
        {
            var seen = new Dictionary<string, Pos>(StringComparer.Ordinal);
            foreach (var (key, keyPath, at, v) in Entries(map, path, TemplateOptionKeys))
            {
                var field = Snake(key);
                if (seen.TryGetValue(field, out var first))
                {
                    Error(at, keyPath, $"given twice (as {field} and {Camel(field)}; the first at line {first.Line})");
                    continue;
                }
                seen[field] = at;
                switch (field)
                {
                    case "args": t = t with { Args = StringList(v, keyPath, at) ?? [] }; break;
                    case "out_writer": t = t with { OutWriter = Bool(v, keyPath, at) ?? false }; break;
                    case "err_writer": t = t with { ErrWriter = Bool(v, keyPath, at) ?? false }; break;
                    case "restart":
                        var n = Int(v, keyPath, at);
                        if (n < -1) Error(at, keyPath, $"expected 0 (no restart), -1 (always) or a number of restarts, got {n}");
                        else t = t with { Restart = n ?? 0 };
                        break;
                    case "detach": t = t with { Detach = Bool(v, keyPath, at) ?? false }; break;
                    case "run_on_startup": t = t with { RunOnStartup = Bool(v, keyPath, at) ?? false }; break;
                    case "notify": t = t with { Notify = Bool(v, keyPath, at) ?? false }; break;
                    case "auto_terminate": t = t with { AutoTerminate = Bool(v, keyPath, at) ?? false }; break;
                    // The older proto's single cpu_affinity field held a mask.
                    case "cpu_affinity_mask" or "cpu_affinity": t = t with { CpuAffinityMask = String(v, keyPath, at) }; break;
                    case "cpu_affinity_list": t = t with { CpuAffinityList = String(v, keyPath, at) }; break;
                    case "cpu_affinity_delay": t = t with { CpuAffinityDelay = String(v, keyPath, at) }; break;
                }
            }
            if (seen.ContainsKey("cpu_affinity_mask") && seen.ContainsKey("cpu_affinity_list"))
                Error(seen["cpu_affinity_list"], Join(path, "cpu_affinity_list"), "give either cpu_affinity_mask or cpu_affinity_list, not both");
            return t;
        }
    }
}
