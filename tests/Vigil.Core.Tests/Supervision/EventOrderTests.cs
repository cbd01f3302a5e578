using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Supervision;

/// <summary>Integration: a unit's events come out of its one loop in causal and time order, news from other threads
/// (a leftover cleanup) included, and no output line of a run is older than the run's spawned event.</summary>
[Collection("processes")]
public sealed class EventOrderTests
{
    [Fact]
    public async Task Leftovers_of_a_run_are_told_after_its_exit_and_before_the_next_run_in_time_order()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // Each run leaves a backgrounded sleep in its session: cleaned (and told, from the cleanup task) before the next run.
        var unit = sup.Start(new ProcessSpec { Name = "leaky", Command = ["sh", "-c", "sleep 30 & echo up; exit 1"] }.WithSchedule(1)
            .WithStop(TimeSpan.FromSeconds(2)));
        var second = await rec.Event<Spawned>(e => e.RestartCount == 1, timeout: TimeSpan.FromSeconds(30));
        await rec.Line(l => l.Pid == second.Pid, "a line of the second run");
        await unit.StopAndWaitAsync();

        var events = rec.Events.Where(e => e.UnitId == unit.Id).ToList();
        var story = string.Join("\n  ", events);
        int exited = events.FindIndex(e => e is Exited);
        int cleaned = events.FindIndex(e => e is LeftoversCleaned);
        int respawned = events.IndexOf(second);
        Assert.True(exited >= 0 && exited < cleaned && cleaned < respawned, "exit, leftovers, next run:\n  " + story);
        Assert.Equal(UnitState.Backoff, events[cleaned].State); // the restart waited for the cleanup
        Assert.All(events.Zip(events.Skip(1)), pair => Assert.True(pair.First.Time <= pair.Second.Time, $"{pair.First} before {pair.Second}:\n  {story}"));
        foreach (var line in rec.Lines.Where(l => l.Name == "leaky"))
        {
            var spawned = events.OfType<Spawned>().Single(s => s.Pid == line.Pid);
            Assert.True(line.Time >= spawned.Time, $"'{line.Text}' at {line.Time:HH:mm:ss.ffffff} is older than its spawn at {spawned.Time:HH:mm:ss.ffffff}");
        }
    }
}
