using System.Diagnostics;
using System.Threading.Channels;

namespace Vigil.Tether.Tests.Support;

/// <summary>A node script from tests/fixtures/node, its stdout as lines to wait on; killed (with its tree) on dispose.</summary>
public sealed class NodeScript : IAsyncDisposable
{
    readonly Process _process;
    readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    readonly List<string> _seen = [];

    NodeScript(Process process) => _process = process;

    public static NodeScript Start(string script, params string[] args)
    {
        if (!Directory.Exists(NodeFixture.NodeModules))
            throw new InvalidOperationException($"{NodeFixture.NodeModules} is missing: run npm ci in {NodeFixture.Folder} (.ci/run does)");
        var psi = new ProcessStartInfo("node", [script, .. args])
        {
            WorkingDirectory = NodeFixture.Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = new Process { StartInfo = psi };
        var node = new NodeScript(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is { } l) node._lines.Writer.TryWrite(l); else node._lines.Writer.TryComplete(); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } l) lock (node._seen) node._seen.Add("stderr: " + l); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    /// <summary>Waits for the next stdout line starting with <paramref name="prefix"/> (earlier lines are kept for messages).</summary>
    public async Task<string> WaitForLineAsync(string prefix, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await foreach (var line in _lines.Reader.ReadAllAsync(cts.Token))
            {
                lock (_seen) _seen.Add(line);
                if (line.StartsWith(prefix, StringComparison.Ordinal)) return line;
            }
        }
        catch (OperationCanceledException) { }
        lock (_seen) throw new TimeoutException($"no line starting '{prefix}' within {timeout}; output so far:\n{string.Join('\n', _seen)}");
    }

    public int Pid => _process.Id;

    /// <summary>Waits (bounded) for the script to exit; its exit code as .NET reports it (128 + signal when killed).</summary>
    public async Task<int> ExitedAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { /* exited */ }
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
    }
}
