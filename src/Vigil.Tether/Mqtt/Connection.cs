namespace Vigil.Tether.Mqtt;

/// <summary>
/// One open transport after CONNACK: the stream, a write lock so packets from any caller never interleave, and
/// the signals of this connection's life. A connection is never reused; a reconnect makes a new one.
/// </summary>
internal sealed class Connection(Stream stream) : IAsyncDisposable
{
    readonly SemaphoreSlim _writeLock = new(1, 1);
    readonly CancellationTokenSource _cts = new();
    readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    TaskCompletionSource? _pong;

    public Stream Stream => stream;

    /// <summary>Cancelled when the connection is aborted (error, loss or dispose).</summary>
    public CancellationToken Aborted => _cts.Token;

    /// <summary>Completes once the client has torn this connection down and gone offline.</summary>
    public Task Closed => _closed.Task;

    /// <summary>Completes when the session is renewed (subscriptions, resends) and the client is online; faults if that failed.</summary>
    public TaskCompletionSource Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Writes one whole packet. <paramref name="ct"/> can only cancel the wait for the write lock: once a packet
    /// starts it is finished or the connection is aborted, since half a packet would corrupt the stream.
    /// </summary>
    public async Task SendAsync(ReadOnlyMemory<byte> packet, CancellationToken ct = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _cts.Token);
        try { await _writeLock.WaitAsync(linked.Token); }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { throw new MqttException("the connection is closed"); }
        try
        {
            await stream.WriteAsync(packet, _cts.Token);
            await stream.FlushAsync(_cts.Token);
        }
        catch (Exception ex)
        {
            Abort();
            throw new MqttException(_cts.IsCancellationRequested ? "the connection is closed" : "connection lost while sending: " + ex.Message, ex);
        }
        finally { _writeLock.Release(); }
    }

    /// <summary>Arms the wait for the next PINGRESP.</summary>
    public Task ExpectPong()
    {
        var pong = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _pong, pong);
        return pong.Task;
    }

    public void PongReceived() => Volatile.Read(ref _pong)?.TrySetResult();

    int _strays;
    string? _lastStray;

    /// <summary>Acknowledgements that matched no pending request (a late answer, or a broker that answered with another
    /// packet id); counted so a request that times out can say what came instead.</summary>
    public int Strays => Volatile.Read(ref _strays);
    public string? LastStray => Volatile.Read(ref _lastStray);

    public void NoteStray(string what)
    {
        Volatile.Write(ref _lastStray, what);
        Interlocked.Increment(ref _strays);
    }

    /// <summary>Cancels every pending read and write on this connection; idempotent.</summary>
    public void Abort()
    {
        try { _cts.Cancel(); } catch (ObjectDisposedException) { }
    }

    public void MarkClosed() => _closed.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        Abort();
        MarkClosed();
        try { await stream.DisposeAsync(); } catch (Exception) { /* already broken; nothing left to release */ }
    }
}
