using System.Globalization;
using Vigil.Launching;

namespace Vigil.Telemetry.History;

/// <summary>
/// Where Vigil keeps what must outlive it (<c>state.db</c>): <c>$XDG_STATE_HOME/vigil/&lt;instance&gt;</c>, else
/// <c>/var/lib/vigil/&lt;instance&gt;</c> for root, else <c>~/.local/state/vigil/&lt;instance&gt;</c>. Not the runtime
/// folder of the socket and lock: that one is a tmpfs emptied at boot, and history is kept for weeks. The
/// <c>vigil</c> folder and the instance's are made 0700 and checked before use (not a symlink, Vigil's owner, no access
/// for others), like the runtime folder, because whoever could prepare them could plant what Vigil then writes through.
/// </summary>
public static class StateFolder
{
    /// <summary>The instance's state folder, made if needed; throws <see cref="HistoryException"/> naming the folder
    /// and what is wrong with it when it is not fit for use.</summary>
    public static string Resolve(string instance, IReadOnlyDictionary<string, string?>? env = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(instance);
        var root = Path.Combine(Base(env), "vigil");
        try { Directory.CreateDirectory(Path.GetDirectoryName(root)!); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HistoryException($"cannot make the state folder {Path.GetDirectoryName(root)}: {e.Message}");
        }
        foreach (var dir in new[] { root, Path.Combine(root, instance) })
            if (PrivateFolder.MakeOrCheck(dir) is { } why) throw new HistoryException($"refusing to use the state folder {dir}: {why}");
        return Path.Combine(root, instance);
    }

    private static string Base(IReadOnlyDictionary<string, string?>? env)
    {
        string? Get(string k) => env is not null ? env.GetValueOrDefault(k) : Environment.GetEnvironmentVariable(k);
        if (Get("XDG_STATE_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg)) return xdg;
        if (Native.geteuid() == 0) return "/var/lib";
        var home = Get("HOME") is { Length: > 0 } h && Path.IsPathRooted(h) ? h
            : throw new HistoryException("no state folder: neither XDG_STATE_HOME nor HOME is set to an absolute path (or turn history off with 'history: false')");
        return Path.Combine(home, ".local", "state");
    }

    /// <summary>Null when <paramref name="file"/> may be opened by Vigil (absent, or a regular file of Vigil's user);
    /// else why not. A file of ours open to others is made 0600 again.</summary>
    internal static unsafe string? FileRefusal(string file)
    {
        int rc = Native.LStat(file, out var st);
        if (rc == Native.ENOENT) return null;
        if (rc != 0) return $"cannot lstat it: {Native.Describe(rc)}";
        if (st.Type == Native.S_IFLNK) return "it is a symbolic link";
        if (st.Type != Native.S_IFREG) return "it is not a regular file";
        uint euid = Native.geteuid();
        if (st.Uid != euid) return string.Create(CultureInfo.InvariantCulture, $"it belongs to uid {st.Uid}, not to Vigil's euid {euid}");
        if ((st.Mode & 0x1FFu) != FileMode)
        {
            byte* p = Native.Utf8Z(file);
            try { Native.chmod(p, FileMode); }
            finally { System.Runtime.InteropServices.NativeMemory.Free(p); }
        }
        return null;
    }

    /// <summary>Creates <paramref name="file"/> (0600, never through a symlink) unless it exists.</summary>
    internal static unsafe string? Create(string file)
    {
        byte* p = Native.Utf8Z(file);
        try
        {
            int fd = Native.open(p, Native.O_RDWR | Native.O_CREAT | Native.O_EXCL | Native.O_CLOEXEC | Native.O_NOFOLLOW, (int)FileMode);
            if (fd >= 0)
            {
                Native.chmod(p, FileMode); // the umask may have taken bits from 0600
                Native.close(fd);
                return null;
            }
            return Native.Errno == Native.EEXIST ? null : $"cannot create it: {Native.Describe(Native.Errno)}";
        }
        finally { System.Runtime.InteropServices.NativeMemory.Free(p); }
    }

    internal const uint FileMode = 0x180; // 0600
}

/// <summary>The history database cannot be used safely (a planted symlink, someone else's file or folder, a database
/// of a newer Vigil): <c>vigil run</c> says so and starts nothing.</summary>
public sealed class HistoryException(string message) : Exception(message);
