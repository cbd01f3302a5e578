using Vigil.Launching;

namespace Vigil.Tests.Support;

/// <summary>What /proc says about processes a test started: alive, zombie, orphaned.</summary>
public static class Procs
{
    public static bool Alive(int pid) => ProcFs.TryReadStat(pid, out var st) && st.State is not (OsState.Zombie or OsState.Dead);

    /// <summary>Zombie children of this test process (Vigil runs in-process, so its zombies are ours).</summary>
    public static List<int> OurZombies() =>
        ProcFs.All().Where(p => p.ParentPid == Environment.ProcessId && p.State == OsState.Zombie).Select(p => p.Pid).ToList();

    /// <summary>Every process on the machine (not only ours: also those reparented to PID 1) whose argv is exactly
    /// <paramref name="argv"/>, from /proc/*/cmdline.</summary>
    public static List<int> WithArgv(params string[] argv) =>
        ProcFs.All().Where(p => p.State is not (OsState.Zombie or OsState.Dead) && ProcFs.ReadCmdline(p.Pid).SequenceEqual(argv))
            .Select(p => p.Pid).ToList();

    /// <summary>A number for a <c>sleep</c> argv that no other test (or engineer) on the machine uses.</summary>
    public static string UniqueSleep() => Random.Shared.Next(7_000_000, 7_999_999).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Cleanup after a failed leak test: SIGKILL to what it left (by PID, checked with its start time).</summary>
    public static void KillAll(IEnumerable<int> pids)
    {
        foreach (var pid in pids) ProcessIdentity.Of(pid)?.Signal(9);
    }

    /// <summary>Polls (with a timeout) until the condition holds; returns false on timeout.</summary>
    public static async Task<bool> Eventually(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            await Task.Yield();
            await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System); // polling interval of a bounded wait
        }
        return condition();
    }

    /// <summary>Polls an asynchronous condition (a CLI call) until it holds; returns false on timeout.</summary>
    public static async Task<bool> Eventually(Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (DateTime.UtcNow < deadline)
        {
            if (await condition()) return true;
            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System); // polling interval of a bounded wait
        }
        return await condition();
    }

    /// <summary>Live processes anywhere on the machine (reparented to PID 1 or not) whose environment carries a
    /// VIGIL_SCOPE starting with <paramref name="prefix"/> (a supervisor's instance, or one run's scope).</summary>
    public static List<int> WithScope(string prefix) =>
        ProcFs.All().Where(p => p.State is not (OsState.Zombie or OsState.Dead) && p.Pid != Environment.ProcessId
            && ReadScope(p.Pid) is { } s && s.StartsWith(prefix, StringComparison.Ordinal)).Select(p => p.Pid).ToList();

    /// <summary>Live processes anywhere on the machine with <paramref name="token"/> as one of their arguments
    /// (a test's unique marker, e.g. a sleep duration no other test uses).</summary>
    public static List<int> WithArg(string token) =>
        ProcFs.All().Where(p => p.State is not (OsState.Zombie or OsState.Dead) && p.Pid != Environment.ProcessId
            && ProcFs.ReadCmdline(p.Pid).Contains(token)).Select(p => p.Pid).ToList();

    /// <summary>Waits until no process carries <paramref name="token"/>; returns those still there after the timeout.</summary>
    public static async Task<List<int>> LeftWithArg(string token, TimeSpan? timeout = null)
    {
        await Eventually(() => WithArg(token).Count == 0, timeout ?? TimeSpan.FromSeconds(5));
        return WithArg(token);
    }

    private static string? ReadScope(int pid)
    {
        try
        {
            foreach (var kv in File.ReadAllText($"/proc/{pid}/environ").Split('\0'))
                if (kv.StartsWith(Membership.MarkerVariable + "=", StringComparison.Ordinal)) return kv[(Membership.MarkerVariable.Length + 1)..];
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    public static int ParsePid(string text, string prefix)
    {
        var i = text.IndexOf(prefix, StringComparison.Ordinal);
        var s = text[(i + prefix.Length)..].Split(' ')[0];
        return int.Parse(s);
    }
}
