using System.Collections;
using Vigil.Health;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;

namespace Vigil.Tests.Supervision;

/// <summary>A supervisor for unit tests of the state machine: the fake clock and launcher (no process is spawned), and
/// a recorder of its events. Test harnesses build on it.</summary>
internal class FakeSupervision
{
    public FakeTimeProvider Time { get; } = new();
    public FakeLauncher Launcher { get; }
    public Supervisor Sup { get; }
    public Recorder Rec { get; }

    public FakeSupervision(StatusEvents statusEvents = StatusEvents.Significant)
    {
        Launcher = new FakeLauncher(Time);
        Sup = new Supervisor(Options(Time, Launcher) with { StatusEvents = statusEvents });
        Rec = new Recorder(Sup);
    }

    // The /proc status poller is switched off (an infinite interval never arms its timer): it would read fake PIDs, find
    // nothing and post "unavailable" every fake second, adding timers and events no test is about.
    public static SupervisorOptions Options(FakeTimeProvider time, FakeLauncher launcher) =>
        new() { Time = time, Launcher = launcher, Subreaper = false, StatusInterval = Timeout.InfiniteTimeSpan };
}

/// <summary>Library probes (<see cref="CustomCheck"/>) that put a unit where a test needs it.</summary>
internal static class TestProbes
{
    /// <summary>A liveness probe whose every check fails at once (threshold 1): the unit stops the run as unhealthy.</summary>
    public static ProbeSpec Failing(string why = "hung: test") =>
        new(new CustomCheck("hang", () => new Fixed(ProbeResult.Fail(why)))) { FailureThreshold = 1 };

    /// <summary>A probe whose first check (of the first <paramref name="runs"/> runs) reports a gauge that cannot be
    /// read: the unit's loop fails on it, an internal error with a process running.</summary>
    public static ProbeSpec Poisoned(int runs = int.MaxValue)
    {
        int made = 0;
        return new(new CustomCheck("poison", () => new Fixed(Interlocked.Increment(ref made) <= runs ? ProbeResult.Ok("ok", new PoisonedGauges()) : ProbeResult.Ok())));
    }

    private sealed class Fixed(ProbeResult result) : IProbe
    {
        public ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel) => ValueTask.FromResult(result);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class PoisonedGauges : IReadOnlyDictionary<string, double>
    {
        public int Count => 1;
        public IEnumerator<KeyValuePair<string, double>> GetEnumerator() => throw new InvalidOperationException("poisoned gauge");
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        public double this[string key] => throw new KeyNotFoundException(key);
        public IEnumerable<string> Keys => [];
        public IEnumerable<double> Values => [];
        public bool ContainsKey(string key) => false;
        public bool TryGetValue(string key, out double value) { value = 0; return false; }
    }
}

/// <summary>
/// "The unit has handled everything posted to it so far": a log event is sent through the unit's inbox (as a log file's
/// trouble is) and comes back published after every event the unit published before it. A test compares what a message
/// did by the events between two fences, without sleeping.
/// </summary>
internal sealed class Fences(Recorder rec, TimeProvider time)
{
    private int _count, _after;

    /// <summary>Waits for the fence and returns <paramref name="u"/>'s events since the previous fence (or the start).</summary>
    public async Task<List<UnitEvent>> Pass(Unit u)
    {
        var path = $"fence-{++_count}";
        u.PublishLogEvent(new LogResumed(time.GetUtcNow(), u.Id, u.Name, UnitState.Initial, path, 0));
        var events = await rec.WaitFor((evs, _) => evs.Any(e => e is LogResumed l && l.Path == path) ? evs.ToList() : null, path, TimeSpan.FromSeconds(10));
        int end = events.FindIndex(e => e is LogResumed l && l.Path == path);
        var since = events.Take(end).Skip(_after).Where(e => e.UnitId == u.Id).ToList();
        _after = end + 1;
        return since;
    }
}
