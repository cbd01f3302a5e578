using System.Globalization;
using System.Text;

namespace Vigil.Launching;

/// <summary>The few cgroup v2 file operations membership needs (cgroups(7), Documentation/admin-guide/cgroup-v2.rst).
/// Every call returns errno values or plain results; nothing here throws for a vanished cgroup.</summary>
internal static unsafe class Cgroups
{
    /// <summary>
    /// The folder under which Vigil may create cgroups: its own cgroup in the cgroup v2 hierarchy (found in
    /// /proc/self/mountinfo and the "0::" line of /proc/self/cgroup), if it is writable; else null and why.
    /// </summary>
    public static (string? Dir, string Why) WritableParent()
    {
        string? mount = null, mountRoot = null;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/mountinfo"))
            {
                // id parent major:minor root mountpoint options [optional fields] - fstype source super-options
                var sep = line.IndexOf(" - ", StringComparison.Ordinal);
                if (sep < 0) continue;
                var tail = line[(sep + 3)..].Split(' ');
                if (tail.Length == 0 || tail[0] != "cgroup2") continue;
                var head = line[..sep].Split(' ');
                if (head.Length < 5) continue;
                mountRoot = Unescape(head[3]);
                mount = Unescape(head[4]);
                break;
            }
        }
        catch (IOException e) { return (null, "cannot read /proc/self/mountinfo: " + e.Message); }
        if (mount is null) return (null, "no cgroup v2 hierarchy is mounted");
        string? own = null;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/cgroup"))
                if (line.StartsWith("0::", StringComparison.Ordinal)) { own = line[3..]; break; }
        }
        catch (IOException e) { return (null, "cannot read /proc/self/cgroup: " + e.Message); }
        if (own is null) return (null, "this process is in no cgroup v2 group");
        // Our cgroup relative to the mount's root (they differ when a parent cgroup is bind-mounted).
        var rel = own;
        if (mountRoot is not null && mountRoot != "/" && rel.StartsWith(mountRoot, StringComparison.Ordinal)) rel = rel[mountRoot.Length..];
        var dir = Path.GetFullPath(mount + "/" + rel.TrimStart('/'));
        if (!Directory.Exists(dir)) return (null, $"{dir} (this process's cgroup) does not exist in the mounted hierarchy");
        byte* p = Native.Utf8Z(dir);
        try
        {
            if (Native.access(p, 2 /* W_OK */) != 0) return (null, $"{dir} is not writable ({Native.Describe(Native.Errno)}); run as root or delegate the subtree");
        }
        finally { System.Runtime.InteropServices.NativeMemory.Free(p); }
        return (dir, "");
    }

    private static string Unescape(string s) => s.Contains('\\') ? s.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\") : s;

    /// <summary>mkdir with mode 0755 (cgroupfs ignores most of it); 0 or errno.</summary>
    public static int MakeDir(string dir)
    {
        byte* p = Native.Utf8Z(dir);
        try { return Native.mkdir(p, 0x1EDu) == 0 ? 0 : Native.Errno; }
        finally { System.Runtime.InteropServices.NativeMemory.Free(p); }
    }

    /// <summary>rmdir; fails with EBUSY while the cgroup holds processes or child cgroups. 0 or errno.</summary>
    public static int RemoveDir(string dir)
    {
        byte* p = Native.Utf8Z(dir);
        try { return Native.rmdir(p) == 0 ? 0 : Native.Errno; }
        finally { System.Runtime.InteropServices.NativeMemory.Free(p); }
    }

    /// <summary>Writes <paramref name="pid"/> to cgroup.procs (moves the whole process); 0 or errno.</summary>
    public static int AddProcess(string dir, int pid) =>
        WriteFile(dir + "/cgroup.procs", pid.ToString(CultureInfo.InvariantCulture));

    /// <summary>Writes 1 to cgroup.kill: SIGKILL to every process in the cgroup and its descendants, forks included.</summary>
    public static bool Kill(string dir) => WriteFile(dir + "/cgroup.kill", "1") == 0;

    /// <summary>The PIDs in cgroup.procs (empty when the cgroup is gone).</summary>
    public static List<int> Members(string dir)
    {
        var list = new List<int>();
        Span<byte> buf = stackalloc byte[4096];
        var text = ReadFile(dir + "/cgroup.procs", buf);
        if (text is null) return list;
        foreach (var part in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            if (int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) list.Add(pid);
        return list;
    }

    /// <summary>"populated 1" in cgroup.events: a live process in the cgroup or below. Null when it cannot be read.</summary>
    public static bool? Populated(string dir)
    {
        Span<byte> buf = stackalloc byte[256];
        var text = ReadFile(dir + "/cgroup.events", buf);
        if (text is null) return null;
        foreach (var line in text.Split('\n'))
            if (line.StartsWith("populated ", StringComparison.Ordinal)) return line.EndsWith('1');
        return null;
    }

    public static List<string> SubDirs(string dir)
    {
        try { return [.. Directory.EnumerateDirectories(dir)]; }
        catch (IOException) { return []; }
        catch (UnauthorizedAccessException) { return []; }
    }

    /// <summary>
    /// Empty cgroups that ended Vigils left behind (a killed Vigil cannot remove its own, and the next one of the same
    /// config may never come): run cgroups with no process that are over a minute old (a live Vigil moves its child
    /// in microseconds after the mkdir), then their instance folder if that is empty. Library supervisors' folders
    /// (vigil-lib-PID-N) go as soon as PID has ended. rmdir refuses a cgroup that holds a process, so nothing a
    /// previous Vigil left running is lost for its successor; a live Vigil recreates its folder if it needs it again.
    /// </summary>
    public static void PruneStale(string parent, string? own)
    {
        var old = DateTime.UtcNow - TimeSpan.FromMinutes(1);
        foreach (var dir in SubDirs(parent))
        {
            var name = Path.GetFileName(dir);
            if (!name.StartsWith("vigil-", StringComparison.Ordinal) || dir == own) continue;
            bool deadLibrary = false;
            if (name.StartsWith("vigil-lib-", StringComparison.Ordinal))
            {
                var rest = name["vigil-lib-".Length..];
                int dash = rest.IndexOf('-');
                deadLibrary = dash > 0 && int.TryParse(rest.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                    && pid != Environment.ProcessId && !Directory.Exists("/proc/" + pid.ToString(CultureInfo.InvariantCulture));
            }
            foreach (var sub in SubDirs(dir))
            {
                DateTime made;
                try { made = Directory.GetLastWriteTimeUtc(sub); }
                catch (IOException) { continue; }
                if ((deadLibrary || made < old) && Populated(sub) == false) RemoveDir(sub);
            }
            RemoveDir(dir);
        }
    }

    private static int WriteFile(string path, string text)
    {
        byte* p = Native.Utf8Z(path);
        try
        {
            int fd = Native.open(p, Native.O_WRONLY | Native.O_CLOEXEC, 0);
            if (fd < 0) return Native.Errno;
            Span<byte> b = stackalloc byte[32];
            int n = Encoding.ASCII.GetBytes(text, b);
            nint w;
            fixed (byte* bp = b) w = Native.write(fd, bp, n);
            int err = w < 0 ? Native.Errno : 0;
            Native.close(fd);
            return err;
        }
        finally { System.Runtime.InteropServices.NativeMemory.Free(p); }
    }

    private static string? ReadFile(string path, Span<byte> small)
    {
        byte* p = Native.Utf8Z(path);
        try
        {
            int fd = Native.open(p, Native.O_RDONLY | Native.O_CLOEXEC, 0);
            if (fd < 0) return null;
            try
            {
                var sb = new StringBuilder();
                fixed (byte* b = small)
                    while (true)
                    {
                        nint n = Native.read(fd, b, small.Length);
                        if (n < 0 && Native.Errno == Native.EINTR) continue;
                        if (n <= 0) break;
                        sb.Append(Encoding.ASCII.GetString(b, (int)n));
                    }
                return sb.ToString();
            }
            finally { Native.close(fd); }
        }
        finally { System.Runtime.InteropServices.NativeMemory.Free(p); }
    }
}
