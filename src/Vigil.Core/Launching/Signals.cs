namespace Vigil.Launching;

/// <summary>Linux signal numbers (x86_64 and aarch64 share them) and their names.</summary>
public static class Signals
{
    public const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGILL = 4, SIGTRAP = 5, SIGABRT = 6, SIGBUS = 7, SIGFPE = 8,
        SIGKILL = 9, SIGUSR1 = 10, SIGSEGV = 11, SIGUSR2 = 12, SIGPIPE = 13, SIGALRM = 14, SIGTERM = 15,
        SIGSTKFLT = 16, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22,
        SIGURG = 23, SIGXCPU = 24, SIGXFSZ = 25, SIGVTALRM = 26, SIGPROF = 27, SIGWINCH = 28, SIGIO = 29,
        SIGPWR = 30, SIGSYS = 31;

    private static readonly string[] Names =
    [
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE",
        "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ",
        "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];

    /// <summary>Sets <paramref name="signal"/>'s disposition to ignore for this process (SIG_IGN). Children Vigil
    /// spawns still start with the default (posix_spawn resets every disposition).</summary>
    public static void Ignore(int signal) => Native.signal(signal, 1 /* SIG_IGN */);

    /// <summary>"SIGTERM" for 15; "SIG42" for a real-time or unknown number.</summary>
    public static string Name(int signal) =>
        signal > 0 && signal < Names.Length ? "SIG" + Names[signal] : "SIG" + signal.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Parses "TERM", "SIGTERM", "sigterm" or "15". Returns false for anything else.</summary>
    public static bool TryParse(string text, out int signal)
    {
        signal = 0;
        var t = text.Trim();
        if (int.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
        {
            if (n is > 0 and <= 64) { signal = n; return true; }
            return false;
        }
        if (t.StartsWith("SIG", StringComparison.OrdinalIgnoreCase)) t = t[3..];
        for (int i = 1; i < Names.Length; i++)
            if (string.Equals(Names[i], t, StringComparison.OrdinalIgnoreCase)) { signal = i; return true; }
        return false;
    }
}
