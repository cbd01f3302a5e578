using System.Runtime.CompilerServices;

namespace Vigil.Control;

/// <summary>
/// A follower's bounded queue: <see cref="Offer"/> never blocks (the publisher is Vigil's own event task); when the
/// reader falls <see cref="Capacity"/> items behind, new items are dropped and counted, and the reader gets one notice
/// (made by <paramref name="notice"/> from the count) at the place of the gap, before the items that follow it.
/// </summary>
internal sealed class Feed<T>(int capacity, Func<long, T> notice) where T : class
{
    private readonly Queue<T> _queue = new();
    private long _dropped;
    private bool _completed;
    private TaskCompletionSource? _waiter;

    public int Capacity => capacity;

    public void Offer(T item)
    {
        TaskCompletionSource? wake;
        lock (_queue)
        {
            if (_completed) return;
            if (_dropped > 0)
            {
                // The notice and the item need two places; until there are, the gap only grows.
                if (_queue.Count + 2 > capacity) { _dropped++; return; }
                _queue.Enqueue(notice(_dropped));
                _dropped = 0;
            }
            if (_queue.Count >= capacity) { _dropped++; return; }
            _queue.Enqueue(item);
            wake = _waiter;
            _waiter = null;
        }
        wake?.TrySetResult();
    }

    /// <summary>No more items: the reader ends after what is queued.</summary>
    public void Complete()
    {
        TaskCompletionSource? wake;
        lock (_queue)
        {
            _completed = true;
            wake = _waiter;
            _waiter = null;
        }
        wake?.TrySetResult();
    }

    public async IAsyncEnumerable<T> ReadAllAsync([EnumeratorCancellation] CancellationToken cancel = default)
    {
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            T? item = null;
            Task? wait = null;
            bool ended = false;
            lock (_queue)
            {
                if (!_queue.TryDequeue(out item))
                {
                    if (_completed) ended = true;
                    else
                    {
                        _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        wait = _waiter.Task;
                    }
                }
            }
            if (ended) yield break;
            if (item is not null) yield return item;
            else await wait!.WaitAsync(cancel).ConfigureAwait(false);
        }
    }
}
