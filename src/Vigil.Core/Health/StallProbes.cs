using Vigil.Specs;

namespace Vigil.Health;

/// <summary>Shared judgement of the stall kinds: healthy while the last sign of life is younger than the timeout.</summary>
internal static class Stall
{
    /// <param name="window">How long the sign may be missing; the probe's timeout unless given.</param>
    public static ProbeResult Judge(ProbeTarget target, long? lastSign, string what, string never, TimeSpan? window = null) =>
        Judge(target, lastSign,
            since => $"{what} {since} ago",
            since => lastSign is null ? $"hung: {never} in {since}" : $"hung: no {what} for {since}", window);

    /// <summary>The same judgement with the caller's words; each function gets the time since the last sign (or
    /// since the run started, before the first one), formatted.</summary>
    public static ProbeResult Judge(ProbeTarget target, long? lastSign, Func<string, string> ok, Func<string, string> hung, TimeSpan? window = null)
    {
        var since = target.Time.GetElapsedTime(lastSign ?? target.StartedAt);
        var text = Durations.Format(Round(since));
        return since < (window ?? target.Spec.Timeout) ? ProbeResult.Ok(ok(text)) : ProbeResult.Fail(hung(text));
    }

    /// <summary>
    /// The monotonic timestamp at which a file last changed, from its modification time: exact, so a stall is seen
    /// within timeout + one period rather than + two (when dated by the check that noticed it). Bounded by what our
    /// own clock knows: after the previous look (<paramref name="lastCheck"/>, or the run's start) and not in the
    /// future, so a wall-clock jump costs at most one period of precision.
    /// </summary>
    public static long WhenWritten(ProbeTarget target, DateTime mtimeUtc, long? lastCheck, long now)
    {
        var time = target.Time;
        var age = time.GetUtcNow().UtcDateTime - mtimeUtc;
        var bound = time.GetElapsedTime(lastCheck ?? target.StartedAt, now);
        if (age < TimeSpan.Zero) age = TimeSpan.Zero;
        if (age > bound) age = bound;
        return now - (long)(age.TotalSeconds * time.TimestampFrequency);
    }

    private static TimeSpan Round(TimeSpan t) => TimeSpan.FromMilliseconds(Math.Round(t.TotalMilliseconds / 100) * 100);
}

/// <summary><c>output-stall</c>: a new stdout or stderr line within the timeout (reads the log capture's clock).</summary>
internal sealed class OutputStallProbe : IProbe, IImmediateProbe
{
    public ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel) =>
        ValueTask.FromResult(Stall.Judge(target, target.LastOutputAt(), "output", "no output"));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary><c>heartbeat-file</c>: the file's modification time must advance within the timeout. A file that does not
/// exist yet counts from the start of the run.</summary>
internal sealed class HeartbeatFileProbe(HeartbeatFileCheck check) : IProbe, IImmediateProbe
{
    private DateTime? _lastMtime;
    private long? _lastAdvance, _lastCheck;
    private string? _path; // one probe per run: the run's working folder does not change
    private readonly string _ok = $"heartbeat ({check.Path})", _stale = $"no heartbeat ({check.Path})";

    public ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
    {
        var path = _path ??= Path.GetFullPath(check.Path, target.WorkingDirectory);
        DateTime? mtime = null;
        try
        {
            var info = new FileInfo(path);
            if (info.Exists) mtime = info.LastWriteTimeUtc;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        var time = target.Time;
        long now = time.GetTimestamp();
        var wallNow = time.GetUtcNow().UtcDateTime;
        if (mtime is { } m && m != _lastMtime)
        {
            // A file older than the run is a previous run's heartbeat: it does not count.
            if (_lastMtime is not null || m >= wallNow - time.GetElapsedTime(target.StartedAt))
            {
                _lastAdvance = Stall.WhenWritten(target, m, _lastCheck, now);
            }
            _lastMtime = m;
        }
        _lastCheck = now;
        return ValueTask.FromResult(Stall.Judge(target, _lastAdvance, _ok, _stale));
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
