namespace Vigil.Cli.Output;

/// <summary>
/// Keeps a process's output behind its <c>spawned</c> line. A unit's output is read on the reactor thread and its
/// events travel through the supervisor's event channel, so the first line a child writes can reach the printer
/// before the event that says it started. A line of a PID whose <c>spawned</c> was not printed yet is held until
/// it is (<see cref="Announce"/>), but never longer than <c>hold</c> and never more than <c>maxHeld</c> lines: an
/// output line is never lost or stuck, at worst printed a little early. Pure bookkeeping on an injected clock;
/// the caller prints what it is handed, in the order it is handed.
/// </summary>
public sealed class SpawnOrder<T>(TimeProvider time, TimeSpan hold, int maxHeld = 10_000, int maxKnown = 4_096)
{
    private readonly HashSet<int> _known = [];
    private readonly Queue<int> _knownOrder = new();
    private readonly List<(int Pid, T Item, long Since)> _held = [];

    /// <summary>How many lines wait for their <c>spawned</c>.</summary>
    public int Held => _held.Count;

    /// <summary>A line of <paramref name="pid"/>: added to <paramref name="print"/> at once when its process was
    /// announced, else held (and the oldest held lines go to <paramref name="print"/> when too many wait).</summary>
    public void Admit(int pid, T item, List<T> print)
    {
        if (_known.Contains(pid))
        {
            print.Add(item);
            return;
        }
        _held.Add((pid, item, time.GetTimestamp()));
        if (_held.Count > maxHeld)
        {
            int over = _held.Count - maxHeld;
            for (int i = 0; i < over; i++) print.Add(_held[i].Item);
            _held.RemoveRange(0, over);
        }
    }

    /// <summary><paramref name="pid"/>'s <c>spawned</c> was printed: its held lines go to <paramref name="print"/>, in
    /// the order they came, and its later lines pass straight through.</summary>
    public void Announce(int pid, List<T> print)
    {
        if (_known.Add(pid))
        {
            _knownOrder.Enqueue(pid);
            // Bounded: a PID is remembered for the next few thousand spawns, long after its last line was read.
            if (_knownOrder.Count > maxKnown) _known.Remove(_knownOrder.Dequeue());
        }
        if (_held.Count == 0) return;
        foreach (var h in _held)
            if (h.Pid == pid) print.Add(h.Item);
        _held.RemoveAll(h => h.Pid == pid);
    }

    /// <summary>Lines held for <c>hold</c> or longer go to <paramref name="print"/> (their <c>spawned</c> may never come:
    /// an adopted process, an event lost to a full disk).</summary>
    public void Expire(List<T> print)
    {
        long now = time.GetTimestamp();
        int n = 0;
        while (n < _held.Count && time.GetElapsedTime(_held[n].Since, now) >= hold) n++;
        for (int i = 0; i < n; i++) print.Add(_held[i].Item);
        _held.RemoveRange(0, n);
    }

    /// <summary>Every held line, in order (at the end of the run).</summary>
    public void ReleaseAll(List<T> print)
    {
        foreach (var h in _held) print.Add(h.Item);
        _held.Clear();
    }

    /// <summary>How long until the oldest held line is due; null when none is held.</summary>
    public TimeSpan? UntilNextExpiry()
    {
        if (_held.Count == 0) return null;
        var left = hold - time.GetElapsedTime(_held[0].Since);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }
}
