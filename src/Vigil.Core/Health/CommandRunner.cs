using System.Text;
using Vigil.Launching;

namespace Vigil.Health;

/// <summary>How a short command (a probe, a probe's action) ended.</summary>
/// <param name="Exit">Its exit status; null when it could not be started or was killed at the deadline.</param>
/// <param name="Output">The first bytes of stdout and stderr together (at most 4 KiB), as text.</param>
/// <param name="Error">Why there is no exit status: the spawn failure or "timed out after 2s".</param>
public sealed record CommandOutcome(ExitStatus? Exit, string Output, string? Error)
{
    public bool Succeeded => Exit is { Success: true };

    /// <summary>The first <paramref name="lines"/> non-empty lines of the output, joined with " | ", for an event.</summary>
    public string FirstLines(int lines = 3) =>
        string.Join(" | ", Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(lines));
}

/// <summary>
/// Runs a short command in its own session and process group, collects the start of its output and, when the caller
/// cancels (the probe's deadline, the probe runner's stop, Vigil's shutdown), kills the whole group and every
/// descendant of the command (<see cref="ProcessTree"/> also finds those that left the group with setsid), so a
/// probe never leaks processes and a hung check never holds Vigil up. It returns only once the kill is done, so a
/// caller that awaits it knows nothing is left.
/// </summary>
public static class CommandRunner
{
    private const int MaxOutput = 4096;

    /// <summary>What a probe's command finds in its environment besides Vigil's own: the unit and its main PID.</summary>
    public static Dictionary<string, string?> ProbeEnvironment(ProbeTarget target) => new()
    {
        ["VIGIL_UNIT"] = target.UnitName,
        ["VIGIL_PID"] = target.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <param name="input">What the command reads on stdin (an event hook's JSON); null: /dev/null.</param>
    public static async Task<CommandOutcome> RunAsync(ILauncher launcher, IReadOnlyList<string> argv, string cwd,
        IReadOnlyDictionary<string, string?>? env, TimeProvider time, CancellationToken cancel, ReadOnlyMemory<byte>? input = null)
    {
        var output = new Collector();
        var environment = Launching.CommandResolver.Environment(new Specs.ProcessSpec(), env);
        var spawned = launcher.Spawn(new LaunchRequest(argv, cwd, environment) { Receiver = output, Input = input });
        if (spawned.Failure is { } f) return new CommandOutcome(null, "", f.Message);
        using var child = spawned.Child!;
        try
        {
            var status = await child.Exited.WaitAsync(cancel).ConfigureAwait(false);
            // The output may trail the exit by a read or two; a grandchild holding the pipe must not hold us up.
            try { await output.Ended.WaitAsync(TimeSpan.FromMilliseconds(200), time, cancel).ConfigureAwait(false); }
            catch (TimeoutException) { }
            // Anything it left in its group goes too. A clean command leaves nothing, and one kill(-pgid, 0) says so:
            // scanning /proc for the tree would read every process's stat file on each check (measured: ~7 ms and
            // ~110 opens per check with 700 processes on the machine, enough to make 100 exec probes time out).
            if (launcher is not OsLauncher || child.Session <= 0 || Native.kill(-child.Session, 0) == 0)
                await KillGroupAsync(launcher, child, time).ConfigureAwait(false);
            return new CommandOutcome(status, output.Text, null);
        }
        catch (OperationCanceledException)
        {
            await KillGroupAsync(launcher, child, time).ConfigureAwait(false);
            return new CommandOutcome(null, output.Text, "timed out");
        }
    }

    private static Task KillGroupAsync(ILauncher launcher, IProcessHandle child, TimeProvider time) =>
        launcher.TerminateAsync(new TreeStopRequest(child.HasExited ? null : child, child.Session, [], Signals.SIGKILL,
            TimeSpan.Zero, TimeSpan.FromSeconds(2)), time);

    /// <summary>Keeps the first 4 KiB of both streams (reactor thread writes, the probe reads after the exit).</summary>
    private sealed class Collector : IOutputReceiver
    {
        private readonly byte[] _buf = new byte[MaxOutput];
        private int _len, _open = 2;
        private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Ended => _ended.Task;

        public string Text { get { lock (_buf) return Encoding.UTF8.GetString(_buf, 0, _len); } }

        public void OnData(int pid, StreamKind stream, ReadOnlySpan<byte> data)
        {
            lock (_buf)
            {
                int n = Math.Min(data.Length, _buf.Length - _len);
                data[..n].CopyTo(_buf.AsSpan(_len));
                _len += n;
            }
        }

        public void OnEnd(int pid, StreamKind stream)
        {
            if (Interlocked.Decrement(ref _open) == 0) _ended.TrySetResult();
        }
    }
}
