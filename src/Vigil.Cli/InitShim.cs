using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Vigil.Cli;

/// <summary>
/// When vigil is PID 1 (a container's entry point), the .NET runtime reaps every child on SIGCHLD, racing the
/// pidfd owners for their exit status (seen: "status unknown" for a child that exited with code 3). So PID 1
/// stays a minimal init, like tini: it starts the real vigil as its child with the same arguments, forwards
/// SIGINT/SIGTERM/SIGHUP to it, lets the runtime reap orphans, and exits with the child's code. The real
/// vigil is not PID 1, so its children's statuses are exact again.
/// </summary>
public static class InitShim
{
    private const string Marker = "VIGIL_UNDER_INIT_SHIM";

    public static bool Needed => Environment.ProcessId == 1 && Environment.GetEnvironmentVariable(Marker) is null;

    public static async Task<int> RunAsync(string[] args)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!, args) { UseShellExecute = false };
        psi.Environment[Marker] = "1";
        using var child = Process.Start(psi)!;
        void Forward(PosixSignalContext ctx)
        {
            ctx.Cancel = true;
            int sig = ctx.Signal switch { PosixSignal.SIGINT => 2, PosixSignal.SIGTERM => 15, _ => 1 };
            if (!child.HasExited) kill(child.Id, sig);
        }
        using var a = PosixSignalRegistration.Create(PosixSignal.SIGINT, Forward);
        using var b = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Forward);
        using var c = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Forward);
        await child.WaitForExitAsync().ConfigureAwait(false);
        return child.ExitCode;
    }

    [DllImport("libc")] private static extern int kill(int pid, int sig);
}
