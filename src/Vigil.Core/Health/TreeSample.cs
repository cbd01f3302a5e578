using Vigil.Launching;

namespace Vigil.Health;

/// <summary>The live processes of a run, read from /proc for the resource probes (memory, cpu).</summary>
internal static class TreeSample
{
    /// <summary>How old a shared /proc scan may be to find the tree's members (each member's numbers are read fresh):
    /// many units probed at the same moment share one scan.</summary>
    private static readonly TimeSpan ScanAge = TimeSpan.FromMilliseconds(250);

    /// <summary>The main process and every live descendant, including members of its session; empty when it is gone.</summary>
    public static List<ProcStat> Read(ProbeTarget target) => ProcFs.Tree(target.Pid, target.Session, target.Launcher.Scan(ScanAge));
}
