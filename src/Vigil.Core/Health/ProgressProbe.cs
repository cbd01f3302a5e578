using System.Globalization;
using System.Net.Sockets;
using Vigil.Specs;

namespace Vigil.Health;

/// <summary>
/// <c>progress</c>: a number read from a source (a command, a file's size or lines, a JSON field, a SQL query, a
/// delegate) must grow within the timeout. The judgement is the stall kinds' (<see cref="Stall"/>): healthy while the
/// last increase is younger than the window, counting from the start of the run until the first increase. The clock
/// is ours when a check sees the increase, so the judgement is monotonic and costs at most a period of precision.
/// A drop (a counter reset, a rotated file) is a new baseline, not progress.
/// A failed read is a failed check with the reason; only before the first good reading is it judged like a number
/// that has not grown yet (the process may still be creating its file or opening its port), so a source that never
/// answers fails once the window is over.
/// </summary>
internal sealed class ProgressProbe(ProgressCheck check) : IProbe
{
    private readonly ProgressReader _reader = ProgressReader.For(check.Source);
    private double? _value;
    private long? _lastIncrease, _lastCheck;

    public async ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
    {
        var source = _reader.Describe;
        double v;
        try
        {
            v = await _reader.ReadAsync(target, cancel).ConfigureAwait(false);
            if (!double.IsFinite(v)) throw new ProgressReadException($"not a finite number: {v}");
        }
        catch (Exception e)
        {
            var why = e is OperationCanceledException && cancel.IsCancellationRequested
                ? $"no reading within {Specs.Durations.Format(target.Spec.CheckDeadline)}"
                : Reason(e);
            if (_value is null)
                return Stall.Judge(target, null,
                    since => $"no progress reading yet after {since} ({source}): {why}",
                    since => $"hung: no progress reading in {since} ({source}): {why}");
            return ProbeResult.Fail($"progress read failed ({source}): {why}");
        }

        long now = target.Time.GetTimestamp();
        // A file source's increase is dated by the file's own modification time, bounded by our clock.
        if (_value is { } last && v > last)
            _lastIncrease = _reader.LastWriteUtc is { } written ? Stall.WhenWritten(target, written, _lastCheck, now) : now;
        _value = v;
        _lastCheck = now;
        var value = v.ToString(CultureInfo.InvariantCulture);
        var r = Stall.Judge(target, _lastIncrease,
            since => _lastIncrease is null ? $"progress at {value}, no increase yet in {since} ({source})" : $"progress at {value}, up {since} ago ({source})",
            since => $"hung: progress stuck at {value} for {since} ({source})");
        return r with { Gauges = new Dictionary<string, double> { ["progress"] = v } };
    }

    /// <summary>The exception's message, and the innermost cause's when it says more (Npgsql's "Failed to connect
    /// to 127.0.0.1:5432" wraps "Connection refused").</summary>
    private static string Reason(Exception e)
    {
        var inner = e;
        while (inner.InnerException is not null) inner = inner.InnerException;
        var text = e.Message.TrimEnd('.');
        if (inner != e && !text.Contains(inner.Message, StringComparison.Ordinal))
            text += ": " + (inner is SocketException se && se.SocketErrorCode == SocketError.ConnectionRefused ? "connection refused" : inner.Message.TrimEnd('.'));
        return text;
    }

    public ValueTask DisposeAsync() => _reader.DisposeAsync();
}
