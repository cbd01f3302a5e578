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
    private readonly LogSpec _lineSpec; // the spec minus timestamps: the chunk's timestamp is formatted once
    private readonly int _nameBytes;
    private readonly bool _plain;    // no stream tag, no name prefix, no ANSI stripping: FastChunk can format
    private readonly int _tsLength;  // bytes of the timestamp prefix (0 without timestamps)
    // The current chunk (one read() of one pipe): its formatted lines, appended to the file in one piece at the end.
    // Rented per chunk (no idle unit holds a buffer); a large one is handed to the writer as it is, not copied.
    private byte[] _batch = [];
    private int _batchLength, _batchLines;
    private LogFileWriter? _batchWriter;
    private readonly byte[] _timestamp = new byte[LogLineFormatter.TimestampLength];
    private (int Start, int Length)[] _lastLines = []; // FastChunk's ring lines (the ring's capacity, from the first flood)

    public UnitLog(Unit unit, LogSpec? spec, OutputSink? sink)
    {
        _unit = unit;
        _spec = spec ?? LogSpec.Default;
        _sink = sink;
        Ring = new LineRing(_spec.RingLines);
        _lineSpec = _spec with { Timestamps = false };
        _nameBytes = System.Text.Encoding.UTF8.GetByteCount(unit.Name);
        _plain = !_spec.Stream && !_spec.Prefix && !_spec.StripAnsi;
        _tsLength = _spec.Timestamps ? LogLineFormatter.TimestampLength : 0;
        _both = Open(_spec.File);
        _out = Open(_spec.Out);
        _err = Open(_spec.Err);
    }

    public LineRing Ring { get; }

    public int MaxLine => _spec.MaxLine;

    private LogFileWriter? Open(string? path)
    {
        if (path is null) return null;
        var w = LogFiles.Open(path, _spec.MaxSize, _spec.Keep, _unit.Time, _unit.LogsLog);
        w.Fault += why => _unit.PublishLogEvent(new LogFailed(_unit.Now, _unit.Id, _unit.Name, _unit.State, path, why));
        w.Resumed += dropped => _unit.PublishLogEvent(new LogResumed(_unit.Now, _unit.Id, _unit.Name, _unit.State, path, dropped));
        w.Reopened += why => _unit.PublishLogEvent(new LogReopened(_unit.Now, _unit.Id, _unit.Name, _unit.State, path, why));
        return w;
    }

    /// <summary>At each start: opens the files now (creating missing folders), so a refused or uncreatable path is a
    /// <c>log-failed</c> event when the unit starts rather than lines dropped later.</summary>
    public void Prepare()
    {
        _both?.Prepare();
        _out?.Prepare();
        _err?.Prepare();
    }

    private LogFileWriter? WriterFor(StreamKind stream) => stream == StreamKind.Stdout ? _out ?? _both : _err ?? _both;

    /// <summary>The file this stream goes to is behind a flood: the pipe reader should pause (see <see cref="LogFileWriter.Behind"/>).</summary>
    public bool Behind(StreamKind stream) => WriterFor(stream)?.Behind ?? false;

    public bool ResumeWhenCaughtUp(StreamKind stream, Action resume) => WriterFor(stream)?.ResumeWhenCaughtUp(resume) ?? false;

    /// <summary>Lines that could not be written to this unit's files (disk full, no permission, …).</summary>
    public long DroppedLines => (_both?.DroppedLines ?? 0) + (_out?.DroppedLines ?? 0) + (_err?.DroppedLines ?? 0);

    /// <summary>
    /// One read() of one pipe (reactor thread): split into lines, each formatted into the chunk's batch (one append
    /// to the file per chunk), kept in the ring and given to sinks. With <paramref name="final"/>, the stream ended:
    /// what is left in the splitter is the last line.
    /// </summary>
    // A flood lasts seconds at most, too short for tiered compilation to promote this path: optimise at once (matters
    // only where a JIT runs: tests and `dotnet run`; the shipped build is compiled ahead of time).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public void Chunk(DateTimeOffset time, int pid, StreamKind stream, ReadOnlySpan<byte> data, LineSplitter splitter, bool final)
    {
        BeginChunk(time, stream, data.Length);
        var sink = new ChunkSink(this, time, pid, stream);
        bool ring = _spec.RingLines > 0;
        if (ring) Ring.Hold();
        try
        {
            sink.Ring = ring;
            if (final) splitter.Flush(ref sink);
            else if (_plain && _batchWriter is not null && _sink is null && !_unit.HasOutputListeners && !(ring && Ring.HasFollowersHeld) && FastLines.Supported)
                FastChunk(data, splitter, ref sink, ring);
            else
            {
                // Only the ring's last Capacity lines can outlive this chunk; unless someone follows, skip the others.
                // Each '\n' ends at least one emitted line, so skipping (newlines - capacity) never skips a survivor.
                if (ring && !Ring.HasFollowersHeld) sink.RingSkip = data.Count((byte)'\n') - Ring.Capacity;
                splitter.Feed(data, ref sink);
            }
        }
        finally
        {
            if (ring) Ring.Release();
        }
        EndChunk();
    }

    /// <summary>
    /// The usual case (<c>[timestamp ]line</c> to a file, nobody following): whole lines are split and formatted in one
    /// pass by <see cref="FastLines"/>, and only the ring's last lines are copied into it. A partial line left from
    /// the last chunk, a partial last line and an over-long line (with what follows it) go through the splitter.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void FastChunk(ReadOnlySpan<byte> data, LineSplitter splitter, ref ChunkSink sink, bool ring)
    {
        if (splitter.HasPending)
        {
            int nl = data.IndexOf((byte)'\n');
            if (nl < 0)
            {
                splitter.Feed(data, ref sink);
                return;
            }
            splitter.Feed(data[..(nl + 1)], ref sink); // completes the pending line
            data = data[(nl + 1)..];
        }
        var ts = _timestamp.AsSpan(0, _tsLength);
        int done = 0, lines = 0;
        while (true)
        {
            int used = FastLines.Format(data[done..], ts, _batch.AsSpan(_batchLength), splitter.MaxLine, out int written, out int n, out bool full);
            _batchLength += written;
            _batchLines += n;
            lines += n;
            done += used;
            if (!full) break;
            // Room for the rest of the data as formatted (short lines may need more: then this happens again), and
            // at least for the next line, which is no longer than the rest or the bound.
            int rest = data.Length - done;
            MoreRoom(Math.Max(Math.Min(rest, splitter.MaxLine) + _tsLength + 1 + FastLines.Slack, rest + rest / 2 + 256));
        }
        if (ring && lines > 0)
        {
            int k = Math.Min(lines, Ring.Capacity);
            if (_lastLines.Length < k) _lastLines = new (int, int)[Ring.Capacity];
            int found = FastLines.LastLines(data[..done], k, _lastLines);
            Ring.AddBlockHeld(sink.Time, _unit.Id, _unit.Name, sink.Pid, sink.Stream, data, _lastLines.AsSpan(0, found));
        }
        if (done < data.Length) splitter.Feed(data[done..], ref sink); // a partial last line, or a long line onwards
    }

    private struct ChunkSink(UnitLog log, DateTimeOffset time, int pid, StreamKind stream) : ILineSink
    {
        public int RingSkip;
        public bool Ring;
        public readonly DateTimeOffset Time => time;
        public readonly int Pid => pid;
        public readonly StreamKind Stream => stream;

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        public void Line(ReadOnlySpan<byte> line, bool continued) => log.Line(time, pid, stream, line, continued, Ring && RingSkip-- <= 0);
    }

    /// <summary>Starts a chunk of lines read at <paramref name="time"/> from one stream (reactor thread).</summary>
    private void BeginChunk(DateTimeOffset time, StreamKind stream, int dataLength)
    {
        _batchWriter = WriterFor(stream);
        _batchLength = _batchLines = 0;
        if (_batchWriter is null) return;
        if (_spec.Timestamps) LogLineFormatter.WriteTimestamp(_timestamp, time);
        // Room for the data plus a prefix per line of 60 bytes or more; Line() gets more when lines are shorter.
        _batch = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(4096, dataLength + dataLength / 2 + 256));
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void Line(DateTimeOffset time, int pid, StreamKind stream, ReadOnlySpan<byte> line, bool continued, bool toRing)
    {
        if (_batchWriter is not null)
        {
            // The chunk's timestamp (formatted once), then the rest of the format: LogLineFormatter.MaxLength's bound.
            int max = _tsLength + 4 + _nameBytes + 2 + line.Length + LogLineFormatter.ContinuedMarker.Length + 1;
            if (_batchLength + max > _batch.Length) MoreRoom(Math.Max(max, _batch.Length));
            var dest = _batch.AsSpan(_batchLength);
            _timestamp.AsSpan(0, _tsLength).CopyTo(dest);
            _batchLength += _tsLength + LogLineFormatter.Format(dest[_tsLength..], time, _unit.Name, stream, line, continued, _lineSpec);
            _batchLines++;
        }
        if (toRing) Ring.AddHeld(time, _unit.Id, _unit.Name, pid, stream, line, continued);
        bool listeners = _unit.HasOutputListeners;
        if (_sink is null && !listeners) return;
        var ol = new OutputLine(time, _unit.Id, _unit.Name, pid, stream, line.ToArray(), continued);
        _sink?.Post(ol);
        if (listeners) _unit.PublishOutput(ol);
    }

    /// <summary>The batch is full: what it holds goes to the writer, and a batch of at least <paramref name="size"/> bytes follows.</summary>
    private void MoreRoom(int size)
    {
        if (_batchLength > 0) FlushChunk();
        else System.Buffers.ArrayPool<byte>.Shared.Return(_batch);
        _batch = System.Buffers.ArrayPool<byte>.Shared.Rent(size);
    }

    /// <summary>Ends the chunk: its lines go to the file in one piece.</summary>
    private void EndChunk()
    {
        if (_batchWriter is null) return;
        if (_batchLength > 0) FlushChunk();
        else System.Buffers.ArrayPool<byte>.Shared.Return(_batch);
        _batch = [];
    }

    // Below this a batch is copied into the writer's chunk (small writes of many units pack together); above it the
    // rented array itself goes to the writer (a flood is copied once, by the kernel into the page cache).
    private const int HandOverBytes = 16 * 1024;

    /// <summary>Hands the batch to the writer; the array is gone afterwards (the writer's, or back in the pool).</summary>
    private void FlushChunk()
    {
        if (_batchLength >= HandOverBytes) _batchWriter!.AppendOwned(_batch, _batchLength, _batchLines);
        else
        {
            _batchWriter!.AppendLines(_batch.AsSpan(0, _batchLength), _batchLines);
            System.Buffers.ArrayPool<byte>.Shared.Return(_batch);
        }
        _batch = [];
        _batchLength = _batchLines = 0;
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
