using System.Runtime.InteropServices;

namespace Vigil.Launching;

/// <summary>Thin libc bindings. Every call returns the raw result; callers turn errno into typed failures.</summary>
internal static unsafe partial class Native
{
    private const string Libc = "libc";

    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CLOEXEC = 0x80000, O_NONBLOCK = 0x800;
    public const int F_GETFL = 3, F_SETFL = 4, F_SETPIPE_SZ = 1031;
    public const int EINTR = 4, EAGAIN = 11, ECHILD = 10, ESRCH = 3, ENOENT = 2, EACCES = 13, ENOEXEC = 8, EPIPE = 32;
    public const int EBUSY = 16, EWOULDBLOCK = 11;
    public const int RLIMIT_NOFILE = 7;
    public const int LOCK_EX = 2, LOCK_NB = 4;
    public const int WNOHANG = 1, WEXITED = 4, WNOWAIT = 0x01000000;
    public const int P_PID = 1, P_PIDFD = 3;
    public const int CLD_EXITED = 1, CLD_KILLED = 2, CLD_DUMPED = 3;
    public const short POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08, POSIX_SPAWN_SETSID = 0x80;
    public const int PR_SET_CHILD_SUBREAPER = 36;
    public const int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
    public const uint EPOLLIN = 0x001, EPOLLERR = 0x008, EPOLLHUP = 0x010;

    // Opaque glibc structs: sizes on x86_64/aarch64 are 80 (file actions), 336 (attr), 128 (sigset, siginfo).
    // We over-allocate so a different libc layout cannot make us write past the buffer.
    public const int FileActionsSize = 256, SpawnAttrSize = 512, SigSetSize = 128, SigInfoSize = 128;

    [DllImport(Libc, SetLastError = true)] public static extern int posix_spawn(out int pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);
    [DllImport(Libc)] public static extern int posix_spawn_file_actions_init(void* fa);
    [DllImport(Libc)] public static extern int posix_spawn_file_actions_destroy(void* fa);
    [DllImport(Libc)] public static extern int posix_spawn_file_actions_adddup2(void* fa, int fd, int newfd);
    [DllImport(Libc)] public static extern int posix_spawn_file_actions_addchdir_np(void* fa, byte* path);
    [DllImport(Libc)] public static extern int posix_spawnattr_init(void* attr);
    [DllImport(Libc)] public static extern int posix_spawnattr_destroy(void* attr);
    [DllImport(Libc)] public static extern int posix_spawnattr_setflags(void* attr, short flags);
    [DllImport(Libc)] public static extern int posix_spawnattr_setsigmask(void* attr, void* sigset);
    [DllImport(Libc)] public static extern int posix_spawnattr_setsigdefault(void* attr, void* sigset);
    [DllImport(Libc)] public static extern int sigemptyset(void* set);
    [DllImport(Libc)] public static extern int sigfillset(void* set);

    [DllImport(Libc, SetLastError = true)] public static extern int pipe2(int* fds, int flags);
    [DllImport(Libc, SetLastError = true)] public static extern int open(byte* path, int flags, int mode);
    [DllImport(Libc, SetLastError = true)] public static extern int close(int fd);
    [DllImport(Libc, SetLastError = true)] public static extern nint read(int fd, byte* buf, nint count);
    [DllImport(Libc, SetLastError = true)] public static extern nint write(int fd, byte* buf, nint count);
    [DllImport(Libc, SetLastError = true)] public static extern int fcntl(int fd, int cmd, int arg);
    [DllImport(Libc, SetLastError = true)] public static extern int kill(int pid, int sig);
    [DllImport(Libc, SetLastError = true)] public static extern int waitid(int idtype, int id, byte* infop, int options);
    [DllImport(Libc, SetLastError = true)] public static extern int waitpid(int pid, int* status, int options);
    [DllImport(Libc, SetLastError = true)] public static extern int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
    [DllImport(Libc, SetLastError = true)] public static extern long syscall(long number, long a1, long a2, long a3, long a4);
    [DllImport(Libc, SetLastError = true)] public static extern int epoll_create1(int flags);
    [DllImport(Libc, SetLastError = true)] public static extern int epoll_ctl(int epfd, int op, int fd, byte* ev);
    [DllImport(Libc, SetLastError = true)] public static extern int epoll_wait(int epfd, byte* events, int maxevents, int timeout);
    [DllImport(Libc, SetLastError = true)] public static extern int eventfd(uint initval, int flags);
    [DllImport(Libc, SetLastError = true)] public static extern int access(byte* path, int mode);
    [DllImport(Libc, SetLastError = true)] public static extern int rmdir(byte* path);
    [DllImport(Libc, SetLastError = true)] public static extern int flock(int fd, int op);
    [DllImport(Libc, SetLastError = true)] public static extern nint pread(int fd, byte* buf, nint count, long offset);
    [DllImport(Libc, SetLastError = true)] public static extern nint pwrite(int fd, byte* buf, nint count, long offset);
    [DllImport(Libc, SetLastError = true)] public static extern int ftruncate(int fd, long length);
    [DllImport(Libc, SetLastError = true)] public static extern int getrlimit(int resource, RLimit* rlim);
    [DllImport(Libc, SetLastError = true)] public static extern int setrlimit(int resource, RLimit* rlim);
    [DllImport(Libc, SetLastError = true)] public static extern int prlimit(int pid, int resource, RLimit* newLimit, RLimit* oldLimit);
    [DllImport(Libc, SetLastError = true)] public static extern nint signal(int sig, nint handler);

    [StructLayout(LayoutKind.Sequential)]
    public struct RLimit { public ulong Cur, Max; }

    /// <summary>lstat-like (the link itself, never its target) through statx; 0 or errno.</summary>
    public static int LStat(string path, out StatX st) => Stat(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, out st);

    [DllImport(Libc)] public static extern byte* strerror(int errnum);
    [DllImport(Libc)] public static extern long sysconf(int name);
    public const int _SC_CLK_TCK = 2;
    [DllImport(Libc)] public static extern uint geteuid();

    // Private folders and sd-notify sockets (Health/SdNotifyProbe.cs).
    public const int SOL_SOCKET = 1, SO_PASSCRED = 16, SCM_CREDENTIALS = 2;
    public const int MSG_CTRUNC = 0x8, MSG_TRUNC = 0x20, MSG_DONTWAIT = 0x40, MSG_CMSG_CLOEXEC = 0x40000000;

    /// <summary>Replaces the trailing XXXXXX of <paramref name="template"/> in place and creates that folder, mode 0700.</summary>
    [DllImport(Libc, SetLastError = true)] public static extern byte* mkdtemp(byte* template);
    [DllImport(Libc, SetLastError = true)] public static extern int setsockopt(int fd, int level, int name, int* value, int length);
    [DllImport(Libc, SetLastError = true)] public static extern nint recvmsg(int fd, MsgHdr* msg, int flags);

    /// <summary>struct msghdr on 64-bit Linux (56 bytes: the natural alignment pads after NameLen).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLen;
        public IoVec* Iov;
        public nuint IovLen;
        public void* Control;
        public nuint ControlLen;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct cmsghdr: a size_t length, then level and type; the data follows, aligned to size_t.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct CmsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    /// <summary>struct ucred: what SCM_CREDENTIALS carries.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct UCred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }

    private static readonly bool IsX64 = RuntimeInformation.ProcessArchitecture == Architecture.X64;
    private static long SysPidfdOpen => IsX64 || RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 434 : throw new PlatformNotSupportedException();
    private const long SysPidfdSendSignal = 424;

    /// <summary>epoll_event is packed (12 bytes) on x86_64 and naturally aligned (16 bytes) elsewhere.</summary>
    public static int EpollEventSize => IsX64 ? 12 : 16;

    public static void WriteEpollEvent(byte* p, uint events, ulong data)
    {
        *(uint*)p = events;
        *(ulong*)(p + (IsX64 ? 4 : 8)) = data;
    }

    public static (uint Events, ulong Data) ReadEpollEvent(byte* p) => (*(uint*)p, *(ulong*)(p + (IsX64 ? 4 : 8)));

    public static int PidfdOpen(int pid) => (int)syscall(SysPidfdOpen, pid, 0, 0, 0);
    public static int PidfdSendSignal(int pidfd, int sig) => (int)syscall(SysPidfdSendSignal, pidfd, sig, 0, 0);

    public static int Errno => Marshal.GetLastPInvokeError();

    public static string Describe(int errno) => Marshal.PtrToStringUTF8((nint)strerror(errno)) ?? $"errno {errno}";

    /// <summary>A NUL-terminated UTF-8 copy in unmanaged memory; free with <see cref="NativeMemory.Free"/>.</summary>
    public static byte* Utf8Z(string s)
    {
        int n = System.Text.Encoding.UTF8.GetByteCount(s);
        var p = (byte*)NativeMemory.Alloc((nuint)n + 1);
        System.Text.Encoding.UTF8.GetBytes(s, new Span<byte>(p, n));
        p[n] = 0;
        return p;
    }

    public static byte** Utf8ZArray(IReadOnlyList<string> items)
    {
        var arr = (byte**)NativeMemory.AllocZeroed((nuint)(items.Count + 1), (nuint)sizeof(nint));
        for (int i = 0; i < items.Count; i++) arr[i] = Utf8Z(items[i]);
        return arr;
    }

    public static void FreeArray(byte** arr)
    {
        if (arr == null) return;
        for (int i = 0; arr[i] != null; i++) NativeMemory.Free(arr[i]);
        NativeMemory.Free(arr);
    }
}
