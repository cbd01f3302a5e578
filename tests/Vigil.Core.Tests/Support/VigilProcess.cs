using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Vigil.Tests.Support;

/// <summary>The real `vigil` executable run as a child of the test, with its output collected line by line.</summary>
public sealed class VigilProcess : IAsyncDisposable
{
    /// <summary>The executable the tests run: <c>VIGIL_EXE</c> when set (.ci/run points it at the published Native AOT
    /// binary for the <see cref="Smoke"/> tests), else the apphost built beside the tests.</summary>
    public static string Path { get; } = Environment.GetEnvironmentVariable("VIGIL_EXE") is { Length: > 0 } exe
        ? System.IO.Path.GetFullPath(exe)
        : System.IO.Path.Combine(AppContext.BaseDirectory, "vigil");

    /// <summary>The trait of the end-to-end tests .ci/run runs a second time against the shipped binary
    /// (<c>--filter Category=smoke</c> with <c>VIGIL_EXE</c>).</summary>
    public const string Smoke = "smoke";

    private readonly Process _p;
    private readonly List<string> _out = [], _err = [];
    private readonly SemaphoreSlim _changed = new(0);

    private VigilProcess(Process p)
    {
        _p = p;
        p.OutputDataReceived += (_, e) => { if (e.Data is { } d) { lock (_out) _out.Add(d); _changed.Release(); } };
        p.ErrorDataReceived += (_, e) => { if (e.Data is { } d) { lock (_err) _err.Add(d); _changed.Release(); } };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
    }

    public static VigilProcess Start(string workDir, params string[] args) => StartWrapped(workDir, [], args);

    /// <summary>Runs vigil with extra environment variables (a null value removes one).</summary>
    public static VigilProcess StartWith(string workDir, IReadOnlyDictionary<string, string?> env, params string[] args) => StartWrapped(workDir, [], args, env);

    /// <summary>Runs vigil under a wrapper command, e.g. <c>unshare --pid --fork</c> to make it PID 1.</summary>
    public static VigilProcess StartWrapped(string workDir, string[] wrapper, params string[] args) => StartWrapped(workDir, wrapper, args, null);

    /// <summary>Runs vigil with a pseudo-terminal as its stdout and stderr (util-linux <c>script</c>), as on a console.</summary>
    public static VigilProcess StartOnTerminal(string workDir, IReadOnlyDictionary<string, string?>? env, params string[] args) =>
        // `exec`: script runs the command through $SHELL -c, and dash (CI's /bin/sh) would stay in between.
        StartWrapped(workDir, ["script", "-q", "-e", "-c", "exec " + string.Join(' ', args.Prepend(Path).Select(a => $"'{a}'")), "/dev/null"], [], env, wrapperOnly: true);

    /// <summary>Runs another vigil executable than <see cref="Path"/> (e.g. the published one) with extra environment.</summary>
    public static VigilProcess StartExecutable(string exe, string workDir, IReadOnlyDictionary<string, string?> env, params string[] args) =>
        StartWrapped(workDir, [], args, env, exe: exe);

    private static VigilProcess StartWrapped(string workDir, string[] wrapper, string[] args, IReadOnlyDictionary<string, string?>? env,
        bool wrapperOnly = false, string? exe = null)
    {
        exe ??= Path;
        if (wrapperOnly)
        {
            var wpsi = new ProcessStartInfo(wrapper[0], wrapper[1..])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
                WorkingDirectory = workDir, UseShellExecute = false,
            };
            wpsi.Environment["XDG_RUNTIME_DIR"] = workDir;
            wpsi.Environment["XDG_STATE_HOME"] = System.IO.Path.Combine(workDir, "state");
            foreach (var (k, v) in env ?? new Dictionary<string, string?>()) wpsi.Environment[k] = v;
            return new VigilProcess(Process.Start(wpsi)!);
        }
        var psi = new ProcessStartInfo(wrapper.Length > 0 ? wrapper[0] : exe, [.. wrapper.Skip(1), .. (wrapper.Length > 0 ? new[] { exe } : []), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = workDir,
            UseShellExecute = false,
        };
        // Each test's vigil keeps its runtime folder (instance locks) in the test's own folder unless the test says otherwise.
        psi.Environment["XDG_RUNTIME_DIR"] = workDir;
        // … and its state folder (history: state.db), so no test writes to the machine's /var/lib/vigil.
        psi.Environment["XDG_STATE_HOME"] = System.IO.Path.Combine(workDir, "state");
        foreach (var (k, v) in env ?? new Dictionary<string, string?>()) psi.Environment[k] = v;
        return new VigilProcess(Process.Start(psi)!);
    }

    public int Pid => _p.Id;
    public IReadOnlyList<string> Out { get { lock (_out) return _out.ToList(); } }
    public IReadOnlyList<string> Err { get { lock (_err) return _err.ToList(); } }

    public async Task<string> WaitLine(Func<string, bool> match, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var hit = Out.FirstOrDefault(match);
            if (hit is not null) return hit;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"vigil never printed {what}.\nstdout:\n{string.Join('\n', Out)}\nstderr:\n{string.Join('\n', Err)}");
            await _changed.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    public void Signal(int sig) => Kill(_p.Id, sig);

    public async Task<int> WaitExit(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        await _p.WaitForExitAsync(cts.Token);
        return _p.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_p.HasExited)
        {
            _p.Kill(entireProcessTree: true);
            await _p.WaitForExitAsync();
        }
        _p.Dispose();
    }

    [DllImport("libc", EntryPoint = "kill")] private static extern int Kill(int pid, int sig);
}
