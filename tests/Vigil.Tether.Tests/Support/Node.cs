using System.Diagnostics;

namespace Vigil.Tether.Tests.Support;

/// <summary>Runs a node script from tests/fixtures/node (where the npm peers are installed) and returns its stdout.</summary>
public static class Node
{
    /// <summary>How long a script may run unless the caller says otherwise.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Runs <c>node SCRIPT ARGS…</c> in the fixture folder, feeding <paramref name="stdin"/> (then closing it),
    /// and returns everything it printed on stdout. A non-zero exit or running past the timeout (the script is then
    /// killed) throws, with its stderr in the message.</summary>
    public static async Task<string> RunAsync(string script, IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo("node")
        {
            WorkingDirectory = NodeFixture.Folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(NodeFixture.Folder, script));
        foreach (var a in args) psi.ArgumentList.Add(a);

        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start node");
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = process.StandardError.ReadToEndAsync(cts.Token);
        try
        {
            if (stdin is not null) await process.StandardInput.WriteAsync(stdin.AsMemory(), cts.Token);
            process.StandardInput.Close();
            await process.WaitForExitAsync(cts.Token);
            string output = await stdout, errors = await stderr;
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"node {script} exited with {process.ExitCode}: {errors}");
            return output;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"node {script} ran longer than {timeout ?? DefaultTimeout}; killed");
        }
    }
}
