using System.Text;
using Vigil.Tether.Mqtt;
using Vigil.Tether.Tests.Support;
using Xunit;
using static Vigil.Tether.Tests.Support.MqttTestExtensions;

namespace Vigil.Tether.Tests.Mqtt;

/// <summary>Issue 12: TLS (CA file, client certificate, insecure skip), WebSocket (ws and wss with a path) and MQTT 5
/// against a real mosquitto with a test PKI, and bounded memory under a flood.</summary>
public class MqttTransportTests
{
    static readonly TimeSpan Wait = ClientEvents.Wait;

    static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Connects, subscribes, publishes at QoS 1 and receives the message back over the one connection.</summary>
    static async Task RoundTripAsync(MqttClientOptions options, string topic = "t/secure")
    {
        await using var client = new MqttClient(options);
        await client.ConnectAsync().WaitAsync(Wait);
        Assert.Equal(MqttQos.AtLeastOnce, await client.SubscribeAsync(topic).WaitAsync(Wait));
        await client.PublishAsync(topic, Bytes("sealed")).WaitAsync(Wait);
        var m = await client.Messages.NextAsync();
        Assert.Equal((topic, "sealed"), (m.Topic, Encoding.UTF8.GetString(m.Payload.Span)));
    }

    static MqttClientOptions Tls(Mosquitto broker, string id) =>
        Local(broker.TlsPort, id) with { Host = "localhost", Transport = MqttTransport.Tls };

    [Fact]
    public async Task Mqtts_with_the_CA_file_round_trips()
    {
        using var pki = new TestPki();
        await using var broker = await Mosquitto.StartAsync(new MosquittoSettings { Tls = pki });
        await RoundTripAsync(Tls(broker, "tls-ca") with { CaFile = pki.CaPemFile });
    }

    [Fact]
    public async Task Mqtts_with_a_wrong_CA_fails_with_a_clear_error_every_time_and_the_client_can_try_again()
    {
        using var pki = new TestPki();
        await using var broker = await Mosquitto.StartAsync(new MosquittoSettings { Tls = pki });
        await using var client = new MqttClient(Tls(broker, "tls-wrong") with { CaFile = pki.OtherCaPemFile });
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var ex = await Assert.ThrowsAsync<MqttException>(() => client.ConnectAsync().WaitAsync(Wait));
            Assert.StartsWith($"cannot connect to broker mqtts://localhost:{broker.TlsPort}: the broker's certificate is not signed by the CA file {pki.OtherCaPemFile}", ex.Message);
            Assert.False(client.IsConnected);
        }

        // Without a CA file the system store decides, and it does not know the test CA either.
        await using var system = new MqttClient(Tls(broker, "tls-system"));
        var error = await Assert.ThrowsAsync<MqttException>(() => system.ConnectAsync().WaitAsync(Wait));
        Assert.Contains("the broker's certificate is not trusted by the system", error.Message);
    }

    [Fact]
    public async Task Mqtts_with_insecure_skip_verify_connects_to_an_untrusted_broker()
    {
        using var pki = new TestPki();
        await using var broker = await Mosquitto.StartAsync(new MosquittoSettings { Tls = pki });
        // By address, not name: not even the name is checked.
        await RoundTripAsync(Tls(broker, "tls-insecure") with { Host = "127.0.0.1", InsecureSkipVerify = true });
    }

    [Fact]
    public async Task A_broker_that_requires_a_client_certificate_accepts_ours_and_refuses_a_client_without()
    {
        using var pki = new TestPki();
        await using var broker = await Mosquitto.StartAsync(new MosquittoSettings { Tls = pki, RequireCertificate = true });
        var options = Tls(broker, "tls-client-cert") with { CaFile = pki.CaPemFile };
        await RoundTripAsync(options with { CertFile = pki.ClientPemFile, KeyFile = pki.ClientKeyPemFile });

        await using var anonymous = new MqttClient(options with { ClientId = "tls-no-cert" });
        var ex = await Assert.ThrowsAsync<MqttException>(() => anonymous.ConnectAsync().WaitAsync(Wait));
        Assert.StartsWith($"cannot connect to broker mqtts://localhost:{broker.TlsPort}", ex.Message);
        Assert.False(anonymous.IsConnected);
    }

    [Fact]
    public async Task WebSocket_with_a_path_round_trips_and_meets_a_plain_TCP_client()
    {
        await using var broker = await Mosquitto.StartAsync(new MosquittoSettings { WebSockets = true });
        var ws = Local(broker.WsPort, "ws") with { Transport = MqttTransport.WebSocket, Path = "/ws" };
        await RoundTripAsync(ws, "t/ws");

        // One broker, two transports: what a TCP client publishes reaches the WebSocket subscriber.
        await using var subscriber = new MqttClient(ws with { ClientId = "ws-sub" });
        await subscriber.ConnectAsync().WaitAsync(Wait);
        await subscriber.SubscribeAsync("t/+/pong").WaitAsync(Wait);
        await using var tcp = new MqttClient(Local(broker.Port, "tcp-pub"));
        await tcp.ConnectAsync().WaitAsync(Wait);
        await tcp.PublishAsync("t/a/pong", Bytes("x")).WaitAsync(Wait);
        Assert.Equal("t/a/pong", (await subscriber.Messages.NextAsync()).Topic);
    }

    [Fact]
    public async Task Secure_WebSocket_with_a_path_and_the_CA_file_round_trips_and_a_wrong_CA_is_refused()
    {
        using var pki = new TestPki();
        await using var broker = await Mosquitto.StartAsync(new MosquittoSettings { Tls = pki, WebSockets = true });
        var wss = Local(broker.WssPort, "wss") with { Host = "localhost", Transport = MqttTransport.SecureWebSocket, Path = "/ws", CaFile = pki.CaPemFile };
        await RoundTripAsync(wss, "t/wss");

        await using var doubting = new MqttClient(wss with { ClientId = "wss-wrong", CaFile = pki.OtherCaPemFile });
        var ex = await Assert.ThrowsAsync<MqttException>(() => doubting.ConnectAsync().WaitAsync(Wait));
        Assert.StartsWith($"cannot connect to broker wss://localhost:{broker.WssPort}/ws: the broker's certificate is not signed by the CA file", ex.Message);
    }

    [Fact]
    public async Task MQTT_5_round_trips_and_a_refused_subscription_is_still_a_clear_error()
    {
        await using var broker = await Mosquitto.StartAsync(new MosquittoSettings { Username = "tether", Password = "pw", DenySubscribe = ["secret/#"] });
        var v5 = Local(broker.Port, "v5") with { ProtocolVersion = 5, Username = "tether", Password = "pw" };
        await RoundTripAsync(v5, "t/v5");

        await using var client = new MqttClient(v5 with { ClientId = "v5-denied" });
        var events = new ClientEvents(client);
        await client.ConnectAsync().WaitAsync(Wait);
        Assert.EndsWith("(MQTT 5)", (await events.NextAsync(MqttEventKind.Connected)).Message);
        var ex = await Assert.ThrowsAsync<MqttSubscriptionRefusedException>(() => client.SubscribeAsync("secret/#").WaitAsync(Wait));
        Assert.Equal("secret/#", ex.Filter);
        Assert.Contains("as v5-denied (p5,", broker.Log); // mosquitto logs the protocol level it accepted: 5
    }

    [Fact]
    public async Task A_flood_nobody_reads_is_dropped_and_counted_beyond_the_queue_bound()
    {
        await using var broker = await Mosquitto.StartAsync();
        await using var slow = new MqttClient(Local(broker.Port, "slow-reader") with { MaxQueuedMessages = 50 });
        var events = new ClientEvents(slow);
        await slow.ConnectAsync().WaitAsync(Wait);
        await slow.SubscribeAsync("flood/#", MqttQos.AtMostOnce).WaitAsync(Wait);

        const int sent = 2000;
        await using (var flooder = new MqttClient(Local(broker.Port, "flooder")))
        {
            await flooder.ConnectAsync().WaitAsync(Wait);
            for (int i = 0; i < sent; i++) await flooder.PublishAsync($"flood/{i}", new byte[256], MqttQos.AtLeastOnce).WaitAsync(Wait);
            await flooder.PublishAsync("flood/end", Bytes("end"), MqttQos.AtLeastOnce).WaitAsync(Wait); // the last one, also dropped
        }
        var dropped = await events.NextAsync(MqttEventKind.MessagesDropped);
        Assert.Contains("fell 50 behind", dropped.Message);
        // Everything the broker delivered is either queued (at most the bound) or counted as dropped.
        Assert.True(await Vigil.Tests.Support.Procs.Eventually(() => slow.DroppedMessages >= sent + 1 - 50, Wait),
            $"dropped so far: {slow.DroppedMessages}");
        Assert.Equal(sent + 1 - 50, slow.DroppedMessages);
        int queued = 0;
        while (slow.Messages.TryRead(out var m)) { queued++; Assert.StartsWith("flood/", m.Topic); }
        Assert.Equal(50, queued);
        Assert.Equal(1, events.Count(MqttEventKind.MessagesDropped)); // once per streak, not per message
    }
}
