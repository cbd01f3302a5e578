using Vigil.Control.Tests.Support;
using Vigil.Health;
using Vigil.Specs;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Control.Tests;

/// <summary>`status` shows each probe of a unit with its last result, latency and failures (Unit.ProbeStatuses).</summary>
[Collection("processes")]
public sealed class StatusProbeTests
{
    [Fact]
    public async Task Status_shows_each_probes_last_result_and_latency()
    {
        await using var kit = await ControlKit.StartAsync();
        await kit.StartUpAsync(ControlKit.Up("web") with
        {
            Health = [new ProbeSpec(new MemoryCheck(1L << 40)) { Name = "mem", Period = TimeSpan.FromMilliseconds(100) }],
        });
        Assert.True(await Procs.Eventually(() => kit.Sup.Units[0].ProbeStatuses.Any(p => p.At is not null)), "no probe result");
        var probe = Assert.Single(Assert.Single(await kit.Client.StatusAsync("web")).Probes);
        Assert.Equal(("mem", "memory", "liveness", "ok"), (probe.Name, probe.Kind, probe.Role, probe.Result));
        Assert.NotNull(probe.LatencyMs);
        Assert.NotNull(probe.At);
        Assert.Equal(0, probe.ConsecutiveFailures);
        Assert.Null(probe.Detail); // no check has failed

        // A probe failing under its threshold: what its last failed check said.
        await kit.StartUpAsync(ControlKit.Up("hog") with
        {
            Health = [new ProbeSpec(new MemoryCheck(4096)) { Name = "tight", Period = TimeSpan.FromMilliseconds(100), FailureThreshold = 1000 }],
        });
        Assert.True(await Procs.Eventually(() => kit.Sup.Units[1].ProbeStatuses.Any(p => p.ConsecutiveFailures > 0)), "the tight probe never failed");
        var failing = Assert.Single(Assert.Single(await kit.Client.StatusAsync("hog")).Probes);
        Assert.Equal(("tight", "failing"), (failing.Name, failing.Result));
        Assert.True(failing.ConsecutiveFailures > 0);
        Assert.Contains("over max", failing.Detail);
    }
}
