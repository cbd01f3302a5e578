using System.Text;
using System.Text.Json;
using Vigil.Tests.Support;
using Vigil.Tether.Mqtt;
using Vigil.Tether.Tests.Pinger;
using Vigil.Tether.Tests.Support;
using Xunit;
using static Vigil.Tether.Tests.Support.MqttTestExtensions;

namespace Vigil.Tether.Tests.Clients;

/// <summary>The broker responders of the client libraries under the real vigil, against a real mosquitto: the vigil-client
/// npm package (clients/node, through tests/fixtures/node/client-app.cjs) and Vigil.Client (tests/fixtures/Vigil.ClientApp).</summary>
[Collection("pinger-cli")]
public sealed class ClientBrokerTests : IDisposable
{
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-node-client-mqtt-");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>vigil run --attach-output of the config; returns once the unit app has printed "up PID".</summary>
    async Task<(VigilProcess Vigil, int Pid)> RunAsync(string config)
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "vigil.yaml"), config);
        var vigil = VigilProcess.Start(_dir.FullName, "run", "--attach-output");
        var up = await vigil.WaitLine(l => l.StartsWith("app | up "), "the app's up line", Wait);
        return (vigil, int.Parse(up["app | up ".Length..], System.Globalization.CultureInfo.InvariantCulture));
    }

    static async Task ShutdownAsync(VigilProcess vigil, int pid)
    {
        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit(Wait));
        Assert.False(Procs.Alive(pid));
        Assert.Contains("app | stopping via message", vigil.Out);
    }

    [Theory]
    [InlineData("node")]
    [InlineData("dotnet")]
    public async Task The_tether_pong_responder_makes_a_tether_readiness_probe_pass(string lang)
    {
        await using var broker = await PingPongTests.StartBrokerAsync();
        var (vigil, pid) = await RunAsync($$"""
            tether: { host: {{broker.Host}}, port: {{broker.Port}}, username: tether, password: "sp_ceB0ss!" }
            processes:
              - name: app
                {{ClientApp.Command(lang, ipc: true, "--tether", broker.Host, broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "app1")}}
                stop: { timeout: 60s }
                health:
                  - { kind: tether, role: readiness, agentId: app1, interval: 300ms, timeout: 2s }
            """);
        await using var _ = vigil;
        var ready = await vigil.WaitLine(l => l.Contains($" app#{pid} ready: "), "the tether probe's first pass", Wait);
        Assert.Contains("tether", ready);
        Assert.DoesNotContain(vigil.Out, l => l.Contains(" unhealthy: "));
        await ShutdownAsync(vigil, pid);
    }

    [Theory]
    [InlineData("node")]
    [InlineData("dotnet")]
    public async Task The_COPS_responder_answers_over_MQTT_on_the_GETs_reply_topic(string lang)
    {
        await using var broker = await PingPongTests.StartBrokerAsync();
        var (vigil, pid) = await RunAsync($$"""
            processes:
              - name: app
                {{ClientApp.Command(lang, ipc: true, "--cops-mqtt", broker.Host, broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture))}}
                stop: { timeout: 60s }
            """);
        await using var _ = vigil;
        await vigil.WaitLine(l => l == "app | cops-mqtt ready", "the responder subscribed", Wait);
        await using var cops = new MqttClient(Local(broker.Port, "cops-test") with { Username = PingPongTests.Username, Password = PingPongTests.Password });
        await cops.ConnectAsync().WaitAsync(Wait);
        await cops.SubscribeAsync("cops/heartbeat/app").WaitAsync(Wait);
        foreach (var n in new[] { 1L, 2L, 41L })
        {
            // As the probe does: SET, then GET with the reply topic in its payload, on one connection.
            await cops.PublishAsync("site/cops/cops_heartbeat", Encoding.ASCII.GetBytes(n.ToString(System.Globalization.CultureInfo.InvariantCulture))).WaitAsync(Wait);
            await cops.PublishAsync("site/cops", """{"replyTo":"cops/heartbeat/app"}"""u8.ToArray()).WaitAsync(Wait);
            var reply = await cops.Messages.NextAsync();
            Assert.Equal("cops/heartbeat/app", reply.Topic);
            using var json = JsonDocument.Parse(reply.Payload);
            Assert.Equal(n, json.RootElement.GetProperty("cops_heartbeat").GetInt64());
            Assert.Equal(pid, json.RootElement.GetProperty("pid").GetInt32());
            Assert.Equal("test-1", json.RootElement.GetProperty("version_tag").GetString());
        }
        await ShutdownAsync(vigil, pid);
    }
}
