using System.Text;
using Vigil.Tether.Mqtt;
using Vigil.Tether.Tests.Support;
using Xunit;
using static Vigil.Tether.Tests.Support.MqttTestExtensions;

namespace Vigil.Tether.Tests.Mqtt;

/// <summary>The client against a real mosquitto on a loopback port of its own.</summary>
public class MqttClientBrokerTests
{
    static readonly TimeSpan Wait = ClientEvents.Wait;

    static async Task<MqttClient> ConnectAsync(MqttClientOptions options)
    {
        var client = new MqttClient(options);
        await client.ConnectAsync().WaitAsync(Wait);
        return client;
    }

    static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public async Task QoS_0_and_1_round_trip_through_wildcard_subscriptions()
    {
        await using var broker = await Mosquitto.StartAsync();
        await using var sub = await ConnectAsync(Local(broker.Port, "rt-sub"));
        await using var pub = await ConnectAsync(Local(broker.Port, "rt-pub"));
        Assert.Equal(MqttQos.AtLeastOnce, await sub.SubscribeAsync("vigil/+/data", MqttQos.AtLeastOnce).WaitAsync(Wait));
        Assert.Equal(MqttQos.AtMostOnce, await sub.SubscribeAsync("logs/#", MqttQos.AtMostOnce).WaitAsync(Wait));

        await pub.PublishAsync("vigil/a/data", Bytes("one"), MqttQos.AtLeastOnce).WaitAsync(Wait);
        await pub.PublishAsync("vigil/b/data", Bytes("two"), MqttQos.AtMostOnce).WaitAsync(Wait);
        await pub.PublishAsync("vigil/a/other", Bytes("unmatched"), MqttQos.AtLeastOnce).WaitAsync(Wait);
        await pub.PublishAsync("logs/x/y/z", Bytes("three"), MqttQos.AtLeastOnce).WaitAsync(Wait);
        await pub.PublishAsync("logs", Bytes("four"), MqttQos.AtLeastOnce).WaitAsync(Wait); // '#' includes the parent level

        var got = new List<MqttMessage>();
        for (int i = 0; i < 4; i++) got.Add(await sub.Messages.NextAsync());
        Assert.Equal(["vigil/a/data", "vigil/b/data", "logs/x/y/z", "logs"], got.Select(m => m.Topic));
        Assert.Equal(["one", "two", "three", "four"], got.Select(m => Encoding.UTF8.GetString(m.Payload.Span)));
        // Delivered at the lower of the publish and subscription QoS.
        Assert.Equal([MqttQos.AtLeastOnce, MqttQos.AtMostOnce, MqttQos.AtMostOnce, MqttQos.AtMostOnce], got.Select(m => m.Qos));
    }

    [Fact]
    public async Task Unsubscribe_stops_delivery()
    {
        await using var broker = await Mosquitto.StartAsync();
        await using var client = await ConnectAsync(Local(broker.Port, "unsub"));
        await client.SubscribeAsync("u/#").WaitAsync(Wait);
        await client.SubscribeAsync("marker").WaitAsync(Wait);
        await client.PublishAsync("u/1", Bytes("a")).WaitAsync(Wait);
        Assert.Equal("u/1", (await client.Messages.NextAsync()).Topic);

        await client.UnsubscribeAsync("u/#").WaitAsync(Wait);
        await client.PublishAsync("u/2", Bytes("b")).WaitAsync(Wait);
        await client.PublishAsync("marker", Bytes("c")).WaitAsync(Wait);
        Assert.Equal("marker", (await client.Messages.NextAsync()).Topic); // u/2 never came
    }

    [Fact]
    public async Task QoS_2_from_the_npm_mqtt_client_is_received_once()
    {
        await using var broker = await Mosquitto.StartAsync();
        await using var client = await ConnectAsync(Local(broker.Port, "qos2"));
        Assert.Equal(MqttQos.ExactlyOnce, await client.SubscribeAsync("q2/#", MqttQos.ExactlyOnce).WaitAsync(Wait));
        await client.SubscribeAsync("marker").WaitAsync(Wait);

        await using (var node = NodeScript.Start("mqtt-publish.mjs", broker.Host, broker.Port.ToString(), "q2/x", "c0ffee", "2"))
            await node.WaitForLineAsync("sent", Wait);
        var m = await client.Messages.NextAsync();
        Assert.Equal(("q2/x", MqttQos.ExactlyOnce), (m.Topic, m.Qos));
        Assert.Equal([0xC0, 0xFF, 0xEE], m.Payload.ToArray());
        await client.PublishAsync("marker", Bytes("m")).WaitAsync(Wait);
        Assert.Equal("marker", (await client.Messages.NextAsync()).Topic);
    }

    [Fact]
    public async Task Password_auth_accepts_the_right_password_and_refuses_a_wrong_one_by_name()
    {
        await using var broker = await Mosquitto.StartAsync(new MosquittoSettings { Username = "tether", Password = "sp_ceB0ss!" });
        await using (var ok = await ConnectAsync(Local(broker.Port, "auth-ok") with { Username = "tether", Password = "sp_ceB0ss!" }))
            Assert.True(ok.IsConnected);

        await using var wrong = new MqttClient(Local(broker.Port, "auth-bad") with { Username = "tether", Password = "nope" });
        var ex = await Assert.ThrowsAsync<MqttConnectException>(() => wrong.ConnectAsync().WaitAsync(Wait));
        Assert.Contains(ex.Code, new[] { 4, 5, 0x86, 0x87 }); // bad user name or password / not authorised (3.1.1 and 5)
        Assert.StartsWith($"broker 127.0.0.1:{broker.Port} refused the connection: ", ex.Message);

        await using var anonymous = new MqttClient(Local(broker.Port, "auth-anon"));
        await Assert.ThrowsAsync<MqttConnectException>(() => anonymous.ConnectAsync().WaitAsync(Wait));
    }

    [Fact]
    public async Task After_a_broker_restart_the_client_reconnects_resubscribes_and_delivers_what_was_published_meanwhile()
    {
        await using var broker = await Mosquitto.StartAsync();
        await using var client = new MqttClient(Local(broker.Port, "restart"));
        var events = new ClientEvents(client);
        await client.ConnectAsync().WaitAsync(Wait);
        await events.NextAsync(MqttEventKind.Connected);
        await client.SubscribeAsync("r/#").WaitAsync(Wait);

        await broker.StopAsync();
        var lost = await events.NextAsync(MqttEventKind.Disconnected);
        Assert.NotNull(lost.Error);
        Assert.False(client.IsConnected);
        var publish = client.PublishAsync("r/1", Bytes("while down"), MqttQos.AtLeastOnce);
        Assert.False(publish.IsCompleted);

        await broker.StartAsync();
        await events.NextAsync(MqttEventKind.Connected);
        await publish.WaitAsync(Wait); // PUBACK from the new broker
        var m = await client.Messages.NextAsync(); // only arrives if r/# was renewed (the new broker knew nothing of it)
        Assert.Equal(("r/1", "while down"), (m.Topic, Encoding.UTF8.GetString(m.Payload.Span)));
    }

    [Fact]
    public async Task Keepalive_pings_keep_an_idle_connection_alive()
    {
        // mosquitto drops a client silent for 1.5 keepalive periods (1.5 s here); three answered pings take ~3 s.
        await using var broker = await Mosquitto.StartAsync();
        await using var client = new MqttClient(Local(broker.Port, "idle") with { KeepAlive = TimeSpan.FromSeconds(1) });
        var events = new ClientEvents(client);
        await client.ConnectAsync().WaitAsync(Wait);
        await client.SubscribeAsync("idle").WaitAsync(Wait);

        // The broker's log is the witness: three PINGREQs from this client (MQTTnet answers them out of our sight).
        await broker.WaitForLogAsync(log => log.Split('\n').Count(l => l.Contains("Received PINGREQ from idle")) >= 3);
        Assert.Equal(0, events.Count(MqttEventKind.Disconnected));
        await client.PublishAsync("idle", Bytes("still here")).WaitAsync(Wait);
        Assert.Equal("idle", (await client.Messages.NextAsync()).Topic);
        Assert.Equal(1, events.Count(MqttEventKind.Connected));
    }
}
