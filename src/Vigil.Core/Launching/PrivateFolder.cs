namespace Vigil.Launching;

/// <summary>
/// The check before Vigil uses a folder someone else could have prepared (its runtime folder, the sd-notify folder),
/// the way OpenSSH and systemd check theirs: lstat semantics (a symbolic link is refused, not followed), owned by
/// Vigil's effective user, mode 0700.
/// </summary>
public static class PrivateFolder
{
    public const uint Mode = 0x1C0; // 0700

    /// <summary>Makes <paramref name="dir"/> (mode 0700) unless it exists; null when it is then fit for use, else why not.</summary>
    public static unsafe string? MakeOrCheck(string dir)
    {
        byte* p = Native.Utf8Z(dir);
        try
        {
            // chmod after our own mkdir: the umask may have taken bits from 0700 (it cannot add any).
            if (Native.mkdir(p, Mode) == 0) Native.chmod(p, Mode);
            else if (Native.Errno != Native.EEXIST) return $"cannot make it: {Native.Describe(Native.Errno)}";
        }
        finally { System.Runtime.InteropServices.NativeMemory.Free(p); }
        return Refusal(dir);
    }

    /// <summary>Null when <paramref name="dir"/> is fit for use; else why not, in words.</summary>
    public static string? Refusal(string dir)
    {
        int rc = Native.LStat(dir, out var st);
        if (rc != 0) return $"cannot lstat it: {Native.Describe(rc)}";
        if (st.Type != Native.S_IFDIR) return st.Type == Native.S_IFLNK ? "it is a symbolic link" : "it is not a folder";
        uint euid = Native.geteuid();
        if (st.Uid != euid) return $"it belongs to uid {st.Uid}, not to Vigil's euid {euid}";
        if ((st.Mode & 0xFFFu) != Mode) return $"its mode is {Convert.ToString(st.Mode & 0xFFF, 8)}, not 700";
        return null;
    }
}
