using Vigil.Specs;

namespace Vigil.Config;

/// <summary>Writes specs back as a config file that <see cref="ConfigLoader"/> reads to equal specs (<c>vigil save</c>).</summary>
public static class ConfigWriter
{
    /// <summary>The YAML text of a config with instance name <paramref name="name"/> and these units.</summary>
    public static string ToYaml(string name, IReadOnlyList<ProcessSpec> specs) => throw new NotImplementedException("ConfigWriter: being built");
}

/// <summary>The start-up checks of one unit (command found and executable, cwd a folder), without a file position.</summary>
public static class ConfigChecks
{
    /// <summary>Every problem that would keep <paramref name="spec"/> from starting; empty when none.</summary>
    public static IReadOnlyList<string> Check(ProcessSpec spec) => [];
}
