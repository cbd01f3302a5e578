using Vigil.Specs;

namespace Vigil.Config;

/// <summary>Which config keys of a process differ between two specs (a reload's <c>~ web (command, env)</c>).</summary>
public static class SpecDiff
{
    /// <summary>The top-level process keys (<c>command</c>, <c>env</c>, <c>restart</c>, <c>health</c>, …, in the
    /// documented order) whose config differs; empty when <paramref name="before"/> and <paramref name="after"/> would
    /// be written the same. Structural: lists, dictionaries and probes compare by content, defaults written or not
    /// compare equal, a relative path equals its absolute form; library probes are equal only to themselves. Probes of an extension kind compare by their
    /// keys when <paramref name="extensions"/> has the kind, else as records (plain data, equal when their values are).</summary>
    public static IReadOnlyList<string> Fields(ProcessSpec before, ProcessSpec after, ConfigExtensions? extensions = null)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var a = Keys(before, extensions);
        var b = Keys(after, extensions);
        return [.. ConfigLoader.ProcessKeys.Where(k => !ConfigNodes.Same(a.GetValueOrDefault(k), b.GetValueOrDefault(k)))];
    }

    private static Dictionary<string, CNode> Keys(ProcessSpec spec, ConfigExtensions? extensions)
    {
        // No log section and an empty one (log: {}) run the same (the unit logs with the defaults either way).
        if (spec.Log == LogSpec.Default) spec = spec with { Log = null };
        return ConfigNodes.Process(spec, extensions).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
    }
}
