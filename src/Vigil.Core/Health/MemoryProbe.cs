using Vigil.Specs;

namespace Vigil.Health;

/// <summary>
/// <c>memory</c>: the resident set size of the whole process tree (the main process, its descendants and the members
/// of its session) against <see cref="MemoryCheck.MaxBytes"/>. Each check is one sample; failureThreshold consecutive
/// samples over the max fail the probe (the runner counts them). Shared pages (libraries, shared memory) count once
/// per process, as RSS does, so a tree of forked workers can read higher than the memory it really holds.
/// </summary>
internal sealed class MemoryProbe(MemoryCheck check) : IProbe, IImmediateProbe
{
    private static readonly long PageSize = Environment.SystemPageSize;

    public ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
    {
        if (cancel.IsCancellationRequested) return ValueTask.FromCanceled<ProbeResult>(cancel);
        var tree = TreeSample.Read(target);
        // The main process is gone: the run is ending and its exit is on the way; that is not a memory verdict.
        if (tree.Count == 0) return ValueTask.FromResult(ProbeResult.Ok("memory: the process has exited"));
        long rss = tree.Sum(p => p.RssPages) * PageSize;
        var gauges = new Dictionary<string, double> { ["rss_bytes"] = rss };
        string count = tree.Count == 1 ? "1 process" : $"{tree.Count} processes";
        return ValueTask.FromResult(rss > check.MaxBytes
            ? ProbeResult.Fail($"memory: tree RSS {Sizes.Format(rss)} over max {Sizes.Format(check.MaxBytes)} ({count})", gauges)
            : ProbeResult.Ok($"memory: tree RSS {Sizes.Format(rss)} of max {Sizes.Format(check.MaxBytes)} ({count})", gauges));
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
