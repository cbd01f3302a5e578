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
        errors.AddRange(TemplateChecks(config.Templates, path));
        errors.AddRange(HookChecks(config, mapper, path));
        if (errors.Count > 0) throw new ConfigException(errors);
        return config;
    }

    /// <summary><see cref="LoadTemplates"/>, then the start-up checks of every template's unit (its cmd is found and
    /// executable), each failure an error at the template's <c>cmd</c>: for <c>vigil run --templates DIR</c>.</summary>
    /// <exception cref="ConfigException">Every load error, or else every failed check.</exception>
    public static IReadOnlyList<LigatoTemplate> LoadTemplatesChecked(string folder)
    {
        var templates = LoadTemplates(folder);
        var errors = TemplateChecks(templates, folder).ToList();
        if (errors.Count > 0) throw new ConfigException(errors);
        return templates;
    }

    /// <summary><paramref name="config"/> with its templates read from <paramref name="folder"/> instead (checked as
    /// <see cref="LoadTemplatesChecked"/>): <c>vigil run --templates DIR</c> next to a config. Null: the config as it is.</summary>
    public static VigilConfig WithTemplates(VigilConfig config, string? folder)
    {
        ArgumentNullException.ThrowIfNull(config);
        return folder is null ? config : config with { TemplatesFolder = Path.GetFullPath(folder), Templates = LoadTemplatesChecked(folder) };
    }

    private static IEnumerable<ConfigError> TemplateChecks(IReadOnlyList<LigatoTemplate> templates, string fallback) =>
        from t in templates
        from problem in ConfigChecks.Problems(t.ToSpec())
        select new ConfigError(t.SourcePath ?? fallback, t.CmdLine, t.CmdColumn, problem.Key == "command" ? "cmd" : problem.Key,
            problem.Message.ReplaceLineEndings(" "));

    private static string Index(int i) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"processes[{i}]");
}
