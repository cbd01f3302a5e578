using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Vigil.Control;

/// <summary>The few libc calls the control socket needs that .NET does not offer: the peer's credentials, the socket
/// file's identity, and whether a process still exists.</summary>
internal static unsafe partial class Native
{
    private const string Libc = "libc";
    private const int SOL_SOCKET = 1, SO_PEERCRED = 17;
    private const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100;
    private const uint STATX_BASIC_STATS = 0x7ff;
    public const int ESRCH = 3;
    public const uint S_IFMT = 0xF000, S_IFSOCK = 0xC000;

    [LibraryImport(Libc, SetLastError = true)] private static partial int getsockopt(nint fd, int level, int name, void* value, uint* length);
    [LibraryImport(Libc)] public static partial uint geteuid();
    [LibraryImport(Libc, SetLastError = true)] public static partial int kill(int pid, int signal);
    [LibraryImport(Libc, SetLastError = true)] private static partial int statx(int dirfd, byte* path, int flags, uint mask, byte* buffer);

    /// <summary>struct ucred (socket(7)): who is at the other end of a Unix socket, as the kernel recorded it at connect.</summary>
    public readonly record struct Credentials(int Pid, uint Uid, uint Gid);

    /// <summary>SO_PEERCRED of a connected Unix socket; null when the kernel would not say.</summary>
    public static Credentials? PeerCredentials(Socket socket)
    {
        int* cred = stackalloc int[3];
        uint length = 12;
        bool added = false;
        try
        {
            socket.SafeHandle.DangerousAddRef(ref added);
            if (getsockopt(socket.SafeHandle.DangerousGetHandle(), SOL_SOCKET, SO_PEERCRED, cred, &length) != 0 || length < 12) return null;
        }
        finally
        {
            if (added) socket.SafeHandle.DangerousRelease();
        }
        return new Credentials(cred[0], (uint)cred[1], (uint)cred[2]);
    }

    /// <summary>A file's identity and type, from statx without following a symbolic link (struct statx's fixed layout:
    /// uid at 20, mode at 28, inode at 32, device at 136/140).</summary>
    public readonly record struct FileId(ulong Inode, uint DevMajor, uint DevMinor, uint Mode, uint Uid)
    {
        public bool IsSocket => (Mode & S_IFMT) == S_IFSOCK;
        public bool SameFile(FileId o) => Inode == o.Inode && DevMajor == o.DevMajor && DevMinor == o.DevMinor;
    }

    /// <summary>lstat-like identity of <paramref name="path"/>; null with the errno when it cannot be read (ENOENT: none).</summary>
    public static FileId? Identify(string path, out int errno)
    {
        errno = 0;
        byte* buffer = stackalloc byte[256];
        var z = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = z)
        {
            if (statx(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, buffer) != 0)
            {
                errno = Marshal.GetLastPInvokeError();
                return null;
            }
        }
        return new FileId(*(ulong*)(buffer + 32), *(uint*)(buffer + 136), *(uint*)(buffer + 140), *(ushort*)(buffer + 28), *(uint*)(buffer + 20));
    }

    /// <summary>True while <paramref name="pid"/> names a process that has not ended (a zombie has ended).</summary>
    public static bool ProcessExists(int pid)
    {
        if (kill(pid, 0) != 0 && Marshal.GetLastPInvokeError() == ESRCH) return false;
        return !(Vigil.Launching.ProcFs.TryReadStat(pid, out var st) && st.State is Vigil.Launching.OsState.Zombie or Vigil.Launching.OsState.Dead);
    }
}
