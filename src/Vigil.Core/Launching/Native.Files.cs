using System.Runtime.InteropServices;

namespace Vigil.Launching;

/// <summary>File-system calls for opening log files safely (a partial of <see cref="Native"/>, kept apart so its
/// constants sit next to the calls that take them).</summary>
internal static unsafe partial class Native
{
    public const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_EMPTY_PATH = 0x1000;
    public const int O_CREAT = 0x40, O_EXCL = 0x80, O_PATH = 0x200000;
    public const int EPERM = 1, EIO = 5, ENXIO = 6, EBADF = 9, ENOMEM = 12, EEXIST = 17, ENOTDIR = 20, EISDIR = 21,
        EINVAL = 22, ENFILE = 23, EMFILE = 24, ETXTBSY = 26, EFBIG = 27, ENOSPC = 28, EROFS = 30, EMLINK = 31,
        ENAMETOOLONG = 36, ELOOP = 40, EDQUOT = 122;
    public const uint S_IFMT = 0xF000, S_IFREG = 0x8000, S_IFDIR = 0x4000, S_IFLNK = 0xA000, S_ISVTX = 0x200;

    // O_DIRECTORY and O_NOFOLLOW are the two open flags whose values differ between x86_64 and the asm-generic
    // layout arm64 uses (include/uapi/asm-generic/fcntl.h vs arch/arm64/include/uapi/asm/fcntl.h).
    public static int O_DIRECTORY => IsX64 ? 0x10000 : IsArm64 ? 0x4000 : throw new PlatformNotSupportedException();
    public static int O_NOFOLLOW => IsX64 ? 0x20000 : IsArm64 ? 0x8000 : throw new PlatformNotSupportedException();
    private static readonly bool IsArm64 = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;

    [DllImport(Libc, SetLastError = true)] public static extern int openat(int dirfd, byte* path, int flags, uint mode);
    [DllImport(Libc, SetLastError = true)] public static extern int mkdir(byte* path, uint mode);
    [DllImport(Libc, SetLastError = true)] public static extern int chmod(byte* path, uint mode);
    // statx rather than stat/fstat/lstat: struct statx has one layout on every architecture (struct stat does not),
    // and glibc has wrapped it since 2.28.
    [DllImport(Libc, SetLastError = true)] public static extern int statx(int dirfd, byte* path, int flags, uint mask, StatX* buf);
    [DllImport(Libc)] public static extern uint getegid();

    public const uint STATX_BASIC_STATS = 0x7ff;

    /// <summary>struct statx (include/uapi/linux/stat.h): 256 bytes, the fields Vigil reads at their fixed offsets.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct StatX
    {
        [FieldOffset(16)] public uint Nlink;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Ino;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;

        public readonly uint Type => Mode & S_IFMT;
        public readonly bool SameFile(in StatX o) => Ino == o.Ino && DevMajor == o.DevMajor && DevMinor == o.DevMinor;
    }

    /// <summary>statx of <paramref name="path"/> relative to <paramref name="dirfd"/> (or of the fd itself when the
    /// path is empty); 0 or the errno.</summary>
    public static int Stat(int dirfd, string path, int flags, out StatX st)
    {
        var z = Utf8Z(path);
        try
        {
            fixed (StatX* p = &st)
            {
                if (path.Length == 0) flags |= AT_EMPTY_PATH;
                return statx(dirfd, z, flags, STATX_BASIC_STATS, p) == 0 ? 0 : Errno;
            }
        }
        finally { NativeMemory.Free(z); }
    }

    /// <summary>The symbolic name of an errno (EACCES), or <c>errno N</c> for one not listed.</summary>
    public static string ErrnoName(int errno) => errno switch
    {
        EPERM => "EPERM", ENOENT => "ENOENT", EIO => "EIO", ENXIO => "ENXIO", EBADF => "EBADF", ENOMEM => "ENOMEM",
        EACCES => "EACCES", EEXIST => "EEXIST", ENOTDIR => "ENOTDIR", EISDIR => "EISDIR", EINVAL => "EINVAL",
        ENFILE => "ENFILE", EMFILE => "EMFILE", ETXTBSY => "ETXTBSY", EFBIG => "EFBIG", ENOSPC => "ENOSPC",
        EROFS => "EROFS", EMLINK => "EMLINK", ENAMETOOLONG => "ENAMETOOLONG", ELOOP => "ELOOP", EDQUOT => "EDQUOT",
        _ => $"errno {errno}",
    };

    /// <summary>"permission denied (EACCES)": the C library's text, lower-cased to sit inside a sentence, and the name
    /// a user can search for.</summary>
    public static string Explain(int errno)
    {
        var text = Describe(errno);
        if (text.Length > 1 && char.IsUpper(text[0]) && !char.IsUpper(text[1])) text = char.ToLowerInvariant(text[0]) + text[1..];
        return $"{text} ({ErrnoName(errno)})";
    }
}
