using Vigil.Tests.Support;
using Vigil.Tether.Tests.Support;
using Xunit;

namespace Vigil.Tether.Tests.Pinger;

/// <summary>`vigil run` with a kind: tether probe on a unit that is a real tether-agent 3.2.1 app.</summary>
[Collection("pinger-cli")]
public sealed class TetherProbeRunTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-tether-run-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task Tether_probe_restarts_a_hung_unit_under_vigil_run()
    {
        await using var broker = await PingPongTests.StartBrokerAsync();
        var script = Path.Combine(NodeFixture.Folder, "tether-target.cjs");
        File.WriteAllText(Path.Combine(_dir.FullName, "vigil.yaml"), $$"""
            tether: { host: {{broker.Host}}, port: {{broker.Port}}, username: tether, password: "sp_ceB0ss!" }
            processes:
              - name: kiosk
                command: [node, "{{script}}", "{{broker.Host}}", "{{broker.Port}}", kiosk, worker1, --hang-after, "3"]
                cwd: {{NodeFixture.Folder}}
                restart: { schedule: [100ms] }
                stop: { timeout: 1s }
                health:
                  - { kind: tether, agentId: worker1, interval: 300ms, timeout: 500ms, allowance: 2, initialDelay: 1s }
            """);
        await using var vigil = VigilProcess.Start(_dir.FullName, "run", "--attach-output");
        var first = await vigil.WaitLine(l => l.Contains(" kiosk#") && l.Contains(" spawned: "), "the first spawn");
        await vigil.WaitLine(l => l.Contains("kiosk | pong 3"), "three pongs");
        var unhealthy = await vigil.WaitLine(l => l.Contains(" unhealthy: "), "the unhealthy event");
        Assert.Contains("hung: no pong within 500ms (agent worker1) (tether probe, 2 failed check(s))", unhealthy);
        int pid = Procs.ParsePid(first, "kiosk#");
        await vigil.WaitLine(l => l.Contains(" spawned: ") && l.Contains(" kiosk#") && !l.Contains($"kiosk#{pid} "), "the respawn");
        await vigil.WaitLine(l => l.Contains("kiosk | pong 1") && vigil.Out.Count(o => o.Contains("kiosk | pong 1")) >= 2, "pongs of the new run");

        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit());
        Assert.False(Procs.Alive(pid));
    }
}
