using System.Diagnostics;
using System.Text.Json;

namespace Vigil.Tether.Pinger;

/// <summary>
/// The PM2 command line, as the pinger uses it: <c>pm2 jlist</c> to find a process by name and <c>pm2 restart NAME</c>.
/// PM2 reads its daemon's home from <c>PM2_HOME</c> (else <c>~/.pm2</c>), which the child inherits. Every call is
/// bounded; failures are returned as messages, never thrown.
/// </summary>
public sealed class Pm2(string executable, TimeSpan? callTimeout = null)
{
    readonly TimeSpan _timeout = callTimeout ?? TimeSpan.FromSeconds(30);

    /// <summary>The pm2 executable (a path, or a name looked up in PATH).</summary>
    public string Executable => executable;

    /// <summary>Finds the process named <paramref name="name"/>: its pid (0 when stopped), or why not.</summary>
    public async Task<(int? Pid, string? Error)> FindAsync(string name, CancellationToken ct = default)
    {
        var (exit, stdout, stderr) = await RunAsync(["jlist"], ct).ConfigureAwait(false);
        if (exit != 0) return (null, $"'{executable} jlist' failed: {Describe(exit, stderr)}");
        // A freshly spawned daemon announces itself on stdout before the list; the list is the line that starts with '['.
        var json = stdout.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith('['));
        if (json is null) return (null, $"'{executable} jlist' printed no process list: {First(stdout + stderr)}");
        try
        {
            using var doc = JsonDocument.Parse(json);
            var names = new List<string>();
            foreach (var p in doc.RootElement.EnumerateArray())
            {
                var n = p.TryGetProperty("name", out var v) ? v.GetString() ?? "" : "";
                if (n == name) return (p.TryGetProperty("pid", out var pid) && pid.TryGetInt32(out var id) ? id : 0, null);
                names.Add(n);
            }
            return (null, $"PM2 has no process named \"{name}\" (it has: {(names.Count == 0 ? "none" : string.Join(", ", names))})");
        }
        catch (JsonException e) { return (null, $"'{executable} jlist' printed no valid JSON: {e.Message}"); }
    }

    /// <summary>Restarts the process named <paramref name="name"/>; null when PM2 did, else why not.</summary>
    public async Task<string?> RestartAsync(string name, CancellationToken ct = default)
    {
        var (exit, _, stderr) = await RunAsync(["restart", name], ct).ConfigureAwait(false);
        return exit == 0 ? null : $"'{executable} restart {name}' failed: {Describe(exit, stderr)}";
    }

    static string Describe(int exit, string stderr) => exit == -1 ? stderr : $"exit code {exit}: {First(stderr)}";

    static string First(string text) =>
        string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(3));

    Task<(int Exit, string Stdout, string Stderr)> RunAsync(string[] args, CancellationToken ct) => ShortCommand.RunAsync(executable, args, _timeout, ct);
}

/// <summary>Runs a short command to its end, bounded; its tree is killed past the limit.</summary>
internal static class ShortCommand
{
    /// <summary>Exit code and output; exit -1 with the reason in Stderr when it could not be run or ran too long.</summary>
    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string executable, IReadOnlyList<string> args, TimeSpan timeout, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(executable, args) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        Process process;
        try { process = Process.Start(psi) ?? throw new InvalidOperationException("no process"); }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return (-1, "", $"cannot run '{executable}': {e.Message}");
        }
        using (process)
        {
            process.StandardInput.Close();
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(timeout);
            var stdout = process.StandardOutput.ReadToEndAsync(limit.Token);
            var stderr = process.StandardError.ReadToEndAsync(limit.Token);
            try
            {
                await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
                return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
            }
            catch (OperationCanceledException)
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                ct.ThrowIfCancellationRequested();
                return (-1, "", $"'{executable} {string.Join(' ', args)}' did not finish within {timeout.TotalSeconds:0} s; killed");
            }
        }
    }
}
