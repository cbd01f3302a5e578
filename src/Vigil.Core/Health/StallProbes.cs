using Vigil.Specs;

namespace Vigil.Health;

/// <summary>Shared judgement of the stall kinds: healthy while the last sign of life is younger than the timeout.</summary>
internal static class Stall
{
    /// <param name="window">How long the sign may be missing; the probe's timeout unless given.</param>
    public static ProbeResult Judge(ProbeTarget target, long? lastSign, string what, string never, TimeSpan? window = null)
    {
        var limit = window ?? target.Spec.Timeout;
        var since = target.Time.GetElapsedTime(lastSign ?? target.StartedAt);
        if (since < limit) return ProbeResult.Ok($"{what} {Durations.Format(Round(since))} ago");
        return ProbeResult.Fail(lastSign is null
            ? $"hung: {never} in {Durations.Format(Round(since))}"
            : $"hung: no {what} for {Durations.Format(Round(since))}");
    }

    private static TimeSpan Round(TimeSpan t) => TimeSpan.FromMilliseconds(Math.Round(t.TotalMilliseconds / 100) * 100);
}

/// <summary><c>output-stall</c>: a new stdout or stderr line within the timeout (reads the log capture's clock).</summary>
internal sealed class OutputStallProbe : IProbe
{
    public ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel) =>
        ValueTask.FromResult(Stall.Judge(target, target.LastOutputAt(), "output", "no output"));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary><c>heartbeat-file</c>: the file's modification time must advance within the timeout. A file that does not
/// exist yet counts from the start of the run.</summary>
internal sealed class HeartbeatFileProbe(HeartbeatFileCheck check) : IProbe
{
    private DateTime? _lastMtime;
    private long? _lastAdvance;

    public ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
    {
        var path = Path.IsPathRooted(check.Path) ? check.Path : Path.Combine(target.WorkingDirectory, check.Path);
        DateTime? mtime = null;
        try
        {
            var info = new FileInfo(path);
            if (info.Exists) mtime = info.LastWriteTimeUtc;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        // The clock that matters is ours (TimeProvider) when the change was seen, not the file's own timestamp:
        // it keeps the judgement monotonic and testable, and costs at most one period of precision.
        if (mtime is { } m && m != _lastMtime)
        {
            if (_lastMtime is not null || m.ToUniversalTime() >= target.Time.GetUtcNow().UtcDateTime - target.Time.GetElapsedTime(target.StartedAt))
                _lastAdvance = target.Time.GetTimestamp();
            _lastMtime = m;
        }
        return ValueTask.FromResult(Stall.Judge(target, _lastAdvance, $"heartbeat ({check.Path})", $"no heartbeat ({check.Path})"));
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
