using System.Globalization;

namespace Vigil.Launching;

/// <summary>
/// Vigil's open-file limit, and its children's. A supervisor holds a few descriptors per child (two pipes, a pidfd,
/// log files), so its soft RLIMIT_NOFILE is raised to the hard limit at start, as systemd does for itself. The .NET
/// runtime already does that before any of Vigil's code runs, so the limit Vigil was started with cannot be read
/// back; children get what systemd gives services, a soft limit of 1024 (or the hard limit, if lower), so a program
/// that still uses select() never sees descriptors past FD_SETSIZE. Process-wide by nature: the limit is the process's,
/// so its <see cref="ProcessHost"/> raises it once and keeps the children's.
/// </summary>
public static unsafe class ResourceLimits
{
    /// <summary>The soft open-file limit children get when Vigil's own is higher (systemd's default for services).</summary>
    public const ulong ChildSoftOpenFiles = 1024;

    /// <summary>Raises the soft open-file limit to the hard limit and works out the children's: the limit to give
    /// them, or null when Vigil's own is not higher. Its <see cref="ProcessHost"/> calls it once and keeps the answer.</summary>
    internal static Native.RLimit? RaiseOpenFiles()
    {
        Native.RLimit cur;
        if (Native.getrlimit(Native.RLIMIT_NOFILE, &cur) != 0) return null;
        if (cur.Cur < cur.Max)
        {
            var raised = new Native.RLimit { Cur = cur.Max, Max = cur.Max };
            if (Native.setrlimit(Native.RLIMIT_NOFILE, &raised) == 0) cur = raised;
        }
        var child = new Native.RLimit { Cur = Math.Min(ChildSoftOpenFiles, cur.Max), Max = cur.Max };
        return cur.Cur > child.Cur ? child : null;
    }

    /// <summary>Gives a just-spawned child <paramref name="limit"/> (see <see cref="RaiseOpenFiles"/>).</summary>
    internal static void ApplyToChild(int pid, Native.RLimit limit) => Native.prlimit(pid, Native.RLIMIT_NOFILE, &limit, null);

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
