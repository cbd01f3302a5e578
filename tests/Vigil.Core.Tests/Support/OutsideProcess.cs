using System.Diagnostics;
using Vigil.Launching;

namespace Vigil.Tests.Support;

/// <summary>
/// A fixture process started by the test itself, outside any supervisor, in a session of its own (through
/// <c>setsid</c>, as a service manager would): what an external unit watches. Its output is read line by line;
/// disposing kills it if it still runs, and the runtime reaps it. It is spared by the test host's orphan reaper, which
/// would otherwise take a zombie outside the host's session for an orphan and reap it behind Process's back (the
/// runtime then aborts the host).
/// </summary>
public sealed class OutsideProcess : IDisposable
{
    private readonly Process _p;
    private readonly List<string> _lines = [];
    private readonly SemaphoreSlim _changed = new(0);

    private OutsideProcess(Process p)
    {
        _p = p;
        p.OutputDataReceived += (_, e) => { if (e.Data is { } d) { lock (_lines) _lines.Add(d); _changed.Release(); } };
        p.BeginOutputReadLine();
        Errors = p.StartInfo.RedirectStandardError ? p.StandardError.ReadToEndAsync() : Task.FromResult("");
    }

    /// <summary>Starts <c>setsid vigil-fixture STEPS…</c> (setsid execs in place: the PID is the fixture's).</summary>
    public static OutsideProcess Start(params string[] steps) => StartWith(null, steps);

    /// <summary>As <see cref="Start"/>, with <paramref name="port"/> in <c>VIGIL_FIXTURE_PORT</c> when given.</summary>
    public static OutsideProcess StartWith(int? port, params string[] steps)
    {
        var psi = new ProcessStartInfo("setsid", [Fixture.Path, .. steps]) { RedirectStandardOutput = true, UseShellExecute = false };
        if (port is { } p) psi.Environment["VIGIL_FIXTURE_PORT"] = p.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Started(psi);
    }

    /// <summary>Starts <c>setsid PROGRAM ARGS…</c>, any program; its standard error is kept for <see cref="Errors"/>.</summary>
    public static OutsideProcess Program(string program, params string[] args)
        => Started(new ProcessStartInfo("setsid", [program, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });

    private static OutsideProcess Started(ProcessStartInfo psi)
    {
        var p = Process.Start(psi)!;
        ProcessHost.Default.Reaper.Spare(p.Id);
        return new OutsideProcess(p);
    }

    /// <summary>What a <see cref="Program"/> wrote to standard error, once it has exited.</summary>
    public Task<string> Errors { get; }

    public int Pid => _p.Id;
    public Process Process => _p;

    /// <summary>Waits for the fixture's <c>MARKER NAME</c> line.</summary>
    public Task Marker(string name, TimeSpan? timeout = null) => Line($"MARKER {name} ", timeout);

    /// <summary>Waits for a line starting with <paramref name="prefix"/>; returns it.</summary>
    public async Task<string> Line(string prefix, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            lock (_lines)
                if (_lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) is { } found) return found;
            var left = until - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || _p.HasExited) throw new TimeoutException($"no line '{prefix}…' from pid {Pid}; lines: {string.Join(" | ", _lines)}");
            await _changed.WaitAsync(left);
        }
    }

    /// <summary>Waits for the process to exit (bounded); its exit code as .NET reports it (128 + signal when killed).</summary>
    public async Task<int> Exited(TimeSpan? timeout = null)
    {
        await _p.WaitForExitAsync().WaitAsync(timeout ?? TimeSpan.FromSeconds(30));
        return _p.ExitCode;
    }

    public void Dispose()
    {
        try { if (!_p.HasExited) { _p.Kill(); _p.WaitForExit(10_000); } }
        catch (InvalidOperationException) { }
        _p.Dispose();
    }
}
