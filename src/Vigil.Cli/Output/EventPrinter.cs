using System.Threading.Channels;
using Vigil.Control;
using Vigil.Logs;
using Vigil.Supervision;

namespace Vigil.Cli.Output;

/// <summary>
/// What <c>vigil run</c> prints: one line per event (<c>time name#pid kind: reason</c>), children's output prefixed
/// with their name when asked, and Vigil's own notices. Everything goes through one queue read by one task, so lines
/// never interleave and come out in the order they happened; a child's output waits for its <c>spawned</c> line
/// (<see cref="SpawnOrder{T}"/>). Producers never block: the reactor thread only enqueues.
/// </summary>
public sealed class EventPrinter : IAsyncDisposable
{
    /// <summary>The longest a line waits for its process's <c>spawned</c> event.</summary>
    public static readonly TimeSpan DefaultHold = TimeSpan.FromSeconds(1);

    private readonly Channel<object> _queue = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TextWriter _writer;
    private readonly Style _outputStyle;
    private readonly TimeProvider _time;
    private readonly SpawnOrder<OutputLine> _order;
    private readonly Task _pump;
    private bool _broken;

    /// <param name="outputStyle">Colours for the <c>name | </c> prefix of children's output.</param>
    public EventPrinter(TextWriter writer, Style outputStyle, TimeProvider? time = null, TimeSpan? hold = null)
    {
        _writer = writer;
        _outputStyle = outputStyle;
        _time = time ?? TimeProvider.System;
        _order = new SpawnOrder<OutputLine>(_time, hold ?? DefaultHold);
        _pump = Task.Run(PumpAsync);
    }

    /// <summary><c>time name#pid kind: reason</c>, as <c>vigil run</c> and <c>vigil events</c> print it.</summary>
    public static string Format(UnitEvent ev) => Format(ev.Time, ev.Name, ev.Pid, ev.Kind, ev.Reason);

    /// <inheritdoc cref="Format(UnitEvent)"/>
    public static string Format(EventInfo ev) => Format(ev.Time, ev.Name, ev.Pid, ev.Kind, ev.Reason);

    private static string Format(DateTimeOffset time, string name, int? pid, string kind, string reason) =>
        $"{time.ToLocalTime():HH:mm:ss.fff} {(pid is { } p ? $"{name}#{p}" : name)} {kind}: {reason}";

    /// <summary>Prints every event of <paramref name="sup"/> until it is disposed. Subscribes before it returns, so
    /// call it before the first unit starts.</summary>
    public Task FollowAsync(Supervisor sup) => Follow(sup.Events());

    private async Task Follow(IAsyncEnumerable<UnitEvent> events)
    {
        await foreach (var ev in events.ConfigureAwait(false)) Event(ev);
    }

    public void Event(UnitEvent ev) => _queue.Writer.TryWrite(ev);

    /// <summary>A child's line (called on the reactor thread: only enqueues).</summary>
    public void Output(OutputLine line) => _queue.Writer.TryWrite(line);

    public void Notice(string text) => _queue.Writer.TryWrite(text);

    /// <summary>Runs <paramref name="action"/> on the printer's task between two lines (reopening the file it writes to).</summary>
    public void Between(Action action) => _queue.Writer.TryWrite(action);

    /// <summary>Prints what is queued (held lines included) and stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _pump.ConfigureAwait(false);
    }

    private async Task PumpAsync()
    {
        var reader = _queue.Reader;
        var print = new List<OutputLine>();
        bool more = true;
        while (more)
        {
            if (_order.UntilNextExpiry() is { } wait)
            {
                using var due = new CancellationTokenSource(wait, _time);
                try { more = await reader.WaitToReadAsync(due.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { }
            }
            else more = await reader.WaitToReadAsync().ConfigureAwait(false);
            while (reader.TryRead(out var item))
            {
                switch (item)
                {
                    case UnitEvent ev:
                        Write(Format(ev));
                        if (ev is Spawned { Pid: { } pid }) _order.Announce(pid, print);
                        break;
                    case OutputLine line: _order.Admit(line.Pid, line, print); break;
                    case string text: Write(text); break;
                    case Action action: Flush(); action(); break;
                }
                WriteLines(print);
            }
            _order.Expire(print);
            if (!more) _order.ReleaseAll(print);
            WriteLines(print);
            Flush();
        }
    }

    private void WriteLines(List<OutputLine> lines)
    {
        foreach (var line in lines) Write(_outputStyle.UnitPrefix(line.UnitId, line.Name) + line.Text);
        lines.Clear();
    }

    // A closed stdout (`vigil run | head`) must not stop the supervisor: what cannot be written is dropped.
    private void Write(string s)
    {
        if (_broken) return;
        try { _writer.WriteLine(s); }
        catch (IOException) { _broken = true; }
    }

    private void Flush()
    {
        if (_broken) return;
        try { _writer.Flush(); }
        catch (IOException) { _broken = true; }
    }
}
