using System.Collections.Immutable;
using System.Threading.Channels;

namespace Vigil.Supervision;

public sealed partial class Unit
{
    private ImmutableArray<UnitNotifications> _notifications = [];

    /// <summary>
    /// This unit's events from now on, and every change of its /proc status (running ⇄ sleeping too, which the
    /// supervisor's event stream leaves out by default): Ligato's <c>GetNotificationChan()</c>. Bounded: a reader that
    /// falls <paramref name="capacity"/> behind loses the oldest (counted in <see cref="UnitNotifications.Dropped"/>), so
    /// it never holds the unit up. Ends when the unit is removed or its supervisor disposed, or on
    /// <see cref="UnitNotifications.Dispose"/>.
    /// </summary>
    public UnitNotifications Notifications(int capacity = UnitNotifications.DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        var stream = new UnitNotifications(capacity, s => ImmutableInterlocked.Update(ref _notifications, a => a.Remove(s)));
        ImmutableInterlocked.Update(ref _notifications, a => a.Add(stream));
        return stream;
    }

    /// <summary>An event to every notification stream (the loop's MoveTo). Status changes come from
    /// <see cref="NotifyStatus"/>, all of them, so the event-stream ones are not sent twice.</summary>
    private void Notify(UnitEvent ev)
    {
        if (ev is StatusChanged) return;
        foreach (var s in _notifications) s.Write(ev);
    }

    /// <summary>A raw /proc status change, whether or not it is an event of the supervisor's stream.</summary>
    private void NotifyStatus(ProcessStatus from, ProcessStatus to)
    {
        if (_notifications.IsEmpty) return;
        var ev = new StatusChanged(Now, Id, Name, _process?.Pid, _state, from, to);
        foreach (var s in _notifications) s.Write(ev);
    }

    /// <summary>Ends every notification stream (the unit was removed, or its supervisor disposed).</summary>
    internal void CompleteNotifications()
    {
        foreach (var s in ImmutableInterlocked.InterlockedExchange(ref _notifications, [])) s.Complete();
    }
}

/// <summary>One reader's stream of a unit's notifications (<see cref="Unit.Notifications"/>): enumerate it, or read
/// <see cref="Reader"/>. Dispose it to stop receiving.</summary>
public sealed class UnitNotifications : IAsyncEnumerable<UnitEvent>, IDisposable
{
    /// <summary>Events a reader may fall behind before the oldest are dropped.</summary>
    public const int DefaultCapacity = 256;

    private readonly Channel<UnitEvent> _channel;
    private readonly Action<UnitNotifications> _unsubscribe;
    private long _dropped;
    private int _disposed;

    internal UnitNotifications(int capacity, Action<UnitNotifications> unsubscribe)
    {
        _unsubscribe = unsubscribe;
        _channel = Channel.CreateBounded<UnitEvent>(
            new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = false, SingleWriter = false },
            _ => Interlocked.Increment(ref _dropped));
    }

    /// <summary>The notifications, in order; completes when the stream ends.</summary>
    public ChannelReader<UnitEvent> Reader => _channel.Reader;

    /// <summary>How many notifications were dropped because the reader was <c>capacity</c> behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    internal void Write(UnitEvent ev) => _channel.Writer.TryWrite(ev);

    internal void Complete() => _channel.Writer.TryComplete();

    public IAsyncEnumerator<UnitEvent> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        _channel.Reader.ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

    /// <summary>Stops the stream: no more notifications; a reader gets what was already queued, then the end.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _unsubscribe(this);
        Complete();
    }
}
