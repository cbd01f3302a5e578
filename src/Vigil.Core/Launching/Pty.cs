using System.Runtime.InteropServices;
using Vigil.Specs;

namespace Vigil.Launching;

// Overview
// --------
// tty: true gives the child a pseudo-terminal instead of pipes. Vigil keeps the master (non-blocking, read by the
// reactor like a pipe); the child gets the slave as stdin, stdout and stderr, and as its controlling terminal, so
// isatty() is true, job control works, and the terminal's line discipline behaves as in an interactive shell.
// - Controlling terminal: posix_spawn has no TIOCSCTTY step, but a session leader without a controlling terminal
//   that opens a terminal without O_NOCTTY acquires it (credentials(7), "controlling terminal"). glibc runs
//   POSIX_SPAWN_SETSID's setsid() before the file actions, so an addopen of the slave's path as fd 0 in the child
//   is that open. The slave is never opened by Vigil itself.
// - Output: a terminal has one stream, so stderr arrives with stdout. ONLCR (the terminal's \n -> \r\n) is turned
//   off: with it, a program that writes \r\n itself (as full-screen programs do) would leave "\r\r\n", and the line
//   splitter drops only one \r.
// - End: when the last holder of the slave closes it, read() on the master fails with EIO after the buffered bytes:
//   that is the end of output (the pipe reader treats any read error as the end), and the reactor closes the master.
// - TERM: programs decide on colour from TERM as well as isatty (coreutils' ls --color=auto wants a TERM that is
//   not "dumb"), so the child gets TERM=xterm-256color unless its environment sets one.
/// <summary>Pseudo-terminals for <c>tty:</c> units (see the overview above).</summary>
internal static unsafe class Pty
{
    private const int O_NOCTTY = 0x100;
    private const nuint TIOCSWINSZ = 0x5414;
    private const uint ONLCR = 0x4;
    private const int TCSANOW = 0;
    /// <summary>The TERM a terminal unit gets when its environment has none.</summary>
    internal const string DefaultTerm = "xterm-256color";

    [DllImport("libc", SetLastError = true)] private static extern int posix_openpt(int flags);
    [DllImport("libc", SetLastError = true)] private static extern int grantpt(int fd);
    [DllImport("libc", SetLastError = true)] private static extern int unlockpt(int fd);
    [DllImport("libc")] private static extern int ptsname_r(int fd, byte* buf, nuint length);
    [DllImport("libc", SetLastError = true)] private static extern int ioctl(int fd, nuint request, void* arg);
    [DllImport("libc")] private static extern int posix_spawn_file_actions_addopen(void* fa, int fd, byte* path, int flags, uint mode);
    [DllImport("libc", SetLastError = true)] private static extern int tcgetattr(int fd, byte* termios);
    [DllImport("libc", SetLastError = true)] private static extern int tcsetattr(int fd, int when, byte* termios);

    /// <summary>glibc's struct termios is 60 bytes (c_oflag at offset 4); over-allocated like Native's opaque structs.</summary>
    private const int TermiosSize = 128, OFlagOffset = 4;

    /// <summary>struct winsize.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct WinSize { public ushort Rows, Columns, XPixels, YPixels; }

    /// <summary>
    /// Opens a terminal of <paramref name="size"/> and adds to <paramref name="fileActions"/> the opening of its slave as
    /// the child's fd 0 (its controlling terminal), duplicated to 1 and 2. Returns the master (non-blocking, close on
    /// exec), or -1 with <paramref name="what"/> and <paramref name="errno"/> saying which step failed.
    /// </summary>
    internal static int Open(TerminalSpec size, void* fileActions, out string what, out int errno)
    {
        what = "";
        errno = 0;
        int master = posix_openpt(Native.O_RDWR | O_NOCTTY | Native.O_CLOEXEC);
        if (master < 0) return Failed("opening a pseudo-terminal (posix_openpt)", -1, out what, out errno);
        if (grantpt(master) < 0 || unlockpt(master) < 0) return Failed("unlocking its pseudo-terminal", master, out what, out errno);
        var ws = new WinSize { Rows = (ushort)size.Rows, Columns = (ushort)size.Columns };
        if (ioctl(master, TIOCSWINSZ, &ws) < 0) return Failed("setting its terminal size (TIOCSWINSZ)", master, out what, out errno);
        // The master and the slave share one termios on Linux, so the slave needs no opening here.
        byte* tio = stackalloc byte[TermiosSize];
        if (tcgetattr(master, tio) < 0) return Failed("reading its terminal's settings (tcgetattr)", master, out what, out errno);
        *(uint*)(tio + OFlagOffset) &= ~ONLCR;
        if (tcsetattr(master, TCSANOW, tio) < 0) return Failed("setting its terminal's output mode (tcsetattr)", master, out what, out errno);
        if (Native.fcntl(master, Native.F_SETFL, Native.O_NONBLOCK) < 0) return Failed("fcntl(O_NONBLOCK) on its terminal", master, out what, out errno);
        byte* name = stackalloc byte[128];
        int rc = ptsname_r(master, name, 128);
        if (rc != 0) return Failed("naming its terminal (ptsname_r)", master, out what, out errno, rc);
        // glibc copies the path into the file actions, so the stack buffer may go.
        rc = posix_spawn_file_actions_addopen(fileActions, 0, name, Native.O_RDWR, 0);
        if (rc != 0) return Failed("preparing its terminal", master, out what, out errno, rc);
        Native.posix_spawn_file_actions_adddup2(fileActions, 0, 1);
        Native.posix_spawn_file_actions_adddup2(fileActions, 0, 2);
        return master;
    }

    private static int Failed(string step, int master, out string what, out int errno, int rc = 0)
    {
        what = step;
        errno = rc != 0 ? rc : Native.Errno;
        if (master >= 0) Native.close(master);
        return -1;
    }

    /// <summary>The environment with TERM set to <see cref="DefaultTerm"/> unless it has one.</summary>
    internal static IReadOnlyList<string> WithTerm(IReadOnlyList<string> env) =>
        Launcher.FindEnv(env, "TERM") is not null ? env : [.. env, "TERM=" + DefaultTerm];
}
