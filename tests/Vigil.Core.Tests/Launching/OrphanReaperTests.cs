using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Launching;
using Xunit;

namespace Vigil.Tests.Launching;

/// <summary>The reaper's bookkeeping of spared processes across full sweeps, which scan /proc without its lock.</summary>
public sealed class OrphanReaperTests
{
    /// <summary>A PID with no process under it now.</summary>
    private static int Unused()
    {
        for (int pid = 30_000; pid > 300; pid--)
            if (!Directory.Exists($"/proc/{pid}")) return pid;
        throw new InvalidOperationException("no unused pid below 30000");
    }

    [Fact]
    public void A_process_spared_while_a_full_sweep_scanned_is_kept_by_that_sweep_and_forgotten_by_the_next_once_gone()
    {
        // Only the sets are exercised: this reaper reaps nothing (not all orphans, and it spawned no unit).
        var reaper = new OrphanReaper(reapAllOrphans: false, NullLogger.Instance);
        int ghost = Unused(), self = Environment.ProcessId;
        reaper.Spare(self);
        // Spared between the scan and the decisions: the scan could not have listed it, so it must not count as gone.
        reaper.AfterScan = () => reaper.Spare(ghost);
        reaper.FullSweepNext();
        Assert.Equal(0, reaper.Sweep());
        Assert.True(reaper.IsSpared(ghost), "a sweep forgot a process spared after its scan of /proc");
        Assert.True(reaper.IsSpared(self));

        // The next full sweep began after it was spared and does not find it: forgotten. A live one is kept.
        reaper.AfterScan = null;
        reaper.FullSweepNext();
        reaper.Sweep();
        Assert.False(reaper.IsSpared(ghost), "a process gone before the scan began was not forgotten");
        Assert.True(reaper.IsSpared(self));
    }
}
