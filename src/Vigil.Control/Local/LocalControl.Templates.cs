using Vigil.Config;
using Vigil.Supervision;

namespace Vigil.Control;

// Ligato's template operations (GetAllTemplates, the Template option) over the supervisor's templates folder.
public sealed partial class LocalControl
{
    public Task<IReadOnlyList<TemplateInfo>> TemplatesAsync(CancellationToken cancel = default)
    {
        IReadOnlyList<LigatoTemplate> templates;
        try { templates = Supervisor.GetAllTemplates(); }
        catch (InvalidOperationException)
        {
            throw new ControlException(ControlErrors.Unsupported, "this vigil has no templates folder (config: templates: DIR, or vigil run --templates DIR)");
        }
        catch (ConfigException e)
        {
            throw new ControlException(ControlErrors.ConfigError, $"the templates folder has {e.Errors.Count} error(s)", details: [.. e.Errors.Select(x => x.ToString())]);
        }
        return Task.FromResult<IReadOnlyList<TemplateInfo>>([.. templates.Select(t =>
        {
            var unit = Supervisor.Find(t.Name).FirstOrDefault();
            return new TemplateInfo
            {
                Name = t.Name, File = t.SourcePath ?? "", Cmd = t.Cmd, Args = [.. t.Args], Restart = t.Restart, RunOnStartup = t.RunOnStartup,
                Detach = t.Detach, Notify = t.Notify, AutoTerminate = t.AutoTerminate, OutWriter = t.OutWriter, ErrWriter = t.ErrWriter,
                CpuAffinityMask = t.CpuAffinityMask, CpuAffinityList = t.CpuAffinityList, CpuAffinityDelay = t.CpuAffinityDelay,
                State = unit?.State.Name(), Pid = unit?.Pid, Json = t.ToJson(),
            };
        })]);
    }

    public Task<TemplateSaveResult> SaveTemplateAsync(string name, CancellationToken cancel = default)
    {
        var units = Resolve([name]);
        if (units.Count > 1)
            throw new ControlException(ControlErrors.BadRequest, $"{units.Count} units are named '{name}': a template names one (rename one of them)");
        LigatoTemplate template;
        IReadOnlyList<string> lost;
        try { template = LigatoTemplate.FromSpec(units[0].Spec, out lost); }
        catch (ArgumentException e) { throw new ControlException(ControlErrors.BadRequest, e.Message); }
        return Task.FromResult(new TemplateSaveResult
        {
            Name = template.Name, Json = template.ToJson(), Folder = Supervisor.TemplatesFolder, Lost = lost,
        });
    }
}
