using Vigil.Config;
using Vigil.Control.Tests.Support;
using Vigil.Health;
using Vigil.Specs;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Control.Tests;

/// <summary>
/// AFTER MERGE: verbs whose engine half is being built on other branches (issue 11) while this one was written:
/// Supervisor.RemoveAsync (h-engine), ConfigWriter.ToYaml and ConfigChecks.Check (h-engine), Unit.ProbeStatuses
/// (h-sm). Today they throw NotImplementedException or return placeholders, so these tests are skipped; they are
/// written in full. Once those branches are merged into main, delete the Skip (one constant below) and run them.
/// </summary>
[Collection("processes")]
public sealed class AfterMergeTests
{
    const string Skip = "needs Supervisor.RemoveAsync / ConfigWriter.ToYaml / ConfigChecks.Check / Unit.ProbeStatuses from the other issue-11 branches; remove this Skip after merging";

    [Fact(Skip = Skip)]
    public async Task Remove_stops_the_units_and_forgets_them()
    {
        await using var kit = await ControlKit.StartAsync();
        int web = await kit.StartUpAsync(ControlKit.Up("web"));
        int db = await kit.StartUpAsync(ControlKit.Up("db"));
        var removed = Assert.Single(await kit.Client.RemoveAsync(["web"]));
        Assert.Equal(("web", "removed", true, web), (removed.Name, removed.Outcome, removed.Ok, removed.Pid));
        Assert.False(Procs.Alive(web));
        Assert.Equal(["db"], (await kit.Client.ListAsync()).Select(r => r.Name));
        Assert.True(Procs.Alive(db));
        var again = await Assert.ThrowsAsync<ControlException>(() => kit.Client.RemoveAsync(["web"]));
        Assert.Equal(ControlErrors.NoSuchUnit, again.Code);
    }

    [Fact(Skip = Skip)]
    public async Task Save_writes_the_running_set_as_a_config_the_loader_reads_back()
    {
        await using var kit = await ControlKit.StartAsync(configPath: "/etc/vigil/app.yaml");
        await kit.StartUpAsync(ControlKit.Up("web") with { Restart = RestartSpec.Default with { Policy = RestartPolicyKind.OnFailure } });
        await kit.Client.AddAsync(new AddRequest { Name = "added", Command = [Fixture.Path, "marker", "up", "hang"], Cwd = kit.Dir.FullName });
        var saved = await kit.Client.SaveAsync();
        Assert.Equal(("/etc/vigil/app.yaml", 2), (saved.ConfigPath, saved.Units));
        var config = ConfigLoader.Parse(saved.Yaml, "saved.yaml", kit.Dir.FullName);
        Assert.Equal(["web", "added"], config.Processes.Select(p => p.Name));
        Assert.Equal(RestartPolicyKind.OnFailure, config.Processes[0].Restart.Policy);
        Assert.Equal(kit.Dir.FullName, config.Processes[1].Cwd);
    }

    [Fact(Skip = Skip)]
    public async Task Add_refuses_a_command_that_cannot_be_found_with_the_checks_details()
    {
        await using var kit = await ControlKit.StartAsync();
        var e = await Assert.ThrowsAsync<ControlException>(() => kit.Client.AddAsync(new AddRequest { Name = "ghost", Command = ["/nonexistent/vigil-test-program"] }));
        Assert.Equal(ControlErrors.ConfigError, e.Code);
        Assert.NotEmpty(e.Details);
        Assert.Contains("/nonexistent/vigil-test-program", e.Message);
        Assert.Empty(kit.Sup.Units);
    }

    [Fact(Skip = Skip)]
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
        Assert.Contains("memory: tree RSS", probe.Detail);
    }
}
