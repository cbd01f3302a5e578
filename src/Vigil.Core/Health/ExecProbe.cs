using Vigil.Specs;

namespace Vigil.Health;

/// <summary><c>exec</c>: exit 0 is healthy; otherwise the exit status and the first lines of output are the detail.</summary>
internal sealed class ExecProbe(ExecCheck check) : IProbe
{
    public async ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
    {
        var r = await CommandRunner.RunAsync(target.Launcher, check.Command, target.WorkingDirectory, CommandRunner.ProbeEnvironment(target),
            target.Time, cancel).ConfigureAwait(false);
        string lines = r.FirstLines();
        string tail = lines.Length > 0 ? $": {lines}" : "";
        if (r.Succeeded) return ProbeResult.Ok("exec check passed" + tail);
        if (r.Exit is { } exit) return ProbeResult.Fail($"exec check {exit}{tail}");
        return ProbeResult.Fail(r.Error == "timed out"
            ? $"exec check timed out after {Durations.Format(target.Spec.CheckDeadline)} (killed){tail}"
            : $"exec check could not start: {r.Error}");
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
