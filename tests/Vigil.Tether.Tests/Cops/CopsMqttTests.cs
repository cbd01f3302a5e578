using Vigil.Tests.Support;
using Vigil.Tether.Tests.Pinger;
using Vigil.Tether.Tests.Support;
using Xunit;

namespace Vigil.Tether.Tests.Cops;

/// <summary><c>kind: cops</c> over MQTT (real mosquitto) under the real <c>vigil run</c>, against a node responder the
/// test started itself: Vigil watches it as an external unit and kills it by PID when it hangs.</summary>
[Collection("pinger-cli")]
public sealed class CopsMqttTests : IDisposable
{
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-cops-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task A_hung_responder_Vigil_did_not_start_is_killed_by_the_pid_it_reported()
    {
        await using var broker = await PingPongTests.StartBrokerAsync();
        await using var responder = NodeScript.Start("cops-responder.mjs", broker.Host, broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "/site", "--hang-after", "4");
        var ready = await responder.WaitForLineAsync("ready pid=", Wait);
        Assert.Equal($"ready pid={responder.Pid}", ready);
        // COPS's own words for the timing keys (integer milliseconds, as in a COPS file).
        File.WriteAllText(Path.Combine(_dir.FullName, "vigil.yaml"), $$"""
            tether: { host: {{broker.Host}}, port: {{broker.Port}}, username: tether, password: "sp_ceB0ss!" }
            processes:
              - name: site
                attach: { pid: {{responder.Pid}} }
                health:
                  - { kind: cops, mqtt: /site, heartbeatFreq: 300, replyToGetDeadline: 500, heartbeatErrorAllowance: 2, action: kill }
            """);
        await using var vigil = VigilProcess.Start(_dir.FullName, "run");
        await vigil.WaitLine(l => l.Contains($" site#{responder.Pid} spawned: ") && l.Contains("(attached)"), "site attached", Wait);
        await responder.WaitForLineAsync("answered 4", Wait);
        await responder.WaitForLineAsync("hanging", Wait);
        var unhealthy = await vigil.WaitLine(l => l.Contains(" unhealthy: "), "the alarm", Wait);
        Assert.Contains($" site#{responder.Pid} unhealthy: ", unhealthy);
        Assert.Contains("Process site is hung or dead: no reply to heartbeat", unhealthy);
        Assert.Contains($"last reported pid {responder.Pid}", unhealthy);
        Assert.Equal(128 + 9, await responder.ExitedAsync(Wait)); // SIGKILL, from Vigil
        await vigil.WaitLine(l => l.Contains(" site not-restarting: ") || l.Contains(" not-restarting: "), "not restarted", Wait);
        Assert.DoesNotContain(vigil.Out, l => l.Contains(" spawned: ") && !l.Contains("(attached)"));

        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit(Wait));
    }
}
