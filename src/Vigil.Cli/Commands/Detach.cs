using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Vigil.Control;

namespace Vigil.Cli.Commands;

// Overview
// --------
// `vigil run -d` starts the same executable again as `vigil run … --daemon-child --log FILE` and waits. The child
// calls setsid() first (a child of System.Diagnostics.Process is not a process-group leader, so setsid succeeds and
// the PID stays), takes /dev/null as stdin and the log file as stdout, and keeps its stderr, a pipe to the parent,
// until its control socket is served: a config error or "already running" before that reaches the user's terminal
// and the parent exits with the child's code. Once the socket answers `info`, the parent prints
// `vigil: running as PID N (socket PATH, log FILE)` and exits 0, and the child's stderr goes to the log file too.
// The log is opened O_APPEND by the child itself (LogOutput), so SIGUSR2 (logrotate's postrotate) can open it again
// by name.

/// <summary><c>vigil run -d</c>: the parent's wait, and what the background Vigil does to its own file descriptors.</summary>
internal static class Detach
{
    /// <summary>How long the parent waits for the background Vigil to answer on its socket.</summary>
    private static readonly TimeSpan ReadyBound = TimeSpan.FromSeconds(60);

    /// <summary>Starts the background Vigil with <paramref name="childArgs"/> and returns once it answers on
    /// <paramref name="socket"/> (0), or with its exit code when it ends first.</summary>
    public static async Task<int> StartAsync(IReadOnlyList<string> childArgs, string socket, string logFile, CliContext ctx)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath ?? throw new InvalidOperationException("no executable path"), childArgs)
        {
            UseShellExecute = false,
            RedirectStandardError = true,
        };
        using var child = Process.Start(psi) ?? throw new InvalidOperationException("vigil could not start itself");
        var errors = new StringBuilder();
        var errorsDone = new TaskCompletionSource();
        child.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) errorsDone.TrySetResult();
            else lock (errors) errors.AppendLine(e.Data);
        };
        child.BeginErrorReadLine();

        var time = TimeProvider.System;
        long started = time.GetTimestamp();
        while (true)
        {
            if (child.HasExited)
            {
                await errorsDone.Task.WaitAsync(TimeSpan.FromSeconds(5), time).ConfigureAwait(false);
                lock (errors) ctx.Err.Write(errors.ToString());
                if (child.ExitCode == 0) ctx.Err.WriteLine($"vigil: the background vigil exited before it answered on {socket}");
                return child.ExitCode == 0 ? ExitCodes.Failure : child.ExitCode;
            }
            // Another Vigil may answer on the same socket (this config runs already): only our child's answer counts, and
            // the child then exits with its own "already running".
            if (await AnswersAsync(socket, ctx).ConfigureAwait(false) is { } info && info.Pid == child.Id)
            {
                ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"vigil: running as PID {info.Pid} (socket {socket}, log {logFile})"));
                return ExitCodes.Ok;
            }
            if (time.GetElapsedTime(started) > ReadyBound)
            {
                ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"vigil: PID {child.Id} did not answer on {socket} within {ReadyBound.TotalSeconds}s; it may still be starting (see {logFile})"));
                return ExitCodes.Failure;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(50), time).ConfigureAwait(false); // polling the socket, bounded above
        }
    }

    private static async Task<ServerInfo?> AnswersAsync(string socket, CliContext ctx)
    {
        if (!File.Exists(socket)) return null;
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            var control = await ctx.Connect(socket, cts.Token).ConfigureAwait(false);
            await using (control.ConfigureAwait(false))
                return await control.InfoAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ControlException or IOException or OperationCanceledException) { return null; }
    }

    /// <summary>In the background Vigil, first thing: a session of its own (no terminal's SIGHUP reaches it), stdin
    /// from /dev/null, and no descriptor of its caller's beyond 0, 1 and 2 (a CI runner's or a shell's pipe, which would
    /// wait for the daemon's end and be passed on to every unit).</summary>
    public static void BecomeDaemon()
    {
        setsid();
        // The runtime opens everything close-on-exec but a /dev/null of its own, left alone.
        foreach (var fd in OpenDescriptors())
            if (fd > 2 && fcntl(fd, F_GETFD, 0) is var flags && flags >= 0 && (flags & FD_CLOEXEC) == 0 && Target(fd) != "/dev/null")
                close(fd);
        int devNull = Open("/dev/null", O_RDONLY | O_CLOEXEC, 0);
        if (devNull < 0) return;
        Point(0, Duplicates(0), devNull);
        close(devNull);
    }

    /// <summary>What a descriptor of this process is open on (<c>pipe:[123]</c>, a path), or null.</summary>
    private static string? Target(int fd)
    {
        try { return new FileInfo(string.Create(CultureInfo.InvariantCulture, $"/proc/self/fd/{fd}")).LinkTarget; }
        catch (IOException) { return null; }
    }

    private static List<int> OpenDescriptors()
    {
        var fds = new List<int>();
        try
        {
            foreach (var entry in new DirectoryInfo("/proc/self/fd").GetFileSystemInfos())
                if (int.TryParse(entry.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int n)) fds.Add(n);
        }
        catch (IOException) { }
        return fds;
    }

    /// <summary>
    /// The other descriptors open on what <paramref name="fd"/> is open on. The .NET runtime duplicates 0, 1 and 2 when
    /// it starts (close-on-exec copies for its console): pointing only 0, 1 and 2 elsewhere would keep the caller's pipe
    /// open through them, and `vigil run -d | cat` or `ssh host vigil run -d` would never see their end.
    /// </summary>
    public static List<int> Duplicates(int fd)
    {
        var target = Target(fd);
        return target is null ? [] : [.. OpenDescriptors().Where(n => n > 2 && n != fd && Target(n) == target)];
    }

    /// <summary>Makes <paramref name="fd"/> (inherited by children) and its <paramref name="duplicates"/> (close-on-exec,
    /// as they were) refer to what <paramref name="source"/> refers to.</summary>
    public static void Point(int fd, IReadOnlyList<int> duplicates, int source)
    {
        dup2(source, fd);
        foreach (var d in duplicates) dup3(source, d, O_CLOEXEC);
    }

    internal static unsafe int Open(string path, int flags, int mode)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes) return open(p, flags, mode);
    }

    // The same values on x86_64 and aarch64 (asm-generic).
    internal const int O_RDONLY = 0, O_WRONLY = 1, O_CREAT = 0x40, O_APPEND = 0x400, O_CLOEXEC = 0x80000;
    private const int F_GETFD = 1, FD_CLOEXEC = 1;

    [DllImport("libc", SetLastError = true)] private static extern int setsid();
    [DllImport("libc", SetLastError = true)] private static extern unsafe int open(byte* path, int flags, int mode);
    [DllImport("libc", SetLastError = true)] private static extern int dup2(int oldfd, int newfd);
    [DllImport("libc", SetLastError = true)] private static extern int dup3(int oldfd, int newfd, int flags);
    [DllImport("libc", SetLastError = true)] internal static extern int close(int fd);
    [DllImport("libc", SetLastError = true)] private static extern int fcntl(int fd, int cmd, int arg);
}
