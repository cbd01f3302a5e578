using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;
using Vigil.Launching;

namespace Vigil.Logs;

/// <summary>
/// The open log-file writers of one supervisor, one per full path, reference-counted: units naming the same file share
/// its writer. An instance per supervisor, so two supervisors in one process share nothing (each would then append
/// to a file the other also writes: whole lines still, but not one writer's order).
/// </summary>
public sealed class LogFiles
{
    private readonly object _gate = new();
    private readonly Dictionary<string, LogFileWriter> _open = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task> _closing = new(StringComparer.Ordinal);

    /// <param name="log">Where the writers report a failing callback (the supervisor's Vigil.Logs logger); nowhere when null.</param>
    public LogFiles(ILogger? log = null) => Log = log ?? NullLogger.Instance;

    internal ILogger Log { get; }

    /// <summary>The writer for <paramref name="path"/>: the one already open for that full path (its count goes up; its
    /// rotation settings stay those of the first opener) or a new one. Dispose it exactly once per Open; the last
    /// dispose writes what is pending and closes the file.</summary>
    public LogFileWriter Open(string path, long? maxSize, int keep) => Open(path, maxSize, keep, TimeProvider.System);

    /// <inheritdoc cref="Open(string, long?, int)"/>
    public LogFileWriter Open(string path, long? maxSize, int keep, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (maxSize is <= 0) throw new ArgumentOutOfRangeException(nameof(maxSize), "must be positive or null");
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        ArgumentNullException.ThrowIfNull(time);
        var full = Path.GetFullPath(path);
        lock (_gate)
        {
            if (_open.TryGetValue(full, out var w))
            {
                w.RefCount++;
                return w;
            }
            // A writer for the same path may still be closing: the new one starts writing only after it has (offsets).
            _closing.TryGetValue(full, out var prior);
            w = new LogFileWriter(this, full, maxSize, keep, time, prior ?? Task.CompletedTask);
            _open[full] = w;
            return w;
        }
    }

    /// <summary>Called by a writer's dispose; true when it was the last reference (the caller then closes it).</summary>
    internal bool Release(LogFileWriter w)
    {
        lock (_gate)
        {
            if (w.RefCount <= 0) throw new ObjectDisposedException(nameof(LogFileWriter), $"{w.Path}: disposed more often than opened");
            if (--w.RefCount > 0) return false;
            _open.Remove(w.Path);
            return true;
        }
    }

    internal void Closing(LogFileWriter w, Task closed)
    {
        lock (_gate) _closing[w.Path] = closed;
        closed.ContinueWith(_ => { lock (_gate) if (_closing.TryGetValue(w.Path, out var t) && t == closed) _closing.Remove(w.Path); },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }
}

/// <summary>
/// Appends whole lines to one log file without ever blocking the caller, rotating it by size.
/// </summary>
/// <remarks>
/// Overview. <see cref="Append"/> runs on the output reactor thread, which must never wait for a disk: it copies the
/// line into an in-memory batch under a short lock and wakes a background task. That task swaps the batch for an
/// empty one and writes it with one write() (pwrite at the end offset it tracks), so lines from the units sharing
/// this writer are never interleaved and never split. Memory is bounded: above <see cref="MaxPendingBytes"/>
/// waiting, new lines are dropped and counted.
///
/// Rotation is by renaming (path.(keep-1) → path.keep … path → path.1, then a new path), never copy-and-truncate.
/// Before a write that would take the file past maxSize, the batch is cut after the last whole line that fits, the
/// file is rotated and the rest goes to the new file; a single line longer than maxSize goes alone into a fresh
/// file. So a file exceeds maxSize only by holding one such line, and no line is split or lost across rotation.
///
/// Faults (folder missing, not writable, disk full): the lines of the failed write are dropped and counted in
/// <see cref="DroppedLines"/>, <see cref="Fault"/> is raised once per episode, and until the next retry (at most
/// once per <see cref="RetryInterval"/>, on the injected clock) further batches are dropped without touching the
/// disk, so the reactor keeps draining pipes at full speed. The first later write that succeeds raises
/// <see cref="Resumed"/> with the number dropped in the episode. A write that fails half-way (ENOSPC after some
/// bytes) is cut back to the last whole line so the file never holds a torn line. Events are raised on the
/// writer task, outside any lock.
///
/// The path is opened by <see cref="LogPath"/> (missing folders created, symlinks and folders others could write to
/// refused: a refusal is a fault like any other). At most once per <see cref="CheckInterval"/> of writing, and before
/// every rotation, the writer compares the open file with the one at its path (device and inode): when the file or
/// its folder was deleted or renamed away, it opens the path again (recreating both) and raises <see cref="Reopened"/>
/// with the reason, instead of appending to a file nobody can see. Lines written between the last check and the
/// detection went to the old file: if it was renamed they are there, with the lines before them; if it was deleted,
/// it is still open, so they are read back from it (from the end the last check saw) and copied into the new file
/// first. So nothing written after the deletion is lost, and nothing is written twice. The check is a statx of the
/// open file and one of the path, once a second: the per-line path is untouched.
/// </remarks>
public sealed class LogFileWriter : IAsyncDisposable, IDisposable
{
    public const long MaxPendingBytes = 64L * 1024 * 1024;
    /// <summary>Pending bytes above which <see cref="Behind"/> asks the pipe reader to pause.</summary>
    /// <remarks>Small on purpose: the writer then copies lines the reactor formatted moments before, still in cache.
    /// With 16 MiB, a writer that fell behind once copied ever larger, colder batches and stayed behind: about one
    /// 200 MiB flood in ten took twice the CPU (3 of 28 runs; 0 of 42 with 1–2 MiB). With the child's 1 MiB pipe in
    /// front, 2 MiB still absorbs a few milliseconds of disk jitter at full speed.</remarks>
    public const long HighWater = 2L * 1024 * 1024;
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);
    /// <summary>How often, at most, the open file is compared with the one at the path (and at every rotation).</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);
    private const int InitialBuffer = 64 * 1024;

    private readonly object _gate = new();
    private readonly long? _maxSize;
    private readonly int _keep;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Task _loop;

    // Guarded by _gate. The batch is a list of chunks (a line never spans two), so a burst neither copies nor
    // zeroes a growing array under the lock; the writer hands the whole list to one pwritev().
    private List<ReadOnlyMemory<byte>> _full = [], _spareList = [];
    private List<byte[]> _rented = [], _spareRented = []; // arrays of AppendOwned in _full, back to the pool once written
    private readonly Stack<byte[]> _free = new();
    private byte[] _cur = []; // allocated at the first line: an idle unit's writer holds no buffer
    private int _curLength, _pendingLines;
    private long _pendingBytes;
    private long _appended;          // lines accepted into batches so far
    private bool _wakeSignalled, _closing, _reopenRequested, _prepareRequested;
    private readonly List<(long Target, TaskCompletionSource Done)> _flushWaiters = [];
    private List<IPausedReader>? _caughtUp;  // paused pipe readers to resume when the pending batch is taken

    // Writer task only (read elsewhere through Interlocked).
    private SafeFileHandle? _file;
    private long _size;
    private long _done;              // lines written or dropped by the writer
    private long _written, _dropped;
    private bool _faulted;
    private long _faultDroppedAtStart, _retryAt;
    private bool _readable;          // _file was opened for reading too (a deleted file's tail can be copied out)
    private long _verifiedEnd;       // the end of _file when it was last seen to be the file at Path
    private long _nextCheck;         // timestamp of the next comparison of _file with Path
    private (SafeFileHandle File, long From, long To)? _orphan; // a deleted file's unseen tail, copied at the next open
    private string? _reopenedWhy;    // why the file was reopened, raised once the new one is open

    internal int RefCount = 1;

    private readonly LogFiles _registry;

    internal LogFileWriter(LogFiles registry, string fullPath, long? maxSize, int keep, TimeProvider time, Task prior)
    {
        _registry = registry;
        Path = fullPath;
        _maxSize = maxSize;
        _keep = keep;
        _time = time;
        _loop = Task.Run(async () => { await prior.ConfigureAwait(false); await RunAsync().ConfigureAwait(false); });
    }

    public string Path { get; }

    /// <summary>Raised once per failure episode with a message naming the path and the OS error.</summary>
    public event Action<string>? Fault;

    /// <summary>Raised when a write succeeds after a fault, with the number of lines dropped during the episode.</summary>
    public event Action<long>? Resumed;

    /// <summary>Raised when the file (or its folder) was found deleted or renamed away and the path was opened again,
    /// with the reason (<c>the file was deleted</c>, …).</summary>
    public event Action<string>? Reopened;

    /// <summary>Lines on disk.</summary>
    public long WrittenLines => Interlocked.Read(ref _written);

    /// <summary>Lines lost: failed writes, batches dropped while waiting to retry, and lines over the memory bound.</summary>
    public long DroppedLines => Interlocked.Read(ref _dropped);

    /// <summary>Copies one formatted line (it should end with <c>\n</c>; one is added when missing) into the current
    /// batch and returns at once. Never throws for I/O and never waits for the disk.</summary>
    public void Append(ReadOnlySpan<byte> wholeLine)
    {
        bool addNewline = wholeLine.IsEmpty || wholeLine[^1] != (byte)'\n';
        int need = wholeLine.Length + (addNewline ? 1 : 0);
        bool wake;
        lock (_gate)
        {
            if (!Admit(need, 1)) return;
            if (_curLength + need > _cur.Length) NextChunk(need);
            wholeLine.CopyTo(_cur.AsSpan(_curLength));
            _curLength += wholeLine.Length;
            if (addNewline) _cur[_curLength++] = (byte)'\n';
            wake = Accepted(need, 1);
        }
        if (wake) _wake.Release();
    }

    /// <summary>
    /// Copies <paramref name="count"/> formatted lines, each ending with <c>\n</c>, as one piece: one lock per read()
    /// of the child's pipe instead of one per line. All or none are accepted (over the memory bound, all are dropped).
    /// </summary>
    public void AppendLines(ReadOnlySpan<byte> lines, int count)
    {
        if (count == 0) return;
        bool wake;
        lock (_gate)
        {
            if (!Admit(lines.Length, count)) return;
            if (_curLength + lines.Length > _cur.Length) NextChunk(lines.Length);
            lines.CopyTo(_cur.AsSpan(_curLength));
            _curLength += lines.Length;
            wake = Accepted(lines.Length, count);
        }
        if (wake) _wake.Release();
    }

    /// <summary>
    /// As <see cref="AppendLines"/>, but hands the buffer itself to the writer instead of copying it: the bytes
    /// <c>[0, length)</c> of <paramref name="owned"/>, an array rented from <see cref="System.Buffers.ArrayPool{T}.Shared"/>,
    /// go into the batch as they are, and the writer returns the array to the pool once they are written (or dropped).
    /// The caller must not touch the array afterwards. A flood's formatted lines are so copied once (into the page
    /// cache by the kernel), not twice.
    /// </summary>
    public void AppendOwned(byte[] owned, int length, int count)
    {
        bool wake = false, taken = false;
        if (count > 0 && length > 0)
        {
            lock (_gate)
            {
                if (taken = Admit(length, count))
                {
                    // Lines copied into the current chunk came first: close it so the order on disk stays the order given.
                    if (_curLength > 0) NextChunk(0);
                    _full.Add(owned.AsMemory(0, length));
                    _rented.Add(owned);
                    wake = Accepted(length, count);
                }
            }
        }
        if (!taken) System.Buffers.ArrayPool<byte>.Shared.Return(owned);
        if (wake) _wake.Release();
    }

    /// <summary>Under <c>_gate</c>: whether <paramref name="count"/> lines of <paramref name="bytes"/> may join the batch.
    /// Over the memory bound, or (a caller's bug) after the last dispose, they are counted as dropped: never a throw on
    /// the reactor.</summary>
    private bool Admit(long bytes, int count)
    {
        if (!_closing && _pendingBytes + bytes <= MaxPendingBytes) return true;
        Interlocked.Add(ref _dropped, count);
        return false;
    }

    /// <summary>Under <c>_gate</c>: counts lines that joined the batch; true when the caller must wake the writer
    /// (after leaving the lock).</summary>
    private bool Accepted(long bytes, int count)
    {
        _pendingBytes += bytes;
        _pendingLines += count;
        _appended += count;
        if (_wakeSignalled) return false;
        return _wakeSignalled = true;
    }

    /// <summary>
    /// Backpressure, not loss: true when more than <see cref="HighWater"/> bytes wait for the disk. The pipe reader
    /// then stops reading that child's pipe (and only that one: the reactor goes on serving every other child)
    /// until <see cref="ResumeWhenCaughtUp"/> calls back, so a flood faster than the disk is slowed through its full
    /// pipe the way it would be writing the file itself. While the file is failing the writer drops batches at
    /// once, so this never holds a child up then.
    /// </summary>
    public bool Behind => Volatile.Read(ref _pendingBytes) > HighWater;

    /// <summary>Resumes <paramref name="reader"/> once (on the writer task) when the writer has taken the pending batch,
    /// or returns false when it is not behind (any more), and the caller goes on by itself.</summary>
    public bool ResumeWhenCaughtUp(IPausedReader reader)
    {
        lock (_gate)
        {
            if (_pendingBytes <= HighWater || _closing) return false;
            (_caughtUp ??= []).Add(reader);
            return true;
        }
    }

    private void Run(List<IPausedReader>? readers)
    {
        if (readers is null) return;
        foreach (var r in readers)
        {
            try { r.Resume(); }
            catch (Exception e) { LogsLog.WriterCallbackFailed(_registry.Log, e.Message, e); }
        }
    }

    /// <summary>Closes the file and opens the path again before the next batch (after an external logrotate
    /// moved it). Lines appended before the call may still land in the old file; none is lost.</summary>
    public void Reopen() => Request(ref _reopenRequested);

    /// <summary>Sets a request flag for the writer task and wakes it.</summary>
    private void Request(ref bool flag)
    {
        bool wake = false;
        lock (_gate)
        {
            flag = true;
            if (!_wakeSignalled) wake = _wakeSignalled = true;
        }
        if (wake) _wake.Release();
    }

    /// <summary>Opens the file now (creating its folder) rather than at the first line, or, when it is open, checks it
    /// is still the file at the path: a unit calls this when it starts, so a path that cannot be used is reported then,
    /// not at its first output.</summary>
    public void Prepare() => Request(ref _prepareRequested);

    /// <summary>Completes when every line appended before the call is on disk or counted as dropped.</summary>
    public Task FlushAsync()
    {
        lock (_gate)
        {
            if (Interlocked.Read(ref _done) >= _appended) return Task.CompletedTask;
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _flushWaiters.Add((_appended, tcs));
            return tcs.Task;
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Drops one reference; the last writes what is pending and closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_registry.Release(this)) return;
        List<IPausedReader>? resume;
        lock (_gate)
        {
            _closing = true;
            (resume, _caughtUp) = (_caughtUp, null);
        }
        Run(resume);
        _registry.Closing(this, _loop);
        _wake.Release();
        await _loop.ConfigureAwait(false);
    }

    private const int ChunkSize = 1024 * 1024, PooledChunks = 4;

    /// <summary>Under _gate: closes the current chunk and starts one with room for <paramref name="need"/> bytes.</summary>
    private void NextChunk(int need)
    {
        if (_curLength > 0) _full.Add(_cur.AsMemory(0, _curLength));
        _curLength = 0;
        if (need <= ChunkSize && _free.TryPop(out var pooled)) _cur = pooled;
        else if (need == 0) _cur = []; // only closing the chunk (AppendOwned): the next line starts small again
        else if (_cur.Length == 0) _cur = new byte[Math.Max(need, InitialBuffer)];
        else _cur = GC.AllocateUninitializedArray<byte>(Math.Max(need, ChunkSize));
    }

    /// <summary>After a write: rented arrays back to the pool, a flood's chunks kept for the next batches; once a batch is
    /// small again (<paramref name="length"/> bytes), the flood is over and its chunks are let go.</summary>
    private void ReturnChunks(List<ReadOnlyMemory<byte>> batch, List<byte[]> rented, long length)
    {
        foreach (var a in rented) System.Buffers.ArrayPool<byte>.Shared.Return(a);
        rented.Clear();
        lock (_gate)
        {
            _spareRented = rented;
            if (length < InitialBuffer) _free.Clear();
            else foreach (var m in batch)
                if (_free.Count < PooledChunks && System.Runtime.InteropServices.MemoryMarshal.TryGetArray(m, out var seg) && seg.Array!.Length == ChunkSize)
                    _free.Push(seg.Array);
            batch.Clear();
            _spareList = batch;
        }
    }

    private async Task RunAsync()
    {
        while (true)
        {
            await _wake.WaitAsync().ConfigureAwait(false);
            while (true)
            {
                List<ReadOnlyMemory<byte>> batch;
                List<byte[]> rented;
                long length;
                int lines;
                bool reopen, prepare, closing;
                List<IPausedReader>? caughtUp = null;
                lock (_gate)
                {
                    _wakeSignalled = false;
                    batch = _full;
                    rented = _rented;
                    length = _pendingBytes;
                    lines = _pendingLines;
                    reopen = _reopenRequested;
                    prepare = _prepareRequested;
                    closing = _closing;
                    _reopenRequested = _prepareRequested = false;
                    if (length > 0)
                    {
                        if (_curLength > 0)
                        {
                            batch.Add(_cur.AsMemory(0, _curLength));
                            // Nothing kept for the next lines unless a flood's chunk is at hand: they allocate when they come.
                            _cur = _free.TryPop(out var c) ? c : [];
                            _curLength = 0;
                        }
                        _full = _spareList;
                        _spareList = [];
                        _rented = _spareRented;
                        _spareRented = [];
                        _pendingBytes = 0;
                        _pendingLines = 0;
                        (caughtUp, _caughtUp) = (_caughtUp, null);
                    }
                }
                Run(caughtUp); // readers paused by Behind go on while this batch is written
                if (reopen) CloseFile();
                if (prepare) PrepareFile();
                if (length == 0)
                {
                    if (closing)
                    {
                        CloseFile();
                        _orphan?.File.Dispose();
                        return;
                    }
                    break;
                }
                WriteBatch(batch, lines);
                ReturnChunks(batch, rented, length);
                CompleteFlushes();
            }
        }
    }

    private void CompleteFlushes()
    {
        List<TaskCompletionSource>? done = null;
        lock (_gate)
        {
            long d = Interlocked.Read(ref _done);
            for (int i = _flushWaiters.Count - 1; i >= 0; i--)
                if (_flushWaiters[i].Target <= d)
                {
                    (done ??= []).Add(_flushWaiters[i].Done);
                    _flushWaiters.RemoveAt(i);
                }
        }
        if (done is not null) foreach (var t in done) t.TrySetResult();
    }

    private void WriteBatch(List<ReadOnlyMemory<byte>> batch, int lines)
    {
        string? fault = null;
        long resumedWith = -1;
        var rest = new Remaining(batch);
        var piece = new List<ReadOnlyMemory<byte>>(batch.Count);
        try
        {
            if (_faulted && _time.GetTimestamp() < _retryAt)
            {
                Drop(rest);
                return;
            }
            bool startedWhole = true; // nothing of the batch written yet
            try
            {
                while (!rest.IsEmpty)
                {
                    EnsureOpen();
                    CheckPath(force: false);
                    long room = _maxSize is { } max ? max - _size : long.MaxValue;
                    rest.TakeWholeLines(room, piece);
                    if (piece.Count == 0)
                    {
                        if (_size > 0)
                        {
                            // The next line does not fit: it starts a fresh file. Renaming the path away is only right
                            // while the path is still our file; if it is not, reopening gave a file to continue in.
                            if (!CheckPath(force: true)) Rotate();
                            continue;
                        }
                        rest.TakeFirstLine(piece); // longer than maxSize on its own: alone in a fresh file
                    }
                    WritePiece(piece);
                    // The whole batch at once (no rotation cut it): its line count is known, no need to count.
                    bool whole = startedWhole && rest.IsEmpty;
                    long n = 0;
                    if (whole) n = lines;
                    else foreach (var m in piece) n += m.Span.Count((byte)'\n');
                    startedWhole = false;
                    Interlocked.Add(ref _written, n);
                    piece.Clear();
                    if (_faulted)
                    {
                        _faulted = false;
                        resumedWith = Interlocked.Read(ref _dropped) - _faultDroppedAtStart;
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                long before = Interlocked.Read(ref _dropped);
                long n = 0;
                foreach (var m in piece) n += m.Span.Count((byte)'\n'); // the piece that failed
                Interlocked.Add(ref _dropped, n);
                Drop(rest);
                fault = Failed(e, before);
            }
        }
        finally
        {
            Interlocked.Add(ref _done, lines);
        }
        RaiseEvents(fault, resumedWith);
    }

    /// <summary>After a failed open or write: closes the file and schedules the retry; returns the message for
    /// <see cref="Fault"/> when this starts an episode.</summary>
    private string? Failed(Exception e, long droppedBefore)
    {
        CloseFile();
        _retryAt = _time.GetTimestamp() + Ticks(RetryInterval);
        if (_faulted) return null;
        _faulted = true;
        _faultDroppedAtStart = droppedBefore;
        return Why(e);
    }

    /// <summary>The cause in words a user can act on, naming the errno; never a .NET exception type.</summary>
    private static string Why(Exception e) => e switch
    {
        LogPathException => e.Message,
        // An errno without an exception type of its own comes as IOException with HResult = errno
        // (dotnet/runtime, Interop.IOErrors.cs GetIOException): ENOSPC, EDQUOT, EIO, EFBIG…
        IOException { HResult: > 0 and < 4096 } => Native.Explain(e.HResult),
        // EACCES, EPERM and EBADF all become UnauthorizedAccessException, which keeps no errno.
        UnauthorizedAccessException => "permission denied (EACCES or EPERM)",
        _ => e.Message,
    };

    private long Ticks(TimeSpan t) => (long)(t.TotalSeconds * _time.TimestampFrequency);

    /// <summary>Callbacks after the state change, on this task; a throwing handler must not kill the writer.</summary>
    private void RaiseEvents(string? fault, long resumedWith)
    {
        string? reopened = null;
        if (_file is not null) (reopened, _reopenedWhy) = (_reopenedWhy, null);
        if (reopened is not null) Raise(() => Reopened?.Invoke(reopened));
        if (resumedWith >= 0) Raise(() => Resumed?.Invoke(resumedWith));
        if (fault is not null) Raise(() => Fault?.Invoke(fault));
    }

    /// <summary>The work of <see cref="Prepare"/>, on the writer task: a refused or uncreatable path starts a fault
    /// episode now. A write, not an open, ends one (<see cref="Resumed"/> reports what was dropped).</summary>
    private void PrepareFile()
    {
        if (_faulted && _time.GetTimestamp() < _retryAt) return;
        string? fault = null;
        try
        {
            bool wasOpen = _file is not null;
            EnsureOpen();
            if (wasOpen) CheckPath(force: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            fault = Failed(e, Interlocked.Read(ref _dropped));
        }
        RaiseEvents(fault, -1);
    }

    /// <summary>
    /// Compares the open file with the file at <see cref="Path"/> when <see cref="CheckInterval"/> has passed since the
    /// last comparison (or always, with <paramref name="force"/>). When they differ the path is opened again, the
    /// unseen tail of a deleted file copied into it (see the remarks on the class), and true returned.
    /// </summary>
    private bool CheckPath(bool force)
    {
        long now = _time.GetTimestamp();
        if (!force && now < _nextCheck) return false;
        _nextCheck = now + Ticks(CheckInterval);
        var why = LogPath.Moved(_file!, Path, out bool unlinked);
        if (why is null)
        {
            _verifiedEnd = _size;
            return false;
        }
        var old = _file!;
        _file = null;
        if (unlinked && _readable && _size > _verifiedEnd)
        {
            _orphan?.File.Dispose(); // an earlier tail still waiting (the path failed since): only the newest is kept
            _orphan = (old, _verifiedEnd, _size);
        }
        else old.Dispose(); // renamed: the lines are in the renamed file, in order
        _reopenedWhy = why;
        EnsureOpen();
        return true;
    }

    /// <summary>Copies the bytes a deleted file got after its last check to the end of the new file.</summary>
    private void CopyOrphan()
    {
        var (old, from, to) = _orphan!.Value;
        _orphan = null;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1024 * 1024);
        long lines = 0;
        try
        {
            // Chunks end wherever; the bytes were whole lines when written, so the copy as a whole is too.
            for (long at = from; at < to;)
            {
                int got = RandomAccess.Read(old, buffer.AsSpan(0, (int)Math.Min(buffer.Length, to - at)), at);
                if (got <= 0) break; // truncated meanwhile: nothing more to copy
                RandomAccess.Write(_file!, buffer.AsSpan(0, got), _size);
                _size += got;
                at += got;
                lines += buffer.AsSpan(0, got).Count((byte)'\n');
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            old.Dispose();
        }
        _reopenedWhy = $"{_reopenedWhy ?? "the file was deleted"}; the {lines} line(s) it got after the last check were copied into the new file";
    }

    private static void Raise(Action a)
    {
        try { a(); }
        catch (Exception) { /* a handler's bug must not stop the logs */ }
    }

    private void Drop(Remaining rest)
    {
        long n = 0;
        foreach (var m in rest.Drain()) n += m.Span.Count((byte)'\n');
        Interlocked.Add(ref _dropped, n);
    }

    /// <summary>Writes the pieces with one pwritev() at the end of the file.</summary>
    private void WritePiece(List<ReadOnlyMemory<byte>> piece)
    {
        long length = 0;
        foreach (var m in piece) length += m.Length;
        try
        {
            RandomAccess.Write(_file!, piece, _size);
            _size += length;
        }
        catch (IOException)
        {
            // ENOSPC part-way: cut the file back so it never holds a torn line (best effort).
            try { RandomAccess.SetLength(_file!, _size); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>What is left of a batch: chunks of whole lines, the first possibly started.</summary>
    private sealed class Remaining(List<ReadOnlyMemory<byte>> chunks)
    {
        private int _index;
        private ReadOnlyMemory<byte> _head = chunks.Count > 0 ? chunks[0] : default;

        public bool IsEmpty => _index >= chunks.Count;

        private void Advance(int bytes)
        {
            _head = _head[bytes..];
            if (_head.IsEmpty && ++_index < chunks.Count) _head = chunks[_index];
        }

        /// <summary>Moves the longest run of whole lines of at most <paramref name="room"/> bytes into <paramref name="into"/>.</summary>
        public void TakeWholeLines(long room, List<ReadOnlyMemory<byte>> into)
        {
            while (!IsEmpty && room > 0)
            {
                if (_head.Length <= room)
                {
                    into.Add(_head);
                    room -= _head.Length;
                    Advance(_head.Length);
                    continue;
                }
                int cut = _head.Span[..(int)room].LastIndexOf((byte)'\n');
                if (cut >= 0)
                {
                    into.Add(_head[..(cut + 1)]);
                    Advance(cut + 1);
                }
                return;
            }
        }

        public void TakeFirstLine(List<ReadOnlyMemory<byte>> into)
        {
            int nl = _head.Span.IndexOf((byte)'\n');
            int take = nl < 0 ? _head.Length : nl + 1;
            into.Add(_head[..take]);
            Advance(take);
        }

        public IEnumerable<ReadOnlyMemory<byte>> Drain()
        {
            while (!IsEmpty)
            {
                var m = _head;
                Advance(m.Length);
                yield return m;
            }
        }
    }

    private void EnsureOpen()
    {
        if (_file is not null)
        {
            // Re-read the end each time (one fstat): someone may have truncated the file (copytruncate) or appended.
            _size = RandomAccess.GetLength(_file);
            return;
        }
        // Created if missing (with its folders), never truncated; no lock, so tail, logrotate and readers get in.
        _file = LogPath.Open(Path, out _readable);
        _size = RandomAccess.GetLength(_file);
        if (_orphan is not null) CopyOrphan();
        _verifiedEnd = _size;
        _nextCheck = _time.GetTimestamp() + Ticks(CheckInterval);
    }

    private void CloseFile()
    {
        _file?.Dispose();
        _file = null;
    }

    /// <summary>The name of the <paramref name="n"/>-th rotated file of <paramref name="path"/> (1 = the newest): <c>PATH.n</c>.</summary>
    public static string Rotated(string path, int n) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{path}.{n}");

    private void Rotate()
    {
        CloseFile();
        for (int i = _keep - 1; i >= 1; i--)
        {
            var from = Rotated(Path, i);
            if (File.Exists(from)) File.Move(from, Rotated(Path, i + 1), overwrite: true);
        }
        if (File.Exists(Path)) File.Move(Path, Rotated(Path, 1), overwrite: true);
    }
}
