using System.Globalization;
using System.Runtime.InteropServices;

namespace Vigil.Launching;

/// <summary>Sets the CPU affinity of a running process (sched_setaffinity(2)), as <c>taskset -a -p</c> does: on every
/// thread it has at that moment (a thread it makes later inherits the affinity of the thread that makes it).</summary>
public static class CpuAffinityApplier
{
    /// <summary>Pins every thread of <paramref name="pid"/> to <paramref name="cpus"/>. Returns null, or why it failed
    /// (no such process, a CPU this machine does not have or may not use, no permission).</summary>
    public static string? Apply(int pid, IReadOnlyList<int> cpus)
    {
        ArgumentNullException.ThrowIfNull(cpus);
        if (cpus.Count == 0) return "no CPU given";
        var mask = new byte[(cpus.Max() / 64 + 1) * 8];
        foreach (var c in cpus) mask[c / 8] |= (byte)(1 << (c % 8));
        int[] threads;
        try
        {
            threads = [.. Directory.EnumerateDirectories($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/task")
                .Select(d => int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? t : 0)
                .Where(t => t > 0)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { threads = [pid]; }
        if (threads.Length == 0) threads = [pid];
        string? failure = null;
        int applied = 0;
        foreach (var tid in threads)
        {
            if (sched_setaffinity(tid, mask.Length, mask) == 0) { applied++; continue; }
            int errno = Marshal.GetLastPInvokeError();
            // A thread that ended between the listing and the call is no failure.
            if (errno == Native.ESRCH && tid != pid) continue;
            failure ??= errno switch
            {
                Native.ESRCH => "the process has ended",
                22 => $"none of the CPUs {Specs.CpuAffinity.FormatList(cpus)} is online and allowed here (EINVAL)",
                1 => "not permitted (EPERM)",
                _ => Marshal.GetPInvokeErrorMessage(errno),
            };
        }
        return applied > 0 && failure is null ? null : failure ?? "no thread of the process was found";
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int sched_setaffinity(int pid, nint cpusetsize, byte[] mask);
}
