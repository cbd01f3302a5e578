namespace Vigil.Tests.Support;

/// <summary>
/// A clock that moves only when the test says so (Microsoft.Extensions.TimeProvider.Testing is not available here;
/// this follows the same contract). <see cref="Advance"/> fires every timer that falls due, in due-time order, on the
/// calling thread and with the clock set to that timer's due time, so a callback sees exactly the time it was
/// scheduled for. <c>Task.Delay(d, fake)</c> goes through <see cref="CreateTimer"/> and therefore completes only
/// when <see cref="Advance"/> moves past <c>d</c>.
/// </summary>
/// <remarks>
/// Determinism: a timer that is not due is never called, so when <see cref="Advance"/> returns 0 (no callback ran)
/// the advance started no work at all, and a test may assert "nothing happened" at once. Callbacks run outside the
/// clock's lock, so they may create, change or dispose timers (Task.Delay does).
/// </remarks>
public sealed class FakeTimeProvider : TimeProvider
{
    private readonly object _gate = new();
    private readonly List<FakeTimer> _timers = [];
    private readonly DateTimeOffset _epoch;
    private TimeSpan _elapsed;
    private long _sequence;

    public FakeTimeProvider(DateTimeOffset? start = null) => _epoch = start ?? new DateTimeOffset(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Fake time elapsed since the clock was made.</summary>
    public TimeSpan Elapsed { get { lock (_gate) return _elapsed; } }

    public override DateTimeOffset GetUtcNow() { lock (_gate) return _epoch + _elapsed; }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() { lock (_gate) return _elapsed.Ticks; }

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var t = new FakeTimer(this, callback, state);
        lock (_gate) _timers.Add(t);
        t.Change(dueTime, period);
        return t;
    }

    /// <summary>Timers that will fire at some point (armed and not disposed).</summary>
    public int PendingTimers { get { lock (_gate) return _timers.Count(t => t.Due is not null); } }

    /// <summary>How far ahead the next armed timer is, or null when none is armed.</summary>
    public TimeSpan? UntilNextTimer
    {
        get
        {
            lock (_gate)
            {
                var next = _timers.Where(t => t.Due is not null).Select(t => t.Due!.Value).DefaultIfEmpty(TimeSpan.MaxValue).Min();
                return next == TimeSpan.MaxValue ? null : next - _elapsed;
            }
        }
    }

    /// <summary>Moves the clock forward by <paramref name="by"/>, firing due timers on this thread; returns how many callbacks ran.</summary>
    public int Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        TimeSpan target;
        lock (_gate) target = _elapsed + by;
        int fired = 0;
        while (true)
        {
            FakeTimer? next = null;
            lock (_gate)
            {
                foreach (var t in _timers)
                    if (t.Due is { } d && d <= target && (next is null || d < next.Due || (d == next.Due && t.Order < next.Order)))
                        next = t;
                if (next is null) { _elapsed = target; return fired; }
                _elapsed = next.Due!.Value;
                // Re-arm a periodic timer before its callback runs (as System.Threading.Timer does), so the callback may Change it.
                next.Due = next.Period > TimeSpan.Zero ? _elapsed + next.Period : null;
                next.Order = ++_sequence;
            }
            fired++;
            next.Callback(next.State);
        }
    }

    private sealed class FakeTimer(FakeTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public TimerCallback Callback { get; } = callback;
        public object? State { get; } = state;
        /// <summary>Absolute due time on the fake clock; null when disarmed. Guarded by the owner's lock.</summary>
        public TimeSpan? Due { get; set; }
        public TimeSpan Period { get; private set; }
        /// <summary>Tie-break for timers due at the same instant: the one armed first fires first.</summary>
        public long Order { get; set; }
        private bool _disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                if (_disposed) return false;
                Period = period == Timeout.InfiniteTimeSpan ? TimeSpan.Zero : period;
                Due = dueTime == Timeout.InfiniteTimeSpan ? null : owner._elapsed + (dueTime < TimeSpan.Zero ? TimeSpan.Zero : dueTime);
                Order = ++owner._sequence;
                return true;
            }
        }

        public void Dispose()
        {
            lock (owner._gate)
            {
                _disposed = true;
                Due = null;
                owner._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
