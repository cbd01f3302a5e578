using Vigil.Launching;
using Vigil.Logs;
using Vigil.Specs;

namespace Vigil.Supervision;

/// <summary>
/// Where one unit's lines go: its log file(s) (shared with other units when they name the same path), the
/// in-memory ring, a custom sink, and the supervisor's output listeners. <see cref="Line"/> runs on the reactor
/// thread for every line, so it formats into a reused buffer and hands whole lines to writers that never block.
/// </summary>
internal sealed class UnitLog : IAsyncDisposable
{
    private readonly Unit _unit;
    private readonly LogSpec _spec;
    private readonly LogFileWriter? _both, _out, _err;
    private readonly OutputSink? _sink;
    [ThreadStatic] private static byte[]? t_buffer;

    public UnitLog(Unit unit, LogSpec? spec, OutputSink? sink)
    {
        _unit = unit;
        _spec = spec ?? LogSpec.Default;
        _sink = sink;
        Ring = new LineRing(_spec.RingLines);
        _both = Open(_spec.File);
        _out = Open(_spec.Out);
        _err = Open(_spec.Err);
    }

    public LineRing Ring { get; }
    public int MaxLine => _spec.MaxLine;

    private LogFileWriter? Open(string? path)
    {
        if (path is null) return null;
        var w = LogFiles.Open(path, _spec.MaxSize, _spec.Keep);
        w.Fault += why => _unit.PublishLogEvent(new LogFailed(_unit.Now, _unit.Id, _unit.Name, _unit.State, path, why));
        w.Resumed += dropped => _unit.PublishLogEvent(new LogResumed(_unit.Now, _unit.Id, _unit.Name, _unit.State, path, dropped));
        return w;
    }

    /// <summary>Lines that could not be written to this unit's files (disk full, no permission, …).</summary>
    public long DroppedLines => (_both?.DroppedLines ?? 0) + (_out?.DroppedLines ?? 0) + (_err?.DroppedLines ?? 0);

    public void Line(DateTimeOffset time, int pid, StreamKind stream, ReadOnlySpan<byte> line, bool continued)
    {
        var writer = stream == StreamKind.Stdout ? _out ?? _both : _err ?? _both;
        if (writer is not null)
        {
            int max = LogLineFormatter.MaxLength(_unit.Name, line.Length);
            var buf = t_buffer is { } b && b.Length >= max ? b : (t_buffer = new byte[Math.Max(max, 64 * 1024)]);
            int n = LogLineFormatter.Format(buf, time, _unit.Name, stream, line, continued, _spec);
            writer.Append(buf.AsSpan(0, n));
        }
        bool listeners = _unit.HasOutputListeners;
        if (_spec.RingLines == 0 && _sink is null && !listeners) return;
        var ol = new OutputLine(time, _unit.Id, _unit.Name, pid, stream, line.ToArray(), continued);
        if (_spec.RingLines > 0) Ring.Add(ol);
        _sink?.Post(ol);
        if (listeners) _unit.PublishOutput(ol);
    }

    public void Reopen()
    {
        _both?.Reopen();
        _out?.Reopen();
        _err?.Reopen();
    }

    public async Task FlushAsync()
    {
        if (_both is not null) await _both.FlushAsync().ConfigureAwait(false);
        if (_out is not null) await _out.FlushAsync().ConfigureAwait(false);
        if (_err is not null) await _err.FlushAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_both is not null) await _both.DisposeAsync().ConfigureAwait(false);
        if (_out is not null) await _out.DisposeAsync().ConfigureAwait(false);
        if (_err is not null) await _err.DisposeAsync().ConfigureAwait(false);
        if (_sink is not null) await _sink.DisposeAsync().ConfigureAwait(false);
    }
}
