using Vigil.Tether.Agent;
using Vigil.Tether.Mqtt;
using Vigil.Tether.Tests.Support;
using Xunit;

namespace Vigil.Tether.Tests.Agent;

/// <summary>Agents on a real mosquitto with Tether's default credentials, and interop with the npm tether-agent 3.2.1.</summary>
public class TetherAgentTests
{
    static readonly TimeSpan Wait = ClientEvents.Wait;

    static Task<Mosquitto> StartTetherBrokerAsync() =>
        Mosquitto.StartAsync(new MosquittoSettings { Username = TetherDefaults.Username, Password = TetherDefaults.Password });

    static TetherAgentOptions On(Mosquitto broker, string id = TetherTopic.DefaultId) =>
        new() { Id = id, Broker = TetherDefaults.Broker with { Host = broker.Host, Port = broker.Port } };

    [Fact]
    public async Task Output_plugs_publish_on_role_id_plug_and_input_plugs_receive_by_their_filters()
    {
        await using var broker = await StartTetherBrokerAsync();
        await using var sender = await TetherAgent.CreateAsync("sensor", On(broker, "s1")).WaitAsync(Wait);
        await using var receiver = await TetherAgent.CreateAsync("listener", On(broker)).WaitAsync(Wait);
        var any = await receiver.CreateInputAsync("reading").WaitAsync(Wait);
        var byRole = await receiver.CreateInputAsync("reading", role: "other").WaitAsync(Wait);
        var byId = await receiver.CreateInputAsync("reading", id: "s1").WaitAsync(Wait);
        Assert.Equal(("+/+/reading", "other/+/reading", "+/s1/reading"), (any.Topic, byRole.Topic, byId.Topic));

        var output = sender.CreateOutput("reading");
        Assert.Equal("sensor/s1/reading", output.Topic);
        await output.PublishAsync(new byte[] { 1, 2, 3 }).WaitAsync(Wait);
        await sender.CreateOutput("reading", id: "s2").PublishAsync(new byte[] { 4 }).WaitAsync(Wait);

        // The subscriptions overlap, so the broker may send a message more than once; each plug keeps what matches it.
        var first = await any.Messages.NextAsync();
        Assert.Equal("sensor/s1/reading", first.Topic);
        Assert.Equal([1, 2, 3], first.Payload.ToArray());
        var fromId = await byId.Messages.NextAsync();
        Assert.Equal("sensor/s1/reading", fromId.Topic);
        MqttMessage second;
        do second = await any.Messages.NextAsync(); while (second.Topic == "sensor/s1/reading");
        Assert.Equal("sensor/s2/reading", second.Topic);
        Assert.False(byRole.Messages.TryRead(out var wrong), $"role filter 'other' let through {wrong?.Topic}");
    }

    [Fact]
    public async Task Two_agents_with_one_role_stay_connected_side_by_side()
    {
        await using var broker = await StartTetherBrokerAsync();
        await using var a = await TetherAgent.CreateAsync("twin", On(broker)).WaitAsync(Wait);
        var aEvents = new ClientEvents(a.Client);
        await using var b = await TetherAgent.CreateAsync("twin", On(broker)).WaitAsync(Wait);
        Assert.NotEqual(a.Client.Options.ClientId, b.Client.Options.ClientId);

        // Had they shared a client id, mosquitto would have dropped a when b connected; a round trip proves a is alive.
        var input = await a.CreateInputAsync("echo").WaitAsync(Wait);
        await b.CreateOutput("echo").PublishAsync().WaitAsync(Wait);
        var m = await input.Messages.NextAsync();
        Assert.Equal(("twin/any/echo", 0), (m.Topic, m.Payload.Length));
        Assert.Equal(0, aEvents.Count(MqttEventKind.Disconnected));
    }

    [Fact]
    public async Task Wrong_credentials_fail_agent_creation_with_a_clear_error()
    {
        await using var broker = await StartTetherBrokerAsync();
        var options = On(broker) with { Broker = On(broker).Broker with { Password = "wrong" } };
        var ex = await Assert.ThrowsAsync<MqttConnectException>(() => TetherAgent.CreateAsync("x", options).WaitAsync(Wait));
        Assert.Contains("refused the connection", ex.Message);
    }

    [Fact]
    public async Task The_JS_tether_agent_answers_our_ping_with_a_pong()
    {
        await using var broker = await StartTetherBrokerAsync();
        await using var node = NodeScript.Start("tether-echo.mjs", broker.Host, broker.Port.ToString(), "echoApp", "echo1");
        await node.WaitForLineAsync("ready", Wait);

        await using var pinger = await TetherAgent.CreateAsync("processPinger", On(broker, "x")).WaitAsync(Wait);
        var pongs = await pinger.CreateInputAsync("pong").WaitAsync(Wait);
        var ping = pinger.CreateOutput("ping");
        byte[] payload = [0x81, 0xA3, (byte)'f', (byte)'p', (byte)'s', 0x3C]; // MessagePack {fps: 60}
        await ping.PublishAsync(payload).WaitAsync(Wait);

        Assert.Equal("ping processPinger/x/ping 81a36670733c", await node.WaitForLineAsync("ping ", Wait));
        var pong = await pongs.Messages.NextAsync();
        Assert.Equal("echoApp/echo1/pong", pong.Topic);
        Assert.Equal(MqttQos.AtLeastOnce, pong.Qos); // JS v3 publishes at QoS 1
        Assert.Equal(payload, pong.Payload.ToArray());
        Assert.Equal(new TetherTopic("echoApp", "echo1", "pong"), TetherTopic.Parse(pong.Topic));
    }
}
