using System.Threading.Channels;

namespace Vigil.Logs;

/// <summary>
/// A custom destination for a unit's lines (Ligato's <c>Writer</c>): a delegate, a <see cref="TextWriter"/> or a
/// <see cref="Stream"/>. Lines are queued and written by a task of the sink's own, so a slow or blocking sink
/// never stalls the pipe reader (and so never the child); past <see cref="Capacity"/> queued lines, new ones are
/// dropped and counted in <see cref="Dropped"/>.
/// </summary>
public sealed class OutputSink : IAsyncDisposable
{
    public const int Capacity = 100_000;

    private readonly Channel<OutputLine> _queue = Channel.CreateBounded<OutputLine>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait }); // TryWrite then fails when full (DropWrite would report success)
    private readonly Func<OutputLine, ValueTask> _write;
    private readonly Func<ValueTask>? _flush;
    private readonly Task _pump;
    private long _dropped;

    private OutputSink(Func<OutputLine, ValueTask> write, Func<ValueTask>? flush)
    {
        _write = write;
        _flush = flush;
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>Lines that did not fit in the queue (the sink was too slow).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public static OutputSink FromDelegate(Action<OutputLine> onLine) =>
        new(l => { onLine(l); return ValueTask.CompletedTask; }, null);

    /// <summary>Writes <c>name: line</c> per line (the bytes decoded as UTF-8).</summary>
    public static OutputSink FromWriter(TextWriter writer) =>
        new(l => { writer.WriteLine($"{l.Name}: {l.Text}"); return ValueTask.CompletedTask; }, () => new ValueTask(writer.FlushAsync()));

    /// <summary>Writes each line's exact bytes followed by <c>\n</c>.</summary>
    public static OutputSink FromStream(Stream stream) =>
        new(async l => { await stream.WriteAsync(l.Bytes).ConfigureAwait(false); stream.WriteByte((byte)'\n'); },
            () => new ValueTask(stream.FlushAsync()));

    /// <summary>Queues a line; never blocks.</summary>
    public void Post(OutputLine line)
    {
        if (!_queue.Writer.TryWrite(line)) Interlocked.Increment(ref _dropped);
    }

    private async Task PumpAsync()
    {
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (_queue.Reader.TryRead(out var line))
            {
                try { await _write(line).ConfigureAwait(false); }
                catch (Exception) { Interlocked.Increment(ref _dropped); }
            }
            if (_flush is not null)
                try { await _flush().ConfigureAwait(false); } catch (Exception) { }
        }
    }

    /// <summary>Writes what is queued, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _pump.ConfigureAwait(false);
    }
}
