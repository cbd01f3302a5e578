using System.Globalization;
using Vigil.Launching;

namespace Vigil.Cli;

/// <summary>
/// The .NET runtime opens a diagnostic socket and two debugger FIFOs in $TMPDIR (or /tmp) for every process
/// (dotnet-diagnostic-PID-KEY-socket, clr-debug-pipe-PID-KEY-in/out; KEY is the start time from /proc). It removes
/// them at a clean exit, but a killed Vigil leaves them behind, and a supervisor is the process most likely to be
/// killed hard. runtimeconfig.json cannot turn them off (only DOTNET_EnableDiagnostics=0 in the environment can), so
/// Vigil removes their names at start: nothing is left in /tmp whatever happens later, and no other process can
/// reach the runtime's diagnostic port (dumps, traces) through them. The shipped native build has none to begin with.
/// </summary>
internal static class Diagnostics
{
    public static void RemoveEndpoints()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_EnableDiagnostics") == "1") return; // asked for on purpose
        int pid = Environment.ProcessId;
        if (!ProcFs.TryReadStat(pid, out var st)) return;
        var tmp = Environment.GetEnvironmentVariable("TMPDIR") is { Length: > 0 } t ? t : "/tmp";
        var key = string.Create(CultureInfo.InvariantCulture, $"{pid}-{st.StartTime}");
        foreach (var name in new[] { $"dotnet-diagnostic-{key}-socket", $"clr-debug-pipe-{key}-in", $"clr-debug-pipe-{key}-out" })
        {
            try { File.Delete(Path.Combine(tmp, name)); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }
}
