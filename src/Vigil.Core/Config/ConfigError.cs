using System.Globalization;
using Vigil.Specs;

namespace Vigil.Config;

/// <summary>A loaded config: the processes to run, in file order.</summary>
/// <param name="SourcePath">The absolute path of the file (or the source name given to <see cref="ConfigLoader.Parse"/>).</param>
public sealed record VigilConfig(string SourcePath, IReadOnlyList<ProcessSpec> Processes)
{
    /// <summary>The extension sections the file gave (Vigil.Tether's <c>tether:</c>): <c>Sections.Get(section)</c>.</summary>
    public ConfigSections Sections { get; init; } = ConfigSections.Empty;

    /// <summary>The instance name (top-level <c>name:</c>): the control socket is <c>&lt;runtime dir&gt;/&lt;name&gt;.sock</c>.</summary>
    public string Name { get; init; } = DefaultName;

    public const string DefaultName = "default";

    /// <summary>Top-level <c>events: { status: all }</c>: every /proc status change is an event.</summary>
    public Supervision.StatusEvents StatusEvents { get; init; } = Supervision.StatusEvents.Significant;

    /// <summary>Top-level <c>history:</c>: events in <c>state.db</c> for the reliability statistics (on, 30 days, 100 MiB by default).</summary>
    public Telemetry.History.HistorySettings History { get; init; } = Telemetry.History.HistorySettings.Default;
    /// <summary>Top-level <c>hooks:</c>: run for the events of every unit (besides each unit's own).</summary>
    public HookSet Hooks { get; init; } = HookSet.Empty;

    /// <summary>Top-level <c>templates:</c>, absolute: the folder of Ligato process templates; null = none.</summary>
    public string? TemplatesFolder { get; init; }

    /// <summary>The templates read from <see cref="TemplatesFolder"/> (in file name order).</summary>
    public IReadOnlyList<LigatoTemplate> Templates { get; init; } = [];

    /// <summary>Every unit to define: <see cref="Processes"/>, then one per template (started with Vigil only when
    /// its <c>run_on_startup</c> is set: <see cref="ProcessSpec.Autostart"/>).</summary>
    public IReadOnlyList<ProcessSpec> Units => Templates.Count == 0 ? Processes : [.. Processes, .. Templates.Select(t => t.ToSpec())];
}

/// <summary>One problem in a config file. <see cref="Line"/> and <see cref="Column"/> are 1-based; both are 0 when the
/// problem is with the file as a whole (it does not exist, cannot be read). <see cref="KeyPath"/> looks like
/// <c>processes[1].restart.policy</c>, and is empty for a syntax error or a file-level problem.</summary>
public sealed record ConfigError(string File, int Line, int Column, string KeyPath, string Message)
{
    /// <summary><c>file:line:col: key: message</c>, or <c>file:line:col: message</c> when there is no key.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}:{Column}: {(KeyPath.Length > 0 ? KeyPath + ": " : "")}{Message}");
}

/// <summary>Thrown by <see cref="ConfigLoader"/> with every problem found in the file (not just the first).
/// The message is the errors, one per line.</summary>
public sealed class ConfigException : Exception
{
    public IReadOnlyList<ConfigError> Errors { get; }

    public ConfigException(IReadOnlyList<ConfigError> errors)
        : base(string.Join('\n', errors))
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Count == 0) throw new ArgumentException("a ConfigException needs at least one error", nameof(errors));
        Errors = errors;
    }
}
