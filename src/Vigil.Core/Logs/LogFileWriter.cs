using Microsoft.Win32.SafeHandles;

namespace Vigil.Logs;

/// <summary>Shared log-file writers, one per full path, reference-counted.</summary>
public static class LogFiles
{
    private static readonly object Gate = new();
    private static readonly Dictionary<string, LogFileWriter> Open_ = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, Task> Closing = new(StringComparer.Ordinal);

    /// <summary>The writer for <paramref name="path"/>: the one already open for that full path (its count goes up; its
    /// rotation settings stay those of the first opener) or a new one. Dispose it exactly once per Open; the last
    /// dispose writes what is pending and closes the file.</summary>
    public static LogFileWriter Open(string path, long? maxSize, int keep) => Open(path, maxSize, keep, TimeProvider.System);

    /// <inheritdoc cref="Open(string, long?, int)"/>
    public static LogFileWriter Open(string path, long? maxSize, int keep, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (maxSize is <= 0) throw new ArgumentOutOfRangeException(nameof(maxSize), "must be positive or null");
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        ArgumentNullException.ThrowIfNull(time);
        var full = Path.GetFullPath(path);
        lock (Gate)
        {
            if (Open_.TryGetValue(full, out var w))
            {
                w.RefCount++;
                return w;
            }
            // A writer for the same path may still be closing: the new one starts writing only after it has (offsets).
            Closing.TryGetValue(full, out var prior);
            w = new LogFileWriter(full, maxSize, keep, time, prior ?? Task.CompletedTask);
            Open_[full] = w;
            return w;
        }
    }

    /// <summary>Called by a writer's dispose; true when it was the last reference (the caller then closes it).</summary>
    internal static bool Release(LogFileWriter w)
    {
        lock (Gate)
        {
            if (w.RefCount <= 0) throw new ObjectDisposedException(nameof(LogFileWriter), $"{w.Path}: disposed more often than opened");
            if (--w.RefCount > 0) return false;
            Open_.Remove(w.Path);
            return true;
        }
    }

    internal static void Closing_(LogFileWriter w, Task closed)
    {
        lock (Gate) Closing[w.Path] = closed;
        closed.ContinueWith(_ => { lock (Gate) if (Closing.TryGetValue(w.Path, out var t) && t == closed) Closing.Remove(w.Path); },
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
/// </remarks>
public sealed class LogFileWriter : IAsyncDisposable, IDisposable
{
    public const long MaxPendingBytes = 64L * 1024 * 1024;
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);
    private const int InitialBuffer = 64 * 1024;

    private readonly object _gate = new();
    private readonly long? _maxSize;
    private readonly int _keep;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Task _loop;

    // Guarded by _gate.
    private byte[] _pending = new byte[InitialBuffer];
    private int _pendingLength, _pendingLines;
    private long _appended;          // lines accepted into batches so far
    private bool _wakeSignalled, _closing, _reopenRequested;
    private readonly List<(long Target, TaskCompletionSource Done)> _flushWaiters = [];

    // Writer task only (read elsewhere through Interlocked).
    private byte[] _spare = new byte[InitialBuffer];
    private SafeFileHandle? _file;
    private long _size;
    private long _done;              // lines written or dropped by the writer
    private long _written, _dropped;
    private bool _faulted;
    private long _faultDroppedAtStart, _retryAt;

    internal int RefCount = 1;

    internal LogFileWriter(string fullPath, long? maxSize, int keep, TimeProvider time, Task prior)
    {
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
        bool wake = false;
        lock (_gate)
        {
            // Over the memory bound, or (a caller's bug) after the last dispose: count, never throw on the reactor.
            if (_closing || _pendingLength + (long)need > MaxPendingBytes)
            {
                Interlocked.Increment(ref _dropped);
                return;
            }
            if (_pendingLength + need > _pending.Length) Grow(_pendingLength + need);
            wholeLine.CopyTo(_pending.AsSpan(_pendingLength));
            _pendingLength += wholeLine.Length;
            if (addNewline) _pending[_pendingLength++] = (byte)'\n';
            _pendingLines++;
            _appended++;
            if (!_wakeSignalled) wake = _wakeSignalled = true;
        }
        if (wake) _wake.Release();
    }

    /// <summary>Closes the file and opens the path again before the next batch (after an external logrotate
    /// moved it). Lines appended before the call may still land in the old file; none is lost.</summary>
    public void Reopen()
    {
        bool wake = false;
        lock (_gate)
        {
            _reopenRequested = true;
            if (!_wakeSignalled) wake = _wakeSignalled = true;
        }
        if (wake) _wake.Release();
    }

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
        if (!LogFiles.Release(this)) return;
        lock (_gate) _closing = true;
        LogFiles.Closing_(this, _loop);
        _wake.Release();
        await _loop.ConfigureAwait(false);
    }

    private void Grow(int need)
    {
        int size = _pending.Length;
        while (size < need) size = (int)Math.Min((long)size * 2, MaxPendingBytes);
        Array.Resize(ref _pending, size);
    }

    private async Task RunAsync()
    {
        while (true)
        {
            await _wake.WaitAsync().ConfigureAwait(false);
            while (true)
            {
                byte[] batch;
                int length, lines;
                bool reopen, closing;
                lock (_gate)
                {
                    _wakeSignalled = false;
                    batch = _pending;
                    length = _pendingLength;
                    lines = _pendingLines;
                    reopen = _reopenRequested;
                    closing = _closing;
                    _reopenRequested = false;
                    if (length > 0)
                    {
                        _pending = _spare;
                        _pendingLength = _pendingLines = 0;
                    }
                }
                if (reopen) CloseFile();
                if (length == 0)
                {
                    if (closing)
                    {
                        CloseFile();
                        return;
                    }
                    break;
                }
                WriteBatch(batch.AsSpan(0, length), lines);
                // Keep the emptied buffer as the next spare, but do not hold a huge one after a burst.
                _spare = batch.Length > 4 * 1024 * 1024 ? new byte[InitialBuffer] : batch;
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

    private void WriteBatch(ReadOnlySpan<byte> batch, int lines)
    {
        string? fault = null;
        long resumedWith = -1;
        try
        {
            if (_faulted && _time.GetTimestamp() < _retryAt)
            {
                Drop(batch);
                return;
            }
            try
            {
                while (!batch.IsEmpty)
                {
                    EnsureOpen();
                    int take = batch.Length;
                    if (_maxSize is { } max && _size + take > max)
                    {
                        long room = max - _size;
                        int cut = room <= 0 ? -1 : batch[..(int)Math.Min(room, take)].LastIndexOf((byte)'\n');
                        if (cut < 0 && _size > 0)
                        {
                            Rotate();
                            continue;
                        }
                        // Lines up to the cut fit; or the file is empty and the first line alone is larger than maxSize.
                        take = cut >= 0 ? cut + 1 : batch.IndexOf((byte)'\n') + 1;
                        if (take <= 0) take = batch.Length;
                    }
                    var piece = batch[..take];
                    WritePiece(piece);
                    Interlocked.Add(ref _written, piece.Count((byte)'\n'));
                    batch = batch[take..];
                    if (_faulted)
                    {
                        _faulted = false;
                        resumedWith = Interlocked.Read(ref _dropped) - _faultDroppedAtStart;
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                CloseFile();
                Drop(batch);
                _retryAt = _time.GetTimestamp() + (long)(RetryInterval.TotalSeconds * _time.TimestampFrequency);
                if (!_faulted)
                {
                    _faulted = true;
                    _faultDroppedAtStart = Interlocked.Read(ref _dropped) - batch.Count((byte)'\n');
                    fault = $"log file {Path}: {e.Message} ({e.GetType().Name}); dropping lines until a write succeeds, retrying every {RetryInterval.TotalSeconds:0.#}s";
                }
            }
        }
        finally
        {
            Interlocked.Add(ref _done, lines);
        }
        // Callbacks outside the write path's state changes, on this task; a throwing handler must not kill the writer.
        if (resumedWith >= 0) Raise(() => Resumed?.Invoke(resumedWith));
        if (fault is not null) Raise(() => Fault?.Invoke(fault));
    }

    private static void Raise(Action a)
    {
        try { a(); }
        catch (Exception) { /* a handler's bug must not stop the logs */ }
    }

    private void Drop(ReadOnlySpan<byte> lines) => Interlocked.Add(ref _dropped, lines.Count((byte)'\n'));

    private void WritePiece(ReadOnlySpan<byte> piece)
    {
        try
        {
            RandomAccess.Write(_file!, piece, _size);
            _size += piece.Length;
        }
        catch (IOException)
        {
            // ENOSPC part-way: cut the file back so it never holds a torn line (best effort).
            try { RandomAccess.SetLength(_file!, _size); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            throw;
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
        try
        {
            // FileMode.Append: create if missing, never truncate; FileShare.ReadWrite lets tail, logrotate and readers in.
            _file = File.OpenHandle(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        }
        catch (DirectoryNotFoundException e)
        {
            // .NET reports ENOENT and ENOTDIR alike ("Could not find a part of the path"); say which it is.
            var dir = System.IO.Path.GetDirectoryName(Path) ?? "/";
            string why = File.Exists(dir) ? $"{dir} is a file, not a folder" : $"the folder {dir} does not exist";
            throw new DirectoryNotFoundException($"{why} ({e.Message})", e);
        }
        _size = RandomAccess.GetLength(_file);
    }

    private void CloseFile()
    {
        _file?.Dispose();
        _file = null;
    }

    private void Rotate()
    {
        CloseFile();
        for (int i = _keep - 1; i >= 1; i--)
        {
            var from = $"{Path}.{i}";
            if (File.Exists(from)) File.Move(from, $"{Path}.{i + 1}", overwrite: true);
        }
        if (File.Exists(Path)) File.Move(Path, $"{Path}.1", overwrite: true);
    }
}
