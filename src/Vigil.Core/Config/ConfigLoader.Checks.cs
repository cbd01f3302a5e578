namespace Vigil.Config;

// The start-up checks of a loaded config (ConfigChecks), placed at the keys they are about.
public static partial class ConfigLoader
{
    /// <summary>As <see cref="Load(string, ConfigExtensions?)"/>, then the start-up checks of every unit (<see cref="ConfigChecks"/>: its
    /// command can be found in PATH after its cwd and env.PATH, and is executable; its cwd exists and is a folder),
    /// each failure an error at the position of its <c>command</c>, <c>script</c> or <c>cwd</c> key. For <c>vigil run</c>
    /// and reload: a unit that could never start is a config error, and nothing starts.</summary>
    /// <exception cref="ConfigException">Every load error, or else every failed check.</exception>
    public static VigilConfig LoadChecked(string path, ConfigExtensions? extensions = null)
    {
        var (config, mapper) = Read(path, extensions);
        var errors = new List<ConfigError>();
        for (int i = 0; i < config.Processes.Count; i++)
        {
            var entry = Index(i);
            foreach (var (key, message) in ConfigChecks.Problems(config.Processes[i]))
            {
                var keyPath = key.Length > 0 ? $"{entry}.{key}" : entry;
                // A default cwd (the key left out) is not in the file: the error goes to the entry.
                var at = mapper.PositionOf(keyPath) ?? mapper.PositionOf(entry) ?? new Pos(1, 1);
                errors.Add(new ConfigError(path, at.Line, at.Column, keyPath, message.ReplaceLineEndings(" ")));
            }
        }
        errors.AddRange(HookChecks(config, mapper, path));
        if (errors.Count > 0) throw new ConfigException(errors);
        return config;
    }

    private static string Index(int i) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"processes[{i}]");
}
