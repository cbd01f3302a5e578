using Microsoft.Extensions.Logging;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Supervision;

/// <summary>What only an operator can act on goes to the supervisor's logger, with a stable event id and name.</summary>
[Collection("processes")]
public sealed class LoggingTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_failing_output_sink_is_logged_with_its_event_id_and_the_child_keeps_running()
    {
        var log = new TestLog();
        await using var sup = new Supervisor(new SupervisorOptions { LoggerFactory = log });
        using var rec = new Recorder(sup);
        using var sink = sup.OnOutput(_ => throw new InvalidOperationException("sink broke"));
        var unit = sup.Start(Fixture.Spec("talker", "marker", "up", "hang"));
        var up = await rec.Marker("up");
        Assert.True(await Procs.Eventually(() => log.Entries.Any(e => e.Id.Id == 204), Wait), "no OutputSinkFailed entry");
        var entry = log.Entries.First(e => e.Id.Id == 204);
        Assert.Equal("OutputSinkFailed", entry.Id.Name);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Equal("Vigil.Supervision", entry.Category);
        Assert.Equal($"output sink failed for talker#{up.Pid}: sink broke", entry.Message);
        Assert.IsType<InvalidOperationException>(entry.Exception);
        Assert.True(Procs.Alive(up.Pid)); // the pipe reader went on: no SIGPIPE for the child
        Assert.Equal(UnitState.Running, unit.State);
    }

    [Fact]
    public async Task An_internal_unit_error_is_logged_as_UnitFault()
    {
        var time = new FakeTimeProvider();
        var launcher = new FakeLauncher(time);
        var log = new TestLog();
        await using var sup = new Supervisor(FakeSupervision.Options(time, launcher) with { LoggerFactory = log });
        using var rec = new Recorder(sup);
        launcher.ThrowOnNextSpawn = new InvalidOperationException("launcher broke");
        sup.Start(new ProcessSpec { Name = "broken", Command = ["worker"] });
        await rec.Event<InternalError>();
        var entry = Assert.Single(log.Entries, e => e.Id.Id == 201);
        Assert.Equal("UnitFault", entry.Id.Name);
        Assert.Equal(LogLevel.Critical, entry.Level);
        Assert.StartsWith("internal error in unit broken: System.InvalidOperationException: launcher broke", entry.Message);
    }
}
