using System.Text.Json;
using Vigil.Specs;

namespace Vigil.Launching;

/// <summary>Turns a spec into the argv, folder and environment to exec. Problems are <see cref="SpawnFailure"/> values,
/// found at each start (a script may appear later), and follow the restart policy like a crash. It lives with the
/// launcher, not with the specs: it reads the file system (package.json, the script) and Vigil's environment, which
/// plain data must not, and its answers are the launcher's (spawn failures, argv, envp).</summary>
public static class CommandResolver
{
    /// <summary>The interpreter for a script, by extension (elife: .js node, .py python; plus .dll dotnet, .sh bash).</summary>
    public static string[]? InterpreterFor(string script) => Path.GetExtension(script).ToLowerInvariant() switch
    {
        ".js" or ".mjs" or ".cjs" => ["node"],
        ".py" => ["python3"],
        ".dll" => ["dotnet"],
        ".sh" => ["bash"],
        _ => null,
    };

    /// <summary>Whether a run gets a Node IPC channel: <c>ipc:</c> when given, else a script run by node (elife forks
    /// those). Never for a detached unit (it outlives Vigil, and with it the channel's other end) nor in tmux (tmux starts
    /// the process and passes no channel).</summary>
    public static bool UsesIpc(ProcessSpec spec, IReadOnlyList<string> argv) =>
        !spec.Detach && spec.Tmux is null && (spec.Ipc ?? (spec.Command.IsDefaultOrEmpty && argv.Count > 0 && argv[0] == "node"));

    public static string WorkingDirectory(ProcessSpec spec, string? baseDir = null) =>
        Path.GetFullPath(spec.Cwd ?? ".", baseDir ?? System.Environment.CurrentDirectory);

    public static (IReadOnlyList<string>? Argv, SpawnFailure? Failure) Argv(ProcessSpec spec, string cwd)
    {
        if (!spec.Command.IsDefaultOrEmpty) return ([.. spec.Command, .. spec.Args], null);
        var script = spec.Script;
        if (string.IsNullOrEmpty(script))
        {
            // elife: no script → "main" of package.json in cwd.
            var pkg = Path.Combine(cwd, "package.json");
            if (!File.Exists(pkg))
                return (null, new SpawnFailure(SpawnErrorKind.NoEntryPoint, $"no command or script, and no package.json in {cwd} to take \"main\" from"));
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(pkg));
                script = doc.RootElement.TryGetProperty("main", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : "index.js";
            }
            catch (JsonException e)
            {
                return (null, new SpawnFailure(SpawnErrorKind.NoEntryPoint, $"{pkg}: not valid JSON ({e.Message})"));
            }
            script ??= "index.js";
        }
        var interp = InterpreterFor(script);
        if (interp is null)
        {
            // No known extension: run the script itself (it needs a #! line and the executable bit).
            var path = script.Contains('/') ? script : "./" + script;
            return ([path, .. spec.Args], null);
        }
        if (!File.Exists(Path.Combine(cwd, script)))
            return (null, new SpawnFailure(SpawnErrorKind.NotFound, $"script '{script}' not found in {cwd}"));
        return ([.. interp, script, .. spec.Args], null);
    }

    /// <summary>Vigil's environment, plus the spec's overrides, minus its removals (null values).</summary>
    public static List<string> Environment(ProcessSpec spec, IReadOnlyDictionary<string, string?>? extra = null)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in System.Environment.GetEnvironmentVariables())
            env[(string)e.Key] = (string?)e.Value ?? "";
        void Apply(IEnumerable<KeyValuePair<string, string?>> src)
        {
            foreach (var (k, v) in src)
                if (v is null) env.Remove(k); else env[k] = v;
        }
        if (extra is not null) Apply(extra);
        Apply(spec.Env);
        // Python block-buffers stdout into a pipe, so its lines would arrive late and in bursts (and be lost in a
        // crash). Unbuffered unless the config or Vigil's own environment says otherwise; harmless for others.
        if (!spec.Env.ContainsKey("PYTHONUNBUFFERED")) env.TryAdd("PYTHONUNBUFFERED", "1");
        var list = new List<string>(env.Count);
        foreach (var (k, v) in env) list.Add(k + "=" + v);
        return list;
    }
}
