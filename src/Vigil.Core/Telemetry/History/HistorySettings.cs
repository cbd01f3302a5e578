namespace Vigil.Telemetry.History;

/// <summary>The config's top-level <c>history:</c>: whether events go to <c>state.db</c>, for how long, and how large it may grow.</summary>
/// <param name="Enabled"><c>history: false</c> (or <c>enabled: false</c>) records nothing and shows no statistics.</param>
/// <param name="Keep">Events older than this are pruned (at start and every hour).</param>
/// <param name="MaxSize">Past this many bytes of rows the oldest are pruned, whatever their age.</param>
public sealed record HistorySettings(bool Enabled, TimeSpan Keep, long MaxSize)
{
    public static readonly TimeSpan DefaultKeep = TimeSpan.FromDays(30);
    public const long DefaultMaxSize = 100L << 20;

    /// <summary>On, 30 days, 100 MiB.</summary>
    public static HistorySettings Default { get; } = new(true, DefaultKeep, DefaultMaxSize);

    public static HistorySettings Off { get; } = Default with { Enabled = false };
}
