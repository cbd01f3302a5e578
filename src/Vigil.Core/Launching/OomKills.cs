using System.Globalization;
using System.Text;

namespace Vigil.Launching;

/// <summary>
/// Tells a SIGKILL from the kernel's OOM killer apart from any other: first the run's cgroup (<c>memory.events</c>,
/// <c>oom_kill</c> above 0; one cgroup per run, so any count is this run's), where the memory controller is enabled
/// for it; else the kernel log (<c>/dev/kmsg</c>), which names the victim's PID ("Killed process 1234 (python3)" and
/// "oom-kill:…,pid=1234,…"), in a record not older than the process (a reused PID's older kill does not count).
/// Neither readable (an unprivileged Vigil without cgroups, a host without /dev/kmsg): not an OOM kill as far as is known.
/// </summary>
internal static unsafe class OomKills
{
    private const string KernelLog = "/dev/kmsg";

    /// <summary>True when the OOM killer killed <paramref name="process"/> (only asked for a SIGKILL exit).</summary>
    public static bool Killed(ProcessIdentity process, string? cgroup)
    {
        if (cgroup is not null && OomKillsInCgroup(cgroup) is { } n) return n > 0;
        return InKernelLog(process);
    }

    /// <summary>The <c>oom_kill</c> count of a cgroup v2 folder; null without a readable memory.events.</summary>
    internal static long? OomKillsInCgroup(string cgroup)
    {
        string text;
        try { text = File.ReadAllText(Path.Combine(cgroup, "memory.events")); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        return OomKillCount(text);
    }

    /// <summary>The value of the <c>oom_kill</c> line of a memory.events text; null when there is none.</summary>
    internal static long? OomKillCount(string memoryEvents)
    {
        foreach (var line in memoryEvents.Split('\n'))
            if (line.StartsWith("oom_kill ", StringComparison.Ordinal)
                && long.TryParse(line.AsSpan(9), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                return n;
        return null;
    }

    private static bool InKernelLog(ProcessIdentity process)
    {
        // The process's start, in the kernel log's unit (microseconds since boot), with a second of slack: /proc's
        // start time counts in clock ticks, the log's clock may differ by a little.
        long startUs = (long)(process.StartTime * 1_000_000UL / (ulong)ProcFs.ClockTicksPerSecond) - 1_000_000;
        byte[] path = Encoding.ASCII.GetBytes(KernelLog + "\0");
        int fd;
        fixed (byte* p = path) fd = Native.open(p, Native.O_RDONLY | Native.O_NONBLOCK | Native.O_CLOEXEC, 0);
        if (fd < 0) return false;
        try
        {
            // One record per read (a record is at most 8 KiB, the kernel refuses a smaller buffer with EINVAL); the end
            // of the buffer is EAGAIN; EPIPE means records were overwritten while reading: go on with the next.
            var buf = new byte[8192];
            for (int records = 0; records < 1_000_000; records++)
            {
                nint n;
                fixed (byte* b = buf) n = Native.read(fd, b, buf.Length);
                if (n < 0)
                {
                    int e = Native.Errno;
                    if (e is Native.EINTR or Native.EPIPE) continue;
                    return false;
                }
                if (n == 0) return false;
                if (Names(buf.AsSpan(0, (int)n), process.Pid, startUs)) return true;
            }
            return false;
        }
        finally { Native.close(fd); }
    }

    /// <summary>True when a /dev/kmsg record (<c>prio,seq,usec,flags;message</c>) no older than
    /// <paramref name="notBeforeUs"/> reports the OOM kill of <paramref name="pid"/>.</summary>
    internal static bool Names(ReadOnlySpan<byte> record, int pid, long notBeforeUs)
    {
        int semi = record.IndexOf((byte)';');
        if (semi < 0) return false;
        var header = record[..semi];
        var message = record[(semi + 1)..];
        int nl = message.IndexOf((byte)'\n');
        if (nl >= 0) message = message[..nl];
        // header: prio,seq,usec,flags
        int c1 = header.IndexOf((byte)','), c2 = c1 < 0 ? -1 : header[(c1 + 1)..].IndexOf((byte)',');
        if (c2 < 0) return false;
        var rest = header[(c1 + c2 + 2)..];
        int c3 = rest.IndexOf((byte)',');
        if (c3 < 0 || !long.TryParse(Encoding.ASCII.GetString(rest[..c3]), NumberStyles.None, CultureInfo.InvariantCulture, out var us)
            || us < notBeforeUs)
            return false;
        var text = Encoding.UTF8.GetString(message);
        string p = pid.ToString(CultureInfo.InvariantCulture);
        return text.Contains($"Killed process {p} (", StringComparison.Ordinal)
            || (text.StartsWith("oom-kill:", StringComparison.Ordinal) && (text + ",").Contains($",pid={p},", StringComparison.Ordinal));
    }
}
