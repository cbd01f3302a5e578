using System.Globalization;

namespace Vigil.Launching;

/// <summary>
/// Vigil's open-file limit, and its children's. A supervisor holds a few descriptors per child (two pipes, a pidfd,
/// log files), so it raises its own soft RLIMIT_NOFILE to the hard limit at start, as systemd does for itself; each
/// child gets back the soft limit Vigil was started with (systemd gives services 1024), so a program that still
/// uses select() never sees descriptors past FD_SETSIZE. Process-wide by nature: the limit belongs to the process.
/// </summary>
public static unsafe class ResourceLimits
{
    private static readonly object Gate = new();
    private static bool s_raised;
    private static Native.RLimit s_original;

    /// <summary>The soft open-file limit Vigil was started with (what children get).</summary>
    public static ulong OriginalOpenFiles { get; private set; }

    /// <summary>Raises the soft open-file limit to the hard limit, once per process. True when it changed.</summary>
    public static bool RaiseOpenFiles()
    {
        lock (Gate)
        {
            if (s_raised) return false;
            Native.RLimit cur;
            if (Native.getrlimit(Native.RLIMIT_NOFILE, &cur) != 0) return false;
            OriginalOpenFiles = cur.Cur;
            if (cur.Cur >= cur.Max) return false;
            s_original = cur;
            var raised = new Native.RLimit { Cur = cur.Max, Max = cur.Max };
            if (Native.setrlimit(Native.RLIMIT_NOFILE, &raised) != 0) return false;
            s_raised = true;
            return true;
        }
    }

    /// <summary>Gives a just-spawned child the soft limit Vigil was started with (no-op unless Vigil raised its own).</summary>
    internal static void ApplyToChild(int pid)
    {
        if (!Volatile.Read(ref s_raised)) return;
        var lim = s_original;
        Native.prlimit(pid, Native.RLIMIT_NOFILE, &lim, null);
    }

    /// <summary>Vigil's current soft open-file limit.</summary>
    public static ulong CurrentOpenFiles
    {
        get
        {
            Native.RLimit cur;
            return Native.getrlimit(Native.RLIMIT_NOFILE, &cur) == 0 ? cur.Cur : 0;
        }
    }

    /// <summary>Errors that mean "out of a resource, try again later" rather than "this command is wrong".</summary>
    public static bool IsExhaustion(int errno) => errno is Native.EMFILE or Native.ENFILE or Native.EAGAIN or Native.ENOMEM;

    /// <summary>The real cause in words, with the limit that was hit: "too many open files (limit 256)".</summary>
    public static string Describe(int errno) => errno switch
    {
        Native.EMFILE => string.Create(CultureInfo.InvariantCulture, $"too many open files (limit {CurrentOpenFiles})"),
        Native.ENFILE => "too many open files in the whole system (fs.file-max)",
        Native.EAGAIN => "resources temporarily unavailable (the process limit, RLIMIT_NPROC, or memory)",
        Native.ENOMEM => "out of memory",
        _ => Native.Describe(errno),
    };
}
