namespace Vigil.Control;

/// <summary>One Ligato process template of the running Vigil's templates folder (<c>vigil templates ls|show</c>), with
/// the state of its unit.</summary>
public sealed record TemplateInfo
{
    public string Name { get; init; } = "";
    /// <summary>The template file (absolute).</summary>
    public string File { get; init; } = "";
    public string Cmd { get; init; } = "";
    public IReadOnlyList<string> Args { get; init; } = [];
    /// <summary>0: never restart, -1: always, N: at most N restarts in the unit's life.</summary>
    public int Restart { get; init; }
    public bool RunOnStartup { get; init; }
    public bool Detach { get; init; }
    public bool Notify { get; init; }
    public bool AutoTerminate { get; init; }
    public bool OutWriter { get; init; }
    public bool ErrWriter { get; init; }
    public string? CpuAffinityMask { get; init; }
    public string? CpuAffinityList { get; init; }
    public string? CpuAffinityDelay { get; init; }
    /// <summary>The state of the unit of the template's name (lower case, as <c>vigil ls</c>); null when there is none
    /// (the template was added to the folder after the last reload).</summary>
    public string? State { get; init; }
    public int? Pid { get; init; }
    /// <summary>The template as Ligato writes it.</summary>
    public string Json { get; init; } = "";
}

/// <summary>A unit written as a Ligato template (<c>vigil save-template</c>): the caller writes <see cref="Json"/> to
/// <c>&lt;dir&gt;/&lt;name&gt;.json</c>.</summary>
public sealed record TemplateSaveResult
{
    public string Name { get; init; } = "";
    public string Json { get; init; } = "";
    /// <summary>The running Vigil's templates folder (the default place to write it); null when it has none.</summary>
    public string? Folder { get; init; }
    /// <summary>The unit's config keys a template cannot hold (<c>cwd</c>, <c>env</c>, <c>health</c>, …): lost when it
    /// is loaded back.</summary>
    public IReadOnlyList<string> Lost { get; init; } = [];
}
