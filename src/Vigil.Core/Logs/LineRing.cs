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
    private readonly OutputLine[] _lines;
    private int _start, _count;
    private Follower[] _followers = [];

    public LineRing(int capacity = 1000, int followerQueue = 10_000)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        ArgumentOutOfRangeException.ThrowIfLessThan(followerQueue, 1);
        _lines = new OutputLine[capacity];
        FollowerQueue = followerQueue;
    }

    public int Capacity => _lines.Length;
    public int FollowerQueue { get; }

    public int Count { get { lock (_gate) return _count; } }

    /// <summary>Followers currently attached.</summary>
    public int Followers { get { lock (_gate) return _followers.Length; } }

    public void Add(OutputLine line)
    {
        ArgumentNullException.ThrowIfNull(line);
        lock (_gate)
        {
            if (_lines.Length > 0)
            {
                if (_count < _lines.Length) _lines[(_start + _count++) % _lines.Length] = line;
                else
                {
                    _lines[_start] = line;
                    _start = (_start + 1) % _lines.Length;
                }
            }
            // Under the ring's lock so every follower sees lines in the ring's order.
            foreach (var f in _followers) f.Offer(line);
        }
    }

    /// <summary>The kept lines, oldest first; only the newest <paramref name="last"/> when given.</summary>
    public IReadOnlyList<OutputLine> Snapshot(int? last = null)
    {
        lock (_gate) return SnapshotLocked(last ?? _count);
    }

    private OutputLine[] SnapshotLocked(int last)
    {
        int n = Math.Clamp(last, 0, _count);
        var result = new OutputLine[n];
        for (int i = 0; i < n; i++) result[i] = _lines[(_start + _count - n + i) % _lines.Length];
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
