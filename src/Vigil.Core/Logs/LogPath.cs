using Microsoft.Win32.SafeHandles;
using Vigil.Launching;

namespace Vigil.Logs;

/// <summary>A log path Vigil will not use, or could not prepare: the message names the cause (and the errno when the
/// OS gave one), ready to go into a <c>log-failed</c> event as it is.</summary>
internal sealed class LogPathException(string message) : IOException(message);

/// <summary>
/// Opens log files the way a root daemon must, and tells when the open file is no longer the one at its path.
/// </summary>
/// <remarks>
/// Overview. Vigil often runs as root and appends a child's output to a path from a config; whoever can write in the
/// folder of that path could otherwise point it at /etc/shadow with a symlink. So, like OpenSSH's secure_filename and
/// logrotate's "insecure permissions" check:
/// - every symlink on the way to the folder must belong to root or to Vigil's user (who could have written the
///   config anyway);
/// - the folder itself (opened once, and the file opened relative to that descriptor, so it cannot be swapped between
///   the check and the open) must not be writable by another user: owned by root or Vigil's user, not writable by
///   everyone, and group-writable only for root's or Vigil's group. A sticky folder (like /tmp) is the exception: there
///   others cannot remove or rename our file, so it is accepted when the file is Vigil's own;
/// - the file is opened with O_NOFOLLOW, unless it is a symlink owned by root or Vigil's user;
/// - what was opened must be a regular file (never a FIFO, which would block the writer, or a device).
/// Missing folders are created (0750, Vigil's user), so a log folder that does not exist yet does not lose lines.
/// </remarks>
internal static class LogPath
{
    private static readonly uint Euid = Native.geteuid(), Egid = Native.getegid();

    private static bool Trusted(uint uid) => uid == 0 || uid == Euid;

    /// <summary>The file at <paramref name="path"/> (absolute), opened for appending, created (with its folders) when
    /// missing; read access too when the OS allows it (<paramref name="readable"/>), so a deleted file's last lines can
    /// be copied out. Throws <see cref="LogPathException"/> for a refused or unusable path.</summary>
    public static SafeFileHandle Open(string path, out bool readable)
    {
        var dir = Path.GetDirectoryName(path) ?? "/";
        var name = Path.GetFileName(path);
        CheckSymlinksTo(dir);
        int dfd = OpenFolder(dir);
        try
        {
            Check(Native.Stat(dfd, "", 0, out var d), dir);
            string? othersWrite = OthersCanWrite(d);
            bool sticky = (d.Mode & Native.S_ISVTX) != 0;
            if (othersWrite is not null && !(sticky && Trusted(d.Uid)))
                throw new LogPathException($"refusing to write in {dir}: {othersWrite} can write there and could swap the file for a link to another one");

            int flags = Native.O_CLOEXEC | Native.O_NONBLOCK; // O_NONBLOCK: a FIFO planted there must not hang the open
            if (Native.Stat(dfd, name, Native.AT_SYMLINK_NOFOLLOW, out var l) == 0 && l.Type == Native.S_IFLNK)
            {
                if (!Trusted(l.Uid))
                    throw new LogPathException($"refusing to follow {path}: it is a symlink owned by uid {l.Uid}, not by root or Vigil's user");
            }
            else flags |= Native.O_NOFOLLOW; // if it became a symlink since, the open fails with ELOOP

            int fd = OpenAt(dfd, name, flags, out readable);
            var file = new SafeFileHandle(fd, ownsHandle: true);
            try
            {
                Check(Native.Stat(fd, "", 0, out var f), path);
                if (f.Type != Native.S_IFREG)
                    throw new LogPathException($"refusing {path}: it is not a regular file");
                // In a folder others may write to, a file of theirs could be a hard link to anything of ours.
                if (othersWrite is not null && f.Uid != Euid)
                    throw new LogPathException($"refusing {path}: the file belongs to uid {f.Uid}, and {othersWrite} can write in {dir}");
                if (Native.fcntl(fd, Native.F_SETFL, Native.fcntl(fd, Native.F_GETFL, 0) & ~Native.O_NONBLOCK) < 0) Fail(Native.Errno, path);
                return file;
            }
            catch
            {
                file.Dispose();
                throw;
            }
        }
        finally { Native.close(dfd); }
    }

    private static unsafe int OpenAt(int dfd, string name, int flags, out bool readable)
    {
        var z = Native.Utf8Z(name);
        try
        {
            // O_EXCL also fails on a symlink to a missing file; a trusted one (followed: no O_NOFOLLOW) creates its target.
            int create = Native.O_CREAT | ((flags & Native.O_NOFOLLOW) != 0 ? Native.O_EXCL : 0);
            for (int attempt = 0; ; attempt++)
            {
                // Without O_CREAT first: an existing file is checked rather than refused by fs.protected_regular, and a
                // new one is created with O_EXCL, so whatever we get is either what was there or our own.
                readable = true;
                int fd = Native.openat(dfd, z, flags | Native.O_RDWR, 0);
                if (fd < 0 && Native.Errno == Native.EACCES)
                {
                    readable = false; // a file we may append to but not read: fine, minus the recovery of a deleted tail
                    fd = Native.openat(dfd, z, flags | Native.O_WRONLY, 0);
                }
                if (fd >= 0) return fd;
                int e = Native.Errno;
                if (e != Native.ENOENT) Fail(e, Path.Combine(PathOf(dfd), name));
                fd = Native.openat(dfd, z, flags | Native.O_RDWR | create, 0b110_110_110); // 0666 less the umask
                if (fd >= 0) return fd;
                e = Native.Errno;
                if (e != Native.EEXIST || attempt == 3) Fail(e, Path.Combine(PathOf(dfd), name));
                // Someone created it between the two opens: open what is there (and check it) instead.
            }
        }
        finally { System.Runtime.InteropServices.NativeMemory.Free(z); }
    }

    private static string PathOf(int fd)
    {
        try { return new FileInfo($"/proc/self/fd/{fd}").LinkTarget ?? "?"; }
        catch (IOException) { return "?"; }
    }

    /// <summary>Null when only root and Vigil's user can change what the folder holds; else who else can.</summary>
    private static string? OthersCanWrite(in Native.StatX d)
    {
        if (!Trusted(d.Uid)) return $"its owner, uid {d.Uid},"; // an owner can always chmod, whatever the mode says
        if ((d.Mode & 0b000_000_010) != 0) return "every user";
        if ((d.Mode & 0b000_010_000) != 0 && d.Gid != 0 && d.Gid != Egid) return $"group {d.Gid}";
        return null;
    }

    /// <summary>
    /// Refuses a symlink on the way to <paramref name="dir"/> that neither root nor Vigil's user owns. The path is
    /// resolved one component at a time, as the kernel does (systemd's chase() is the model), so a symlink reached
    /// through another symlink's target is checked too, not only those spelled in the path.
    /// </summary>
    private static void CheckSymlinksTo(string dir)
    {
        var todo = new Stack<string>();
        Push(todo, dir);
        string at = "/";
        for (int links = 0; todo.TryPop(out var part);)
        {
            if (part is "" or ".") continue;
            if (part == "..")
            {
                at = Path.GetDirectoryName(at) ?? "/";
                continue;
            }
            var next = at == "/" ? "/" + part : at + "/" + part;
            int e = Native.Stat(Native.AT_FDCWD, next, Native.AT_SYMLINK_NOFOLLOW, out var st);
            if (e != 0) return; // missing (Vigil creates the rest itself) or unreadable (the open reports it)
            if (st.Type != Native.S_IFLNK)
            {
                at = next;
                continue;
            }
            if (!Trusted(st.Uid))
                throw new LogPathException($"refusing to follow {next}: it is a symlink owned by uid {st.Uid}, not by root or Vigil's user");
            if (++links > 40) throw new LogPathException($"cannot open {dir}: {Native.Explain(Native.ELOOP)}"); // the kernel's limit
            var target = new FileInfo(next).LinkTarget ?? "";
            if (target.StartsWith('/')) at = "/";
            Push(todo, target);
        }
    }

    /// <summary>Pushes the components of <paramref name="path"/> so that the first pops first.</summary>
    private static void Push(Stack<string> todo, string path)
    {
        var parts = path.Split('/');
        for (int i = parts.Length - 1; i >= 0; i--) todo.Push(parts[i]);
    }

    /// <summary>Opens the folder, creating it and any missing parent (mode 0750, Vigil's user) first.</summary>
    private static unsafe int OpenFolder(string dir)
    {
        // O_PATH: enough to stat the folder and open in it, and needs no read permission on it (as a plain open of
        // the file would not).
        int flags = Native.O_PATH | Native.O_DIRECTORY | Native.O_CLOEXEC;
        var z = Native.Utf8Z(dir);
        try
        {
            int fd = Native.open(z, flags, 0);
            if (fd < 0 && Native.Errno == Native.ENOENT)
            {
                CreateFolders(dir);
                fd = Native.open(z, flags, 0);
            }
            if (fd >= 0) return fd;
            int e = Native.Errno;
            if (e == Native.ENOTDIR) throw new LogPathException(NotAFolder(dir));
            Fail(e, dir);
            return -1;
        }
        finally { System.Runtime.InteropServices.NativeMemory.Free(z); }
    }

    private static unsafe void CreateFolders(string dir)
    {
        var missing = new Stack<string>();
        for (var d = dir; d is not null && Native.Stat(Native.AT_FDCWD, d, 0, out _) == Native.ENOENT; d = Path.GetDirectoryName(d))
            missing.Push(d);
        foreach (var d in missing)
        {
            var z = Native.Utf8Z(d);
            try
            {
                if (Native.mkdir(z, 0b111_101_000) == 0)
                {
                    // mkdir's mode is narrowed by the umask; the documented mode is 0750, whatever the umask.
                    Native.chmod(z, 0b111_101_000);
                    continue;
                }
                int e = Native.Errno;
                if (e == Native.EEXIST) continue; // made meanwhile (another unit): fine if it is a folder, checked at open
                if (e == Native.ENOTDIR) throw new LogPathException(NotAFolder(d));
                throw new LogPathException($"cannot create the folder {d}: {Native.Explain(e)}");
            }
            finally { System.Runtime.InteropServices.NativeMemory.Free(z); }
        }
    }

    /// <summary>ENOTDIR on the way to <paramref name="dir"/>: names the part that is not a folder.</summary>
    private static string NotAFolder(string dir)
    {
        for (var d = dir; d is not null; d = Path.GetDirectoryName(d))
            if (Native.Stat(Native.AT_FDCWD, d, 0, out var st) == 0 && st.Type != Native.S_IFDIR)
                return $"{d} is {(st.Type == Native.S_IFREG ? "a file" : "not a folder")}, not a folder ({Native.ErrnoName(Native.ENOTDIR)})";
        return $"{dir}: {Native.Explain(Native.ENOTDIR)}";
    }

    private static void Check(int errno, string what)
    {
        if (errno != 0) Fail(errno, what);
    }

    private static void Fail(int errno, string what) => throw new LogPathException(errno switch
    {
        Native.ELOOP => $"refusing {what}: it became a symlink while being opened ({Native.ErrnoName(errno)})",
        _ => $"cannot open {what}: {Native.Explain(errno)}",
    });

    /// <summary>
    /// Null while <paramref name="file"/> is still the file at <paramref name="path"/>; otherwise why not ("the file was
    /// deleted", "the file was renamed away", "its folder was deleted", …), with <paramref name="unlinked"/> true when
    /// the open file has no name left (what is written to it is lost unless copied out).
    /// </summary>
    public static string? Moved(SafeFileHandle file, string path, out bool unlinked)
    {
        unlinked = false;
        if (Native.Stat((int)file.DangerousGetHandle(), "", 0, out var open) != 0) return null; // cannot tell: keep writing
        int e = Native.Stat(Native.AT_FDCWD, path, 0, out var there);
        if (e == 0 && there.SameFile(open)) return null;
        if (e != 0 && e != Native.ENOENT && e != Native.ENOTDIR) return null; // e.g. EACCES: nothing says it moved
        unlinked = open.Nlink == 0;
        bool folderGone = Native.Stat(Native.AT_FDCWD, Path.GetDirectoryName(path) ?? "/", 0, out _) != 0;
        return (folderGone, unlinked) switch
        {
            (true, true) => "its folder was deleted",
            (true, false) => "its folder was renamed away",
            (false, true) => e == 0 ? "the file was deleted and another put in its place" : "the file was deleted",
            (false, false) => e == 0 ? "the file was renamed away and another put in its place" : "the file was renamed away",
        };
    }
}
