using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Supervision;

/// <summary>
/// Which /proc status changes are events (<see cref="SupervisorOptions.StatusEvents"/>). Unit: observations posted to
/// a unit as the status watcher posts them, one at a time, each followed by a fence. Integration: a real fixture
/// child stopped and continued with SIGSTOP/SIGCONT.
/// </summary>
[Collection("processes")]
public sealed class StatusEventTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static async Task Walk(StatusEvents mode, (ProcessStatus Status, bool Lasting, string? Event)[] steps)
    {
        var f = new FakeSupervision(mode);
        await using var sup = f.Sup;
        using var rec = f.Rec;
        var fences = new Fences(rec, f.Time);
        var unit = sup.Start(new ProcessSpec { Name = "worker", Command = ["worker"] });
        var p = (await f.Launcher.Spawn(0).WaitAsync(Wait)).Process!;
        await fences.Pass(unit);
        foreach (var (status, lasting, expected) in steps)
        {
            unit.Post(new Unit.StatusObserved(p.Pid, status, lasting));
            var told = (await fences.Pass(unit)).OfType<StatusChanged>().Select(e => e.Reason).ToList();
            var step = $"{status}{(lasting ? " (again)" : "")}";
            Assert.True(told.SequenceEqual(expected is null ? [] : [expected]), $"{mode}, {step}: events [{string.Join(", ", told)}], expected [{expected}]");
            Assert.Equal(status, unit.Status); // the snapshot follows every change
        }
    }

    [Fact]
    public async Task By_default_only_notable_statuses_and_the_return_from_them_are_events()
    {
        Assert.Equal(StatusEvents.Significant, new SupervisorOptions().StatusEvents);
        await Walk(StatusEvents.Significant,
        [
            (ProcessStatus.Sleeping, false, null),
            (ProcessStatus.Running, false, null),
            (ProcessStatus.DiskSleep, false, null),                 // a moment of I/O
            (ProcessStatus.Sleeping, false, null),
            (ProcessStatus.DiskSleep, false, null),
            (ProcessStatus.DiskSleep, true, "sleeping → disk sleep"), // seen on two observations in a row: it lasts
            (ProcessStatus.Running, false, "disk sleep → running"),
            (ProcessStatus.Sleeping, false, null),
            (ProcessStatus.Stopped, false, "sleeping → stopped"),
            (ProcessStatus.TracingStop, false, "stopped → tracing stop"),
            (ProcessStatus.Sleeping, false, "tracing stop → sleeping"),
            (ProcessStatus.Zombie, false, "sleeping → zombie"),
            (ProcessStatus.Unavailable, false, "zombie → unavailable"),
        ]);
    }

    [Fact]
    public async Task With_StatusEvents_All_every_change_is_an_event()
    {
        await Walk(StatusEvents.All,
        [
            (ProcessStatus.Sleeping, false, "running → sleeping"),
            (ProcessStatus.Running, false, "sleeping → running"),
            (ProcessStatus.DiskSleep, false, "running → disk sleep"),
            (ProcessStatus.DiskSleep, true, null), // no change
            (ProcessStatus.Sleeping, false, "disk sleep → sleeping"),
            (ProcessStatus.Stopped, false, "sleeping → stopped"),
        ]);
    }

    [Theory]
    [InlineData(StatusEvents.Significant)]
    [InlineData(StatusEvents.All)]
    public async Task A_SIGSTOPped_child_is_a_stopped_event_and_its_return_one_more(StatusEvents mode)
    {
        await using var sup = new Supervisor(new SupervisorOptions { StatusInterval = TimeSpan.FromMilliseconds(50), StatusEvents = mode });
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("frozen", "marker", "up", "hang"));
        await rec.Marker("up");
        Assert.True(await Procs.Eventually(() => unit.Status == ProcessStatus.Sleeping), $"status {unit.Status}, not sleeping");

        Assert.True(await unit.SignalAsync(Signals.SIGSTOP));
        var stopped = await rec.Event<StatusChanged>(e => e.To == ProcessStatus.Stopped, "stopped");
        Assert.Equal(ProcessStatus.Sleeping, stopped.From);
        Assert.Equal(UnitState.Running, stopped.State);
        Assert.True(await unit.SignalAsync(Signals.SIGCONT));
        var back = await rec.Event<StatusChanged>(e => e.From == ProcessStatus.Stopped, "back from stopped");
        Assert.True(back.To is ProcessStatus.Sleeping or ProcessStatus.Running, back.Reason);
        Assert.True(await Procs.Eventually(() => unit.Status == ProcessStatus.Sleeping), $"status {unit.Status}, not sleeping again");

        var told = rec.Events.OfType<StatusChanged>().ToList();
        var quiet = told.Where(e => e.To is ProcessStatus.Running or ProcessStatus.Sleeping && e.From is ProcessStatus.Running or ProcessStatus.Sleeping).ToList();
        if (mode == StatusEvents.Significant) Assert.Empty(quiet); // the flips between running and sleeping
        else Assert.Contains(quiet, e => e.From == ProcessStatus.Running && e.To == ProcessStatus.Sleeping); // the first observation
        await unit.StopAndWaitAsync();
    }
}
