using Vigil.Config;
using Vigil.Specs;

namespace Vigil.Supervision;

// Ligato's process manager API over templates (ligato/cn-infra exec/processmanager plugin.go): NewProcessFromTemplate,
// GetTemplate, GetAllTemplates, and the Template option that writes a process as a template file.
public sealed partial class Supervisor
{
    /// <summary>Defines a unit from a Ligato template (not started: <see cref="Unit.StartAsync"/> starts it, as Ligato's
    /// <c>NewProcessFromTemplate</c> then <c>Start()</c>).</summary>
    public Unit FromTemplate(LigatoTemplate template)
    {
        ArgumentNullException.ThrowIfNull(template);
        return Define(template.ToSpec());
    }

    /// <summary>Reads the template file at <paramref name="path"/> and defines its unit (not started).</summary>
    /// <exception cref="ConfigException">The file is not a valid template (errors name the file, line and field).</exception>
    public Unit FromTemplate(string path) => FromTemplate(ConfigLoader.LoadTemplate(path));

    /// <summary>The template named <paramref name="name"/> in <see cref="SupervisorOptions.TemplatesFolder"/>, read now;
    /// null when there is none.</summary>
    /// <exception cref="InvalidOperationException">No templates folder was given.</exception>
    /// <exception cref="ConfigException">A template in the folder is not valid.</exception>
    public LigatoTemplate? GetTemplate(string name) => GetAllTemplates().FirstOrDefault(t => t.Name == name);

    /// <summary>Every template in <see cref="SupervisorOptions.TemplatesFolder"/>, read now, in file name order.</summary>
    /// <exception cref="InvalidOperationException">No templates folder was given.</exception>
    /// <exception cref="ConfigException">A template in the folder is not valid.</exception>
    public IReadOnlyList<LigatoTemplate> GetAllTemplates() => ConfigLoader.LoadTemplates(TemplatesFolderOrThrow());

    /// <summary>Writes <paramref name="unit"/> as a Ligato template, <c>&lt;name&gt;.json</c> in <paramref name="folder"/>
    /// (default: <see cref="SupervisorOptions.TemplatesFolder"/>; made if missing), as Ligato's Template option does.
    /// Returns the file's path and what of the unit a template cannot say (config keys: <c>env</c>, <c>health</c>, …).</summary>
    /// <exception cref="ArgumentException">The unit has no command, or its name cannot be a file name.</exception>
    public (string Path, IReadOnlyList<string> Lost) SaveTemplate(Unit unit, string? folder = null)
    {
        ArgumentNullException.ThrowIfNull(unit);
        var template = LigatoTemplate.FromSpec(unit.Spec, out var lost);
        var path = LigatoTemplate.FilePath(folder ?? TemplatesFolderOrThrow(), template.Name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, template.ToJson());
        return (path, lost);
    }

    /// <summary>The folder of Ligato templates (<see cref="SupervisorOptions.TemplatesFolder"/>); null = none.</summary>
    public string? TemplatesFolder => _options.TemplatesFolder;

    private string TemplatesFolderOrThrow() =>
        _options.TemplatesFolder ?? throw new InvalidOperationException("no templates folder: set SupervisorOptions.TemplatesFolder (config: templates: DIR)");
}
