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

    /// <summary>vigil run with one unit, kiosk: a tether-target.cjs (agent worker1) that hangs after <paramref name="hangAfter"/>
    /// pongs, under a tether probe every 300 ms with a 500 ms timeout and an allowance of 2.</summary>
    VigilProcess StartKiosk(Mosquitto broker, int hangAfter, string probeExtra = "")
    {
        var script = Path.Combine(NodeFixture.Folder, "tether-target.cjs");
        File.WriteAllText(Path.Combine(_dir.FullName, "vigil.yaml"), $$"""
            tether: { host: {{broker.Host}}, port: {{broker.Port}}, username: tether, password: "sp_ceB0ss!" }
            processes:
              - name: kiosk
                command: [node, "{{script}}", "{{broker.Host}}", "{{broker.Port}}", kiosk, worker1, --hang-after, "{{hangAfter}}"]
                cwd: {{NodeFixture.Folder}}
                restart: { schedule: [100ms] }
                stop: { timeout: 1s }
                health:
                  - { kind: tether, agentId: worker1, interval: 300ms, timeout: 500ms, allowance: 2, initialDelay: 1s{{probeExtra}} }
            """);
        return VigilProcess.Start(_dir.FullName, "run", "--attach-output");
    }

    [Fact]
    public async Task Tether_probe_restarts_a_hung_unit_under_vigil_run()
    {
        await using var broker = await PingPongTests.StartBrokerAsync();
        await using var vigil = StartKiosk(broker, hangAfter: 3);
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

    [Fact]
    public async Task A_broker_outage_pauses_tether_probes_instead_of_restarting_the_unit_and_a_hang_after_they_resume_is_still_caught()
    {
        await using var broker = await PingPongTests.StartBrokerAsync();
        await using var vigil = StartKiosk(broker, hangAfter: 10, ", grace: 2s");
        var first = await vigil.WaitLine(l => l.Contains(" kiosk#") && l.Contains(" spawned: "), "the first spawn");
        int pid = Procs.ParsePid(first, "kiosk#");
        await vigil.WaitLine(l => l.Contains("kiosk | pong 3"), "three pongs");

        await broker.StopAsync();
        var paused = await vigil.WaitLine(l => l.Contains(" probes-paused: "), "the paused event");
        Assert.Contains($" kiosk#{pid} probes-paused: tether probe paused: tether broker unreachable: ", paused);
        // Several probe intervals (300 ms) of outage: the target's own reconnect attempts, one a second, are the clock.
        await vigil.WaitLine(l => vigil.Out.Count(o => o.EndsWith("kiosk | reconnecting", StringComparison.Ordinal)) >= 4, "four reconnect attempts of the target");
        Assert.DoesNotContain(vigil.Out, l => l.Contains(" unhealthy: ") || l.Contains(" exited: ") || l.Contains(" killed: "));
        Assert.Single(vigil.Out, l => l.Contains(" spawned: "));
        // Paused once, not per check: a pong in flight when the broker went can resume it once in between, but a
        // pause always follows a resume (a busy host made that happen once in CI).
        var pauses = vigil.Out.Where(l => l.Contains(" probes-paused: ") || l.Contains(" probes-resumed: ")).ToList();
        Assert.Contains(" probes-paused: ", pauses[^1]);
        for (int i = 0; i < pauses.Count; i++)
            Assert.Contains(i % 2 == 0 ? " probes-paused: " : " probes-resumed: ", pauses[i]);
        Assert.True(pauses.Count <= 3, string.Join('\n', pauses));
        Assert.True(Procs.Alive(pid));

        await broker.StartAsync();
        int before = vigil.Out.Count;
        var resumed = await vigil.WaitLine(l => l.Contains(" probes-resumed: ") && vigil.Out.ToList().IndexOf(l) >= before, "the resumed event");
        Assert.Contains($" kiosk#{pid} probes-resumed: tether probe resumed: pong in ", resumed);
        Assert.DoesNotContain(vigil.Out, l => l.Contains(" unhealthy: "));
        Assert.True(Procs.Alive(pid));

        // The target hangs after its 10th pong, with the broker up: still detected once the grace is over.
        await vigil.WaitLine(l => l.Contains("kiosk | hanging"), "the hang");
        var unhealthy = await vigil.WaitLine(l => l.Contains(" unhealthy: "), "the unhealthy event");
        Assert.Contains($" kiosk#{pid} unhealthy: hung: no pong within 500ms (agent worker1) (tether probe, 2 failed check(s))", unhealthy);
        await vigil.WaitLine(l => l.Contains(" spawned: ") && !l.Contains($"kiosk#{pid} "), "the respawn");

        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit());
        Assert.False(Procs.Alive(pid));
    }
}
