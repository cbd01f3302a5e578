using System.Globalization;
using System.Runtime.InteropServices;

namespace Vigil.Launching;

/// <summary>
/// The exit status of a process that is not Vigil's child (so waitid cannot give it), from the kernel: the
/// <c>exit_code</c> of <c>/proc/PID/stat</c> while it is a zombie, or, once its parent has reaped it, the exit
/// information a pidfd keeps (PIDFD_GET_INFO with PIDFD_INFO_EXIT, Linux 6.15 and later). Used for a tmux pane's
/// process: tmux 3.3 now and then misses a pane's SIGCHLD, and the pane then reads as dead with no status at all
/// until some other child of the server exits (reproduced with tmux alone: 2 panes in 60 running "exit 3").
/// </summary>
internal static unsafe class ExitFromKernel
{
    private const ulong PIDFD_INFO_EXIT = 1UL << 3;
    private const int InfoSize = 64; // PIDFD_INFO_SIZE_VER0: mask, cgroupid, 11 ids, exit_code
    private const int ExitCodeOffset = 60;
    // _IOWR(PIDFS_IOCTL_MAGIC 0xFF, 11, struct pidfd_info of 64 bytes)
    private const uint PIDFD_GET_INFO = (3u << 30) | ((uint)InfoSize << 16) | (0xFFu << 8) | 11u;

    [DllImport("libc", SetLastError = true)] private static extern int ioctl(int fd, nuint request, void* arg);

    /// <summary>The status of the exited process <paramref name="identity"/> (watched through <paramref name="pidfd"/>, or
    /// -1); null while it runs, or when the kernel cannot say.</summary>
    public static ExitStatus? Read(ProcessIdentity identity, int pidfd)
    {
        if (ZombieWaitStatus(identity) is { } zombie) return Decode(zombie);
        if (pidfd >= 0 && PidfdWaitStatus(pidfd) is { } reaped) return Decode(reaped);
        return null;
    }

    /// <summary>A wait(2) status as an <see cref="ExitStatus"/>.</summary>
    internal static ExitStatus Decode(int status) => (status & 0x7f) == 0
        ? ExitStatus.Exited((status >> 8) & 0xff)
        : ExitStatus.Killed(status & 0x7f, coreDumped: (status & 0x80) != 0);

    /// <summary>Field 52 (exit_code, since Linux 3.5) of a zombie's stat line, if <paramref name="identity"/> is a zombie.</summary>
    internal static int? ZombieWaitStatus(ProcessIdentity identity)
    {
        string line;
        try { line = File.ReadAllText($"/proc/{identity.Pid}/stat"); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        if (!ProcFs.TryParseStat(System.Text.Encoding.ASCII.GetBytes(line), out var st) || st.StartTime != identity.StartTime || st.State != OsState.Zombie)
            return null;
        return ExitCodeField(line);
    }

    /// <summary>The 52nd field of a stat line (fields counted after the command name's closing parenthesis).</summary>
    internal static int? ExitCodeField(string line)
    {
        int close = line.LastIndexOf(')');
        if (close < 0) return null;
        var fields = line[(close + 2)..].TrimEnd('\n').Split(' ');
        // fields[0] is field 3 (state), so field 52 is fields[49].
        return fields.Length >= 50 && int.TryParse(fields[49], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var code) ? code : null;
    }

    /// <summary>The exit status a pidfd keeps after its process was reaped; null before, or on kernels without it.</summary>
    internal static int? PidfdWaitStatus(int pidfd)
    {
        byte* info = stackalloc byte[InfoSize];
        new Span<byte>(info, InfoSize).Clear();
        *(ulong*)info = PIDFD_INFO_EXIT;
        if (ioctl(pidfd, PIDFD_GET_INFO, info) < 0) return null;
        return (*(ulong*)info & PIDFD_INFO_EXIT) != 0 ? *(int*)(info + ExitCodeOffset) : null;
    }
}
