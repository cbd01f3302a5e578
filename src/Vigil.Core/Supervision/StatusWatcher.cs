using System.Collections.Concurrent;
using Vigil.Launching;

namespace Vigil.Supervision;

/// <summary>
/// Polls /proc/PID/stat of every running unit on one timer (one timer for all units keeps a hundred units cheap)
/// and posts a message to a unit only when its OS state changed. A process whose stat cannot be read while it
/// has not been reaped is "unavailable".
/// </summary>
internal sealed class StatusWatcher : IDisposable
{
    private readonly ConcurrentDictionary<Unit, (int Pid, ProcessStatus Last)> _watched = new();
    private readonly ITimer _timer;

    public StatusWatcher(TimeProvider time, TimeSpan interval)
    {
        _timer = time.CreateTimer(_ => Tick(), null, interval, interval);
    }

    public void Watch(Unit unit, int pid) => _watched[unit] = (pid, ProcessStatus.Running);
    public void Unwatch(Unit unit) => _watched.TryRemove(unit, out _);

    /// <summary>One poll of every watched unit (the timer's callback).</summary>
    public void Tick()
    {
        foreach (var (unit, w) in _watched)
        {
            var now = ProcFs.TryReadStat(w.Pid, out var st) ? ProcessStatuses.From(st.State) : ProcessStatus.Unavailable;
            if (now == w.Last) continue;
            _watched.TryUpdate(unit, (w.Pid, now), w);
            unit.Post(new Unit.StatusObserved(w.Pid, now));
        }
    }

    public void Dispose() => _timer.Dispose();
}
