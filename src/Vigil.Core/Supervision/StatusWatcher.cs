using System.Collections.Concurrent;
using Vigil.Launching;

namespace Vigil.Supervision;

/// <summary>
/// Polls /proc/PID/stat of every running unit on one timer (one timer for all units keeps a hundred units cheap)
/// and posts a message to a unit only when its OS state changed, or when a disk sleep is seen a second time in a row
/// (a disk sleep that lasts is news; a short one is ordinary I/O). A process whose stat cannot be read while it has
/// not been reaped is "unavailable".
/// </summary>
internal sealed class StatusWatcher : IDisposable
{
    private readonly ConcurrentDictionary<Unit, Watched> _watched = new();
    private readonly ITimer _timer;

    /// <param name="Lasting">The last observation repeated the one before (told once per episode).</param>
    private readonly record struct Watched(int Pid, ProcessStatus Last, bool Lasting);

    public StatusWatcher(TimeProvider time, TimeSpan interval)
    {
        _timer = time.CreateTimer(_ => Tick(), null, interval, interval);
    }

    public void Watch(Unit unit, int pid) => _watched[unit] = new(pid, ProcessStatus.Running, false);
    public void Unwatch(Unit unit) => _watched.TryRemove(unit, out _);

    /// <summary>One poll of every watched unit (the timer's callback).</summary>
    public void Tick()
    {
        foreach (var (unit, w) in _watched)
        {
            var now = ProcFs.TryReadStat(w.Pid, out var st) ? ProcessStatuses.From(st.State) : ProcessStatus.Unavailable;
            if (now != w.Last)
            {
                _watched.TryUpdate(unit, new(w.Pid, now, false), w);
                unit.Post(new Unit.StatusObserved(w.Pid, now));
            }
            else if (now == ProcessStatus.DiskSleep && !w.Lasting)
            {
                _watched.TryUpdate(unit, w with { Lasting = true }, w);
                unit.Post(new Unit.StatusObserved(w.Pid, now, Lasting: true));
            }
        }
    }

    public void Dispose() => _timer.Dispose();
}
