using System.Diagnostics;

namespace Vigil.Tests.Support;

/// <summary>The real tmux client, for tests that look at what a Vigil's tmux server shows.</summary>
public static class TmuxClient
{
    /// <summary>Runs <c>tmux -S SOCKET ARGS…</c> (outside any tmux the tests run in); returns its exit code and stdout.</summary>
    public static (int Code, string Out) Run(string socket, params string[] args)
    {
        var psi = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["-S", socket, .. args]) psi.ArgumentList.Add(a);
        psi.Environment.Remove("TMUX");
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }
}
