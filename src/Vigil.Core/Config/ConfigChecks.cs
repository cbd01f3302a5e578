using Vigil.Launching;
using Vigil.Specs;

namespace Vigil.Config;

/// <summary>
/// The start-up checks of one unit: its folder exists and is one, and its command (or script and interpreter) is found
/// and executable, looked up exactly as the spawn will (<see cref="CommandResolver"/> for argv and folder, the
/// launcher's own PATH search with the unit's environment), so a unit that passes cannot fail to spawn for these
/// reasons at the moment of the check, and one that fails would have retried forever.
/// </summary>
public static class ConfigChecks
{
    /// <summary>Every problem that would keep <paramref name="spec"/> from starting, as <c>key: message</c>
    /// (<c>command: cannot execute 'pyhton3': command not found in PATH (…); did you mean 'python3'?</c>); empty when none.</summary>
    public static IReadOnlyList<string> Check(ProcessSpec spec) =>
        [.. Problems(spec).Select(p => p.Key.Length > 0 ? $"{p.Key}: {p.Message}" : p.Message)];

    /// <summary>The problems with the config key each belongs to: <c>cwd</c>, <c>command</c>, <c>script</c>, or empty
    /// for the entry as a whole (neither command nor script, and no package.json).</summary>
    internal static IReadOnlyList<(string Key, string Message)> Problems(ProcessSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var cwd = CommandResolver.WorkingDirectory(spec);
        // Without its folder nothing else can be judged (a relative command, the script): one error, not three.
        if (Launcher.CheckWorkingDirectory(cwd) is { } badCwd) return [("cwd", badCwd.Message)];
        if (spec.Attach is not null) return []; // an external unit runs nothing (its exec probes are checked when they run)
        var key = !spec.Command.IsDefaultOrEmpty ? "command" : !string.IsNullOrEmpty(spec.Script) ? "script" : "";
        var (argv, failure) = CommandResolver.Argv(spec, cwd);
        if (failure is not null) return [(key, failure.Message)];
        var env = CommandResolver.Environment(spec);
        var path = Launcher.FindEnv(env, "PATH") ?? Launcher.DefaultPath;
        var program = argv![0];
        var resolved = Launcher.ResolveExecutable(program, cwd, path);
        if (resolved.Failure is not { } f) return [];
        var message = f.Message;
        if (f.Kind == SpawnErrorKind.NotFound && !program.Contains('/') && NearestInPath(program, path, cwd) is { } near)
            message += $"; did you mean '{near}'?";
        // A script runs through its interpreter: say which script the missing interpreter was for.
        if (key == "script" && CommandResolver.InterpreterFor(spec.Script!) is not null)
            message += $" (the interpreter for {spec.Script})";
        return [(key, message)];
    }

    /// <summary>The executable in PATH whose name is nearest to a mistyped <paramref name="program"/> (pyhton3 → python3).</summary>
    private static string? NearestInPath(string program, string path, string cwd)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dir in path.Split(':'))
        {
            try
            {
                foreach (var file in Directory.EnumerateFiles(dir.Length == 0 ? cwd : Path.GetFullPath(dir, cwd)))
                    names.Add(Path.GetFileName(file));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { } // a missing or closed PATH entry
        }
        return Suggestions.Nearest(program, names);
    }
}
