using Vigil.Launching;
using Vigil.Specs;

namespace Vigil.Logs;

/// <summary>Whose log it is: the id and name its lines and events carry (a unit's).</summary>
public readonly record struct LogIdentity(int Id, string Name);

/// <summary>What a log tells its owner: trouble with its files, and every line while someone listens. Called from the
/// reactor thread (lines) and from the file writers' tasks (file news): implementations must return quickly.</summary>
public interface ILogObserver
{
    /// <summary>A write to <paramref name="path"/> failed (once per episode); lines are dropped until it works again.</summary>
    void FileFailed(string path, string why);

    /// <summary>Writing to <paramref name="path"/> works again; <paramref name="dropped"/> lines were lost meanwhile.</summary>
    void FileResumed(string path, long dropped);

    /// <summary>The file at <paramref name="path"/> (or its folder) was deleted or moved away and was opened again.</summary>
    void FileReopened(string path, string why);

    /// <summary>Whether <see cref="Line"/> is wanted now (asked per chunk and per line: must be cheap).</summary>
    bool WantsLines { get; }

    /// <summary>One line, while <see cref="WantsLines"/>: must not block (the reactor thread).</summary>
    void Line(OutputLine line);
}

/// <summary>
/// One unit's output: its log file(s), its in-memory ring and its custom sink. The owner opens it from its
/// <see cref="LogSpec"/> (<see cref="OutputLog.Open"/>), gives each run's pipes a fresh <see cref="BeginRun"/> capture,
/// and hears of file trouble through its <see cref="ILogObserver"/>.
/// </summary>
public interface IOutputLog : IAsyncDisposable
{
    LogIdentity Identity { get; }

    /// <summary>The last lines, for <c>vigil logs</c> and followers.</summary>
    LineRing Ring { get; }

    /// <summary>Lines that could not be written to the files (disk full, no permission, …).</summary>
    long DroppedLines { get; }

    /// <summary>At each start: opens the files now, so a path that cannot be used is reported when the unit starts.</summary>
    void Prepare();

    /// <summary>Closes and reopens the files (after an external logrotate moved them).</summary>
    void Reopen();

    /// <summary>A receiver for one run's pipes (its own line splitters), for <see cref="LaunchRequest.Receiver"/>.</summary>
    OutputCapture BeginRun();

    /// <summary>What went through the log so far (for metrics): plain counters the reactor thread bumps.</summary>
    OutputCounters Counters { get; }
}

/// <summary>Lines and bytes read from a unit's pipes, per stream, and when the last chunk came. Written only by the
/// reactor thread with plain increments (no cost per line beyond that), read from any thread.</summary>
public sealed class OutputCounters
{
    internal long StdoutLines, StderrLines, StdoutBytes, StderrBytes, LastAtTicks;

    /// <summary>Lines read from <paramref name="stream"/> (a line cut at maxLine counts once).</summary>
    public long Lines(StreamKind stream) => Volatile.Read(ref stream == StreamKind.Stdout ? ref StdoutLines : ref StderrLines);

    /// <summary>Bytes read from <paramref name="stream"/>, newlines included.</summary>
    public long Bytes(StreamKind stream) => Volatile.Read(ref stream == StreamKind.Stdout ? ref StdoutBytes : ref StderrBytes);

    /// <summary>When the last output was read (UTC); null before any.</summary>
    public DateTimeOffset? LastOutputAt => Volatile.Read(ref LastAtTicks) is var t && t != 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;
}

/// <summary>
/// Where one unit's lines go: its log file(s) (shared with other units when they name the same path), the
/// in-memory ring, a custom sink, and the observer's listeners. <see cref="Chunk"/> runs on the reactor thread for
/// every read of a pipe, so it formats into a reused buffer and hands whole lines to writers that never block.
/// </summary>
internal sealed class OutputLog : IOutputLog
{
    private readonly LogIdentity _id;
    private readonly ILogObserver _observer;
    private readonly TimeProvider _time;
    private readonly LogSpec _spec;
    private readonly LogFileWriter? _both, _out, _err;
    private readonly OutputSink? _sink;
    private readonly LogSpec _lineSpec; // the spec minus timestamps: the chunk's timestamp is formatted once
    private readonly int _nameBytes;
    private readonly bool _plain;    // no stream tag, no name prefix, no ANSI stripping: [timestamp ]line\n
    private readonly int _tsLength;  // bytes of the timestamp prefix (0 without timestamps)
    // The current chunk (one read() of one pipe): its formatted lines, appended to the file in one piece at the end.
    // Rented per chunk (no idle unit holds a buffer); a large one is handed to the writer as it is, not copied.
    private byte[] _batch = [];
    private int _batchLength, _batchLines;
    private LogFileWriter? _batchWriter;
    private readonly byte[] _timestamp = new byte[LogLineFormatter.TimestampLength];

    private OutputLog(LogIdentity id, LogSpec? spec, OutputSink? sink, LogFiles files, TimeProvider time, ILogObserver observer)
    {
        _id = id;
        _observer = observer;
        _time = time;
        _spec = spec ?? LogSpec.Default;
        _sink = sink;
        Ring = new LineRing(_spec.RingLines);
        _lineSpec = _spec with { Timestamps = false };
        _nameBytes = System.Text.Encoding.UTF8.GetByteCount(id.Name);
        _plain = !_spec.Stream && !_spec.Prefix && !_spec.StripAnsi;
        _tsLength = _spec.Timestamps ? LogLineFormatter.TimestampLength : 0;
        _both = Open(files, _spec.File);
        _out = Open(files, _spec.Out);
        _err = Open(files, _spec.Err);
    }

    /// <summary>Opens the log of <paramref name="id"/> as <paramref name="spec"/> says (null: no file, the default
    /// ring), its files through <paramref name="files"/>; <paramref name="sink"/>, if any, is disposed with it.</summary>
    public static IOutputLog Open(LogIdentity id, LogSpec? spec, OutputSink? sink, LogFiles files, TimeProvider time, ILogObserver observer)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(observer);
        return new OutputLog(id, spec, sink, files, time, observer);
    }

    public LogIdentity Identity => _id;

    public LineRing Ring { get; }

    public OutputCapture BeginRun() => new(this, _time);

    public OutputCounters Counters { get; } = new();

    /// <summary>The line length bound of the run's splitters.</summary>
    public int MaxLine => _spec.MaxLine;

    private LogFileWriter? Open(LogFiles files, string? path)
    {
        if (path is null) return null;
        var w = files.Open(path, _spec.MaxSize, _spec.Keep, _time);
        w.Fault += why => _observer.FileFailed(path, why);
        w.Resumed += dropped => _observer.FileResumed(path, dropped);
        w.Reopened += why => _observer.FileReopened(path, why);
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

    public bool ResumeWhenCaughtUp(StreamKind stream, IPausedReader reader) => WriterFor(stream)?.ResumeWhenCaughtUp(reader) ?? false;

    /// <summary>Lines that could not be written to this unit's files (disk full, no permission, …).</summary>
    public long DroppedLines => (_both?.DroppedLines ?? 0) + (_out?.DroppedLines ?? 0) + (_err?.DroppedLines ?? 0);

    /// <summary>
    /// One read() of one pipe (reactor thread): split into lines, each formatted into the chunk's batch (one append
    /// to the file per chunk), kept in the ring and given to sinks. With <paramref name="final"/>, the stream ended:
    /// what is left in the splitter is the last line.
    /// </summary>
    public void Chunk(DateTimeOffset time, int pid, StreamKind stream, ReadOnlySpan<byte> data, LineSplitter splitter, bool final)
    {
        BeginChunk(time, stream, data.Length);
        if (data.Length > 0)
        {
            if (stream == StreamKind.Stdout) Counters.StdoutBytes += data.Length;
            else Counters.StderrBytes += data.Length;
            Volatile.Write(ref Counters.LastAtTicks, time.UtcTicks);
        }
        var sink = new ChunkSink(this, time, pid, stream);
        bool ring = _spec.RingLines > 0;
        if (ring) Ring.Hold();
        try
        {
            sink.Ring = ring;
            if (final) splitter.Flush(ref sink);
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

    private struct ChunkSink(OutputLog log, DateTimeOffset time, int pid, StreamKind stream) : ILineSink
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

    private void Line(DateTimeOffset time, int pid, StreamKind stream, ReadOnlySpan<byte> line, bool continued, bool toRing)
    {
        if (!continued)
        {
            if (stream == StreamKind.Stdout) Counters.StdoutLines++;
            else Counters.StderrLines++;
        }
        if (_batchWriter is not null)
        {
            // The chunk's timestamp (formatted once), then the rest of the format: LogLineFormatter.MaxLength's bound.
            int max = _tsLength + 4 + _nameBytes + 2 + line.Length + LogLineFormatter.ContinuedMarker.Length + 1;
            if (_batchLength + max > _batch.Length) MoreRoom(Math.Max(max, _batch.Length));
            var dest = _batch.AsSpan(_batchLength);
            _timestamp.AsSpan(0, _tsLength).CopyTo(dest);
            if (_plain && !continued)
            {
                // The usual format: the line as it came and its newline (what Format does with every option off).
                line.CopyTo(dest[_tsLength..]);
                dest[_tsLength + line.Length] = (byte)'\n';
                _batchLength += _tsLength + line.Length + 1;
            }
            else _batchLength += _tsLength + LogLineFormatter.Format(dest[_tsLength..], time, _id.Name, stream, line, continued, _lineSpec);
            _batchLines++;
        }
        if (toRing) Ring.AddHeld(time, _id.Id, _id.Name, pid, stream, line, continued);
        bool listeners = _observer.WantsLines;
        if (_sink is null && !listeners) return;
        var ol = new OutputLine(time, _id.Id, _id.Name, pid, stream, line.ToArray(), continued);
        _sink?.Post(ol);
        if (listeners) _observer.Line(ol);
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

    public async ValueTask DisposeAsync()
    {
        if (_both is not null) await _both.DisposeAsync().ConfigureAwait(false);
        if (_out is not null) await _out.DisposeAsync().ConfigureAwait(false);
        if (_err is not null) await _err.DisposeAsync().ConfigureAwait(false);
        if (_sink is not null) await _sink.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>
/// One run's capture: receives the raw bytes of the child's pipes on the reactor thread, splits them into lines
/// (one splitter per stream, for this run only) and hands them to the log; asks the reader to pause while the log's
/// file is behind. <see cref="LastOutputAt"/> feeds output-stall probes.
/// </summary>
public sealed class OutputCapture : IOutputReceiver
{
    private readonly OutputLog _log;
    private readonly TimeProvider _time;
    private readonly LineSplitter _out, _err;
    private long _lastAt; // TimeProvider timestamp of the last chunk read; 0 = nothing yet

    internal OutputCapture(OutputLog log, TimeProvider time)
    {
        _log = log;
        _time = time;
        _out = new LineSplitter(log.MaxLine);
        _err = new LineSplitter(log.MaxLine);
    }

    /// <summary>When the last chunk was read (a <see cref="TimeProvider"/> timestamp), or null before any.</summary>
    public long? LastOutputAt() => Volatile.Read(ref _lastAt) is var t && t != 0 ? t : null;

    public void OnData(int pid, StreamKind stream, ReadOnlySpan<byte> data)
    {
        Volatile.Write(ref _lastAt, _time.GetTimestamp());
        var time = _time.GetUtcNow(); // when the chunk was read: one clock read per read(), not per line
        _log.Chunk(time, pid, stream, data, Splitter(stream), final: false);
    }

    public void OnEnd(int pid, StreamKind stream) => _log.Chunk(_time.GetUtcNow(), pid, stream, [], Splitter(stream), final: true);

    public bool Behind(StreamKind stream) => _log.Behind(stream);

    public bool ResumeWhenCaughtUp(StreamKind stream, IPausedReader reader) => _log.ResumeWhenCaughtUp(stream, reader);

    private LineSplitter Splitter(StreamKind stream) => stream == StreamKind.Stdout ? _out : _err;
}
