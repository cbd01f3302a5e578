using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Launching;

namespace Vigil.Supervision;

/// <summary>
/// Vigil's runtime folder ($XDG_RUNTIME_DIR/vigil, else /run/vigil for root, else /tmp/vigil-UID): created with mode
/// 0700 and checked before use like OpenSSH checks its folders (not a symlink, owned by Vigil's user, no access for
/// anyone else), because another user who could prepare it could also take over what Vigil puts in it.
/// </summary>
public static class RuntimeDir
{
    /// <summary>
    /// The first usable folder of $XDG_RUNTIME_DIR/vigil, /run/vigil (root) and /tmp/vigil-UID, created if needed. One
    /// that someone else prepared is refused (said on stderr) and the next is tried, so a planted folder can neither
    /// take over Vigil's files nor stop it from starting; throws <see cref="IOException"/> when none is usable.
    /// </summary>
    /// <param name="log">Where a refused folder is reported (the vigil executable: stderr); nowhere when null.</param>
    public static string Resolve(IReadOnlyDictionary<string, string?>? env = null, ILogger? log = null)
    {
        string? Get(string k) => env is not null ? env.GetValueOrDefault(k) : Environment.GetEnvironmentVariable(k);
        uint uid = Native.geteuid();
        var xdg = Get("XDG_RUNTIME_DIR");
        var candidates = new List<string>();
        if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg) && Directory.Exists(xdg)) candidates.Add(Path.Combine(xdg, "vigil"));
        if (uid == 0 && Directory.Exists("/run")) candidates.Add("/run/vigil");
        candidates.Add(string.Create(CultureInfo.InvariantCulture, $"/tmp/vigil-{uid}"));
        var refused = new List<string>();
        foreach (var dir in candidates)
        {
            if (PrivateFolder.MakeOrCheck(dir) is { } why)
            {
                refused.Add($"refusing to use {dir}: {why}");
                continue;
            }
            foreach (var r in refused) SupervisionLog.RuntimeFolderRefused(log ?? NullLogger.Instance, r, dir);
            return dir;
        }
        throw new IOException(string.Join("; ", refused));
    }
}

/// <summary>
/// One Vigil per config: an exclusive flock on &lt;runtime dir&gt;/&lt;instance&gt;.lock, held for the process's life
/// (the kernel drops it when Vigil dies, even by SIGKILL, so a stale lock never blocks a restart). The file holds the
/// owner's PID and config path, for the message a second Vigil prints, and for the next Vigil to name the previous one.
/// </summary>
public sealed unsafe class InstanceLock : IDisposable
{
    private int _fd;

    private InstanceLock(int fd, string path, int? previousPid)
    {
        _fd = fd;
        Path = path;
        PreviousPid = previousPid;
    }

    public string Path { get; }

    /// <summary>The PID the lock file named before this Vigil took it (a previous Vigil that died), if any.</summary>
    public int? PreviousPid { get; }

    /// <summary>Takes the lock, or returns null with the holder's PID (0 when unknown) when another Vigil has it.</summary>
    public static InstanceLock? TryAcquire(string runtimeDir, string instance, string configPath, out int holder, out string lockPath)
    {
        holder = 0;
        lockPath = System.IO.Path.Combine(runtimeDir, instance + ".lock");
        byte* p = Native.Utf8Z(lockPath);
        int fd;
        try { fd = Native.open(p, Native.O_RDWR | Native.O_CREAT | Native.O_CLOEXEC | Native.O_NOFOLLOW, 0x180 /* 0600 */); }
        finally { System.Runtime.InteropServices.NativeMemory.Free(p); }
        if (fd < 0) throw new IOException($"cannot open {lockPath}: {Native.Describe(Native.Errno)}");
        var before = ReadPid(fd);
        int rc;
        while ((rc = Native.flock(fd, Native.LOCK_EX | Native.LOCK_NB)) < 0 && Native.Errno == Native.EINTR) { }
        if (rc < 0)
        {
            int err = Native.Errno;
            Native.close(fd);
            if (err != Native.EWOULDBLOCK) throw new IOException($"cannot lock {lockPath}: {Native.Describe(err)}");
            holder = before ?? 0;
            return null;
        }
        var text = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId}\n{configPath}\n"));
        Native.ftruncate(fd, 0);
        fixed (byte* t = text) Native.pwrite(fd, t, text.Length, 0);
        return new InstanceLock(fd, lockPath, before is { } b && b != Environment.ProcessId ? b : null);
    }

    private static int? ReadPid(int fd)
    {
        byte* buf = stackalloc byte[64];
        nint n = Native.pread(fd, buf, 63, 0);
        if (n <= 0) return null;
        var s = Encoding.UTF8.GetString(buf, (int)n);
        var first = s.Split('\n')[0];
        return int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid > 0 ? pid : null;
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) Native.close(fd); // the file stays: removing it would race a Vigil that just opened it
    }
}
