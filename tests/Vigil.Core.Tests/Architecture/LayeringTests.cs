using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit;

namespace Vigil.Tests.Architecture;

/// <summary>
/// The layering never-rules of DESIGN.md, checked on the source: the engine does not know the CLI, the control plane
/// or a transport; Launching does not know units or probes; Logs does not know units; Specs is plain data. A file that
/// crosses one (a <c>using</c>, a qualified name, or a short name qualified by a sibling namespace) fails here.
/// </summary>
public sealed partial class LayeringTests
{
    /// <summary>Folder of src/Vigil.Core → the engine namespaces its files must not name.</summary>
    private static readonly Dictionary<string, string[]> Never = new()
    {
        ["Specs"] = ["Config", "Health", "Launching", "Logs", "Supervision", "Telemetry", "Hooks"],
        ["Launching"] = ["Supervision", "Health"],
        ["Logs"] = ["Supervision"],
    };

    /// <summary>Names no file of the engine may use: the other projects and the transports' libraries.</summary>
    private static readonly string[] NotInEngine = ["Vigil.Cli", "Vigil.Control", "Vigil.Tether", "MQTTnet", "MessagePack", "System.CommandLine",
        // The exporters plug in from src/Vigil.Telemetry (its HTTP listener, its packages), over the engine's Meter.
        "OpenTelemetry", "Prometheus", "DogStatsD", "Vigil.Telemetry.DogStatsD", "HttpListener"];

    private static readonly string[] EngineAreas = ["Config", "Health", "Launching", "Logs", "Specs", "Supervision", "Telemetry", "Hooks"];

    [Fact]
    public void No_file_of_the_engine_crosses_a_layering_rule()
    {
        var core = Path.Combine(RepoRoot(), "src", "Vigil.Core");
        var files = Directory.GetFiles(core, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .ToList();
        Assert.True(files.Count > 50, $"only {files.Count} source files found under {core}");
        var typesByArea = EngineAreas.ToDictionary(a => a, a => DeclaredTypes(files.Where(f => AreaOf(core, f) == a)));

        var crossings = new List<string>();
        foreach (var file in files)
        {
            var area = AreaOf(core, file);
            var rel = Path.GetRelativePath(RepoRoot(), file);
            var code = StripCommentsAndStrings(File.ReadAllText(file));
            // The check below relies on a file's namespace matching its folder (a file in Logs declaring namespace
            // Vigil.Supervision would see that namespace's types unqualified).
            var ns = NamespaceRegex().Match(code);
            if (area is not null && ns.Success && !(ns.Groups[1].Value == $"Vigil.{area}" || ns.Groups[1].Value.StartsWith($"Vigil.{area}.", StringComparison.Ordinal)))
                crossings.Add($"{rel}: namespace {ns.Groups[1].Value} is not Vigil.{area}");
            foreach (var name in NotInEngine)
                if (Regex.IsMatch(code, $@"(?<![\w.]){Regex.Escape(name)}\b"))
                    crossings.Add($"{rel}: names {name} (the engine knows no CLI, control plane or transport)");
            // Transports plug in (Vigil.Tether registers its config section and probe kind): no Tether type in the engine.
            foreach (Match m in TetherRegex().Matches(code))
                crossings.Add($"{rel}: names {m.Value} (Tether plugs in from Vigil.Tether)");
            if (area is null || !Never.TryGetValue(area, out var banned)) continue;
            foreach (var other in banned)
                foreach (var hit in References(code, other, typesByArea[other]))
                    crossings.Add($"{rel}: {area} → {other} ({hit})");
        }
        Assert.True(crossings.Count == 0, "layering rules crossed (DESIGN.md, Layout):\n" + string.Join("\n", crossings));
    }

    [Fact]
    public void No_file_of_the_engine_names_a_type_of_the_exporters()
    {
        // src/Vigil.Telemetry shares the namespace Vigil.Telemetry with the engine's Telemetry folder (the Meter), so
        // the check is by the types it declares: the engine knows none of them.
        var root = RepoRoot();
        static List<string> Sources(string dir) => [.. Directory.GetFiles(dir, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))];
        // (TypeRegex reads "record struct X" as the type "struct": not a name to look for.)
        var exporterTypes = DeclaredTypes(Sources(Path.Combine(root, "src", "Vigil.Telemetry"))).Where(t => t is not ("struct" or "class")).ToList();
        Assert.Contains("TelemetryHost", exporterTypes);
        var crossings = new List<string>();
        foreach (var file in Sources(Path.Combine(root, "src", "Vigil.Core")))
        {
            var code = StripCommentsAndStrings(File.ReadAllText(file));
            foreach (var type in exporterTypes)
                if (Regex.IsMatch(code, $@"(?<![\w.]){Regex.Escape(type)}\b"))
                    crossings.Add($"{Path.GetRelativePath(root, file)}: names {type} (exporters plug in from Vigil.Telemetry)");
        }
        Assert.True(crossings.Count == 0, string.Join("\n", crossings));
        var corePackages = XDocument.Load(Path.Combine(root, "src", "Vigil.Core", "Vigil.Core.csproj")).Descendants()
            .Where(e => e.Name.LocalName is "PackageReference").Select(e => e.Attribute("Include")!.Value).ToList();
        Assert.DoesNotContain(corePackages, p => p.StartsWith("OpenTelemetry", StringComparison.OrdinalIgnoreCase) || p.StartsWith("prometheus", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void The_projects_reference_each_other_only_downwards()
    {
        var root = RepoRoot();
        string[] Refs(string project) =>
        [
            .. XDocument.Load(Path.Combine(root, "src", project, project + ".csproj")).Descendants()
                .Where(e => e.Name.LocalName is "ProjectReference")
                .Select(e => Path.GetFileNameWithoutExtension(e.Attribute("Include")!.Value.Replace('\\', '/'))),
        ];
        Assert.Empty(Refs("Vigil.Core"));
        Assert.Empty(Refs("Vigil.Client")); // for supervised apps: it takes nothing of Vigil's with it
        Assert.DoesNotContain("Vigil.Cli", Refs("Vigil.Control"));
        Assert.DoesNotContain("Vigil.Tether", Refs("Vigil.Control"));
        Assert.DoesNotContain("Vigil.Cli", Refs("Vigil.Tether"));
        Assert.DoesNotContain("Vigil.Control", Refs("Vigil.Tether"));
        Assert.DoesNotContain("Vigil.Cli", Refs("Vigil.Telemetry"));
        Assert.DoesNotContain("Vigil.Control", Refs("Vigil.Telemetry"));
        Assert.DoesNotContain("Vigil.Tether", Refs("Vigil.Telemetry"));
    }

    [Fact]
    public void The_scanner_finds_usings_qualified_names_and_sibling_qualified_types_but_not_comments_strings_or_members()
    {
        HashSet<string> types = ["Unit", "Supervisor"];
        Assert.Equal(["using Vigil.Supervision"], References("using Vigil.Supervision;\nclass A {}", "Supervision", types));
        Assert.Equal(["using Vigil.Supervision"], References("using static Vigil.Supervision.Unit;", "Supervision", types));
        Assert.Equal(["using Vigil.Supervision"], References("using U = Vigil.Supervision.Unit;", "Supervision", types));
        Assert.Equal(["Vigil.Supervision.Unit"], References("class A { global::Vigil.Supervision.Unit? u; }", "Supervision", types));
        Assert.Equal(["Supervision.Unit"], References("class A { Supervision.Unit? u; }", "Supervision", types));
        var code = StripCommentsAndStrings("// uses Supervision.Unit\n/* Vigil.Supervision.Unit */ class A { string s = \"Supervision.Unit\"; object o = x.Supervision.Unit; }");
        Assert.Empty(References(code, "Supervision", types));
        Assert.Empty(References("class A { Supervision.Other o; }", "Supervision", types)); // not a type of that namespace
    }

    private static IEnumerable<string> References(string code, string area, IReadOnlySet<string> types)
    {
        var found = new List<string>();
        if (Regex.IsMatch(code, $@"^\s*(global\s+)?using\s+(static\s+)?(\w+\s*=\s*)?(global::)?Vigil\.{area}\b", RegexOptions.Multiline))
            found.Add($"using Vigil.{area}");
        foreach (Match m in Regex.Matches(code, $@"(?<!using\s+(static\s+)?(\w+\s*=\s*)?(global::)?)(?<![\w.])(global::)?Vigil\.{area}\.(\w+)"))
            found.Add($"Vigil.{area}.{m.Groups[5].Value}");
        foreach (Match m in Regex.Matches(code, $@"(?<![\w.:]){area}\.(\w+)"))
            if (types.Contains(m.Groups[1].Value)) found.Add($"{area}.{m.Groups[1].Value}");
        return found.Distinct();
    }

    private static HashSet<string> DeclaredTypes(IEnumerable<string> files) =>
        [.. files.SelectMany(f => TypeRegex().Matches(StripCommentsAndStrings(File.ReadAllText(f))).Select(m => m.Groups[1].Value))];

    private static string? AreaOf(string core, string file)
    {
        var first = Path.GetRelativePath(core, file).Split(Path.DirectorySeparatorChar)[0];
        return EngineAreas.Contains(first) ? first : null;
    }

    /// <summary>The code without comments and string or char literals (replaced by spaces), so a name in a comment
    /// or a message is not a reference.</summary>
    internal static string StripCommentsAndStrings(string code) =>
        LiteralRegex().Replace(code, m => new string(' ', m.Length));

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Vigil.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"no Vigil.slnx above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/|@""(?:[^""]|"""")*""|""""""[\s\S]*?""""""|\$?""(?:\\.|[^""\\\n])*""|'(?:\\.|[^'\\\n])'", RegexOptions.Singleline)]
    private static partial Regex LiteralRegex();

    [GeneratedRegex(@"\bTether\w*")]
    private static partial Regex TetherRegex();

    [GeneratedRegex(@"^\s*namespace\s+([\w.]+)", RegexOptions.Multiline)]
    private static partial Regex NamespaceRegex();

    [GeneratedRegex(@"\b(?:class|record|struct|interface|enum|delegate\s+\w+(?:<[^>]*>)?)\s+(\w+)")]
    private static partial Regex TypeRegex();
}
