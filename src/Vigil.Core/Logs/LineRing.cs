using System.Runtime.CompilerServices;

namespace Vigil.Logs;

/// <summary>
/// The last <see cref="Capacity"/> lines of one unit, in memory, for <c>vigil logs [-n N] [-f]</c> and the dashboard.
/// Thread-safe. <see cref="Add"/> never blocks on a reader: each follower has its own bounded queue, and a follower
/// that falls more than <see cref="FollowerQueue"/> lines behind skips ahead: the oldest queued lines are dropped and
/// it receives one synthetic line saying how many it missed (see <see cref="IsSkipMarker"/>).
/// </summary>
public sealed class LineRing
{
    private readonly object _gate = new();
    // Slots own their byte buffers and reuse them, so a flood of lines allocates nothing here once the ring is
    // full; OutputLine objects are made only for readers (Snapshot, followers). The array grows with the lines up to
    // the capacity (a unit that never writes holds none); until it is full, _start stays 0.
    private Slot[] _lines = [];
    private readonly int _capacity;
    private int _start, _count;

    private struct Slot
    {
        public byte[]? Buffer;
        public int Length;
        public DateTimeOffset Time;
        public int UnitId, Pid;
        public string Name;
        public Launching.StreamKind Stream;
        public bool Continued;

        public readonly OutputLine ToLine() =>
            new(Time, UnitId, Name, Pid, Stream, Buffer is null ? [] : Buffer.AsSpan(0, Length).ToArray(), Continued);
    }
    private Follower[] _followers = [];

    public LineRing(int capacity = 1000, int followerQueue = 10_000)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        ArgumentOutOfRangeException.ThrowIfLessThan(followerQueue, 1);
        _capacity = capacity;
        FollowerQueue = followerQueue;
    }

    public int Capacity => _capacity;
    public int FollowerQueue { get; }

    public int Count { get { lock (_gate) return _count; } }

    /// <summary>Followers currently attached.</summary>
    public int Followers { get { lock (_gate) return _followers.Length; } }

    public void Add(OutputLine line)
    {
        ArgumentNullException.ThrowIfNull(line);
        lock (_gate)
        {
            Store(line.Time, line.UnitId, line.Name, line.Pid, line.Stream, line.Bytes, line.Continued);
            // Under the ring's lock so every follower sees lines in the ring's order.
            foreach (var f in _followers) f.Offer(line);
        }
    }

    /// <summary>Adds a line from a span without allocating (once the ring is warm) unless someone follows.</summary>
    public void Add(DateTimeOffset time, int unitId, string name, int pid, Launching.StreamKind stream, ReadOnlySpan<byte> bytes, bool continued)
    {
        lock (_gate)
        {
            Store(time, unitId, name, pid, stream, bytes, continued);
            if (_followers.Length == 0) return;
            var line = new OutputLine(time, unitId, name, pid, stream, bytes.ToArray(), continued);
            foreach (var f in _followers) f.Offer(line);
        }
    }

    /// <summary>Holds the ring for a batch of <see cref="AddHeld"/> calls (one chunk read from a pipe): one lock per
    /// chunk instead of one per line. Readers wait at most for the chunk. Pair with <see cref="Release"/>.</summary>
    public void Hold() => Monitor.Enter(_gate);

    public void Release() => Monitor.Exit(_gate);

    /// <summary>While held: whether anyone follows (then every line must be offered, none may be skipped).</summary>
    public bool HasFollowersHeld => _followers.Length > 0;

    /// <summary>As <see cref="Add(DateTimeOffset, int, string, int, Launching.StreamKind, ReadOnlySpan{byte}, bool)"/>, while held.</summary>
    public void AddHeld(DateTimeOffset time, int unitId, string name, int pid, Launching.StreamKind stream, ReadOnlySpan<byte> bytes, bool continued)
    {
        Store(time, unitId, name, pid, stream, bytes, continued);
        if (_followers.Length == 0) return;
        var line = new OutputLine(time, unitId, name, pid, stream, bytes.ToArray(), continued);
        foreach (var f in _followers) f.Offer(line);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Store(DateTimeOffset time, int unitId, string name, int pid, Launching.StreamKind stream, ReadOnlySpan<byte> bytes, bool continued)
    {
        if (_capacity == 0) return;
        int at;
        if (_count < _capacity)
        {
            if (_count == _lines.Length) Array.Resize(ref _lines, Math.Min(_capacity, Math.Max(16, _lines.Length * 2)));
            at = _count++; // not full yet: _start is 0
        }
        else
        {
            at = _start;
            if (++_start == _lines.Length) _start = 0;
        }
        ref var slot = ref _lines[at];
        // Reuse the slot's buffer when it fits and is not much larger (a one-off huge line is not kept around).
        if (slot.Buffer is null || slot.Buffer.Length < bytes.Length || slot.Buffer.Length > Math.Max(256, bytes.Length * 4))
            slot.Buffer = new byte[Math.Max(64, bytes.Length)];
        bytes.CopyTo(slot.Buffer);
        slot.Length = bytes.Length;
        slot.Time = time;
        slot.UnitId = unitId;
        if (!ReferenceEquals(slot.Name, name)) slot.Name = name; // the same string every line: skip the GC write barrier
        slot.Pid = pid;
        slot.Stream = stream;
        slot.Continued = continued;
    }

    /// <summary>The kept lines, oldest first; only the newest <paramref name="last"/> when given.</summary>
    public IReadOnlyList<OutputLine> Snapshot(int? last = null)
    {
        lock (_gate) return SnapshotLocked(last);
    }

    /// <summary>Under the lock: the newest <paramref name="last"/> lines (all when null).</summary>
    private OutputLine[] SnapshotLocked(int? last)
    {
        int n = Math.Clamp(last ?? _count, 0, _count);
        var result = new OutputLine[n];
        for (int i = 0; i < n; i++) result[i] = _lines[(_start + _count - n + i) % _lines.Length].ToLine();
        return result;
    }

    /// <summary>Up to <paramref name="backlog"/> recent lines, then every new line as it is added (<c>tail -n N -f</c>),
    /// until <paramref name="cancel"/> (which ends the enumeration with <see cref="OperationCanceledException"/>).
    /// No line is missed or repeated between backlog and live lines.</summary>
    public async IAsyncEnumerable<OutputLine> Follow(int backlog, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        var f = new Follower(FollowerQueue);
        OutputLine[] initial;
        lock (_gate)
        {
            initial = SnapshotLocked(backlog);
            _followers = [.. _followers, f];
        }
        try
        {
            foreach (var line in initial) yield return line;
            while (true)
            {
                cancel.ThrowIfCancellationRequested();
                var (line, skipped, wait) = f.Take();
                if (skipped is not null) yield return skipped;
                if (line is not null) yield return line;
                else if (wait is not null) await wait.WaitAsync(cancel).ConfigureAwait(false);
            }
        }
        finally
        {
            lock (_gate) _followers = [.. _followers.Where(x => x != f)];
        }
    }

    /// <summary>The text of the synthetic line a slow follower gets in place of lines it missed.</summary>
    public static string SkipText(long skipped) => $"[vigil: {skipped} lines skipped, the reader fell behind]";

    /// <summary>True for the synthetic line <see cref="Follow"/> yields after skipping ahead.</summary>
    public static bool IsSkipMarker(OutputLine line) => line.Pid == 0 && line.Text.StartsWith("[vigil: ", StringComparison.Ordinal) && line.Text.EndsWith(" lines skipped, the reader fell behind]", StringComparison.Ordinal);

    private sealed class Follower(int capacity)
    {
        private readonly Queue<OutputLine> _queue = new();
        private long _skipped;
        private OutputLine? _lastSkipped;
        private TaskCompletionSource? _waiter;

        public void Offer(OutputLine line)
        {
            TaskCompletionSource? wake;
            lock (_queue)
            {
                if (_queue.Count >= capacity)
                {
                    _lastSkipped = _queue.Dequeue();
                    _skipped++;
                }
                _queue.Enqueue(line);
                wake = _waiter;
                _waiter = null;
            }
            wake?.TrySetResult(); // continuations run asynchronously: never on the adding thread
        }

        /// <summary>The next line (after a skip marker when lines were dropped), or a task to wait on.</summary>
        public (OutputLine? Line, OutputLine? Skipped, Task? Wait) Take()
        {
            lock (_queue)
            {
                OutputLine? marker = null;
                if (_skipped > 0)
                {
                    var l = _lastSkipped!;
                    marker = new OutputLine(l.Time, l.UnitId, l.Name, 0, l.Stream, System.Text.Encoding.UTF8.GetBytes(SkipText(_skipped)), false);
                    _skipped = 0;
                    _lastSkipped = null;
                }
                if (_queue.TryDequeue(out var line)) return (line, marker, null);
                _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return (null, marker, _waiter.Task);
            }
        }
    }
}
