using System.Collections.Concurrent;
using Vigil.Logs;
using Vigil.Supervision;

namespace Vigil.Tests.Support;

/// <summary>Collects a supervisor's events and output lines and lets a test wait for one, with a timeout (never a bare sleep).</summary>
public sealed class Recorder : IDisposable
{
    private readonly List<UnitEvent> _events = [];
    private readonly List<OutputLine> _lines = [];
    private readonly object _gate = new();
    private readonly IDisposable _a, _b;
    private readonly SemaphoreSlim _changed = new(0);

    public Recorder(Supervisor sup)
    {
        _a = sup.Subscribe(e => { lock (_gate) _events.Add(e); _changed.Release(); });
        _b = sup.OnOutput(l => { lock (_gate) _lines.Add(l); _changed.Release(); });
    }

    public IReadOnlyList<UnitEvent> Events { get { lock (_gate) return _events.ToList(); } }
    public IReadOnlyList<OutputLine> Lines { get { lock (_gate) return _lines.ToList(); } }

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    public async Task<T> WaitFor<T>(Func<IReadOnlyList<UnitEvent>, IReadOnlyList<OutputLine>, T?> probe, string what, TimeSpan? timeout = null) where T : class
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            T? hit;
            lock (_gate) hit = probe(_events, _lines);
            if (hit is not null) return hit;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"timed out waiting for {what}. Events:\n  " + string.Join("\n  ", Events) + "\nLines:\n  " + string.Join("\n  ", Lines.TakeLast(20)));
            await _changed.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    public Task<OutputLine> Line(Func<OutputLine, bool> match, string what, TimeSpan? timeout = null)
    {
        // Each wake-up looks only at the lines that came since the last: a flood of 200,000 lines must not be scanned
        // (and decoded) again per line, under the lock the reactor needs to hand over the next one.
        int from = 0;
        return WaitFor((_, lines) =>
        {
            for (; from < lines.Count; from++)
                if (match(lines[from])) return lines[from];
            return null;
        }, what, timeout);
    }

    public Task<OutputLine> Marker(string marker, TimeSpan? timeout = null) =>
        Line(l => l.Text.StartsWith($"MARKER {marker} "), $"marker {marker}", timeout);

    public Task<TEvent> Event<TEvent>(Func<TEvent, bool>? match = null, string? what = null, TimeSpan? timeout = null) where TEvent : UnitEvent =>
        WaitFor((events, _) => events.OfType<TEvent>().FirstOrDefault(e => match?.Invoke(e) ?? true), what ?? typeof(TEvent).Name, timeout);

    public Task<List<TEvent>> Count<TEvent>(int n, Func<TEvent, bool>? match = null, TimeSpan? timeout = null) where TEvent : UnitEvent =>
        WaitFor((events, _) => { var l = events.OfType<TEvent>().Where(e => match?.Invoke(e) ?? true).ToList(); return l.Count >= n ? l : null; },
            $"{n} x {typeof(TEvent).Name}", timeout);

    public void Dispose() { _a.Dispose(); _b.Dispose(); }
}
