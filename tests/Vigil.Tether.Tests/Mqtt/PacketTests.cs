using Vigil.Tether.Mqtt;
using Xunit;

namespace Vigil.Tether.Tests.Mqtt;

/// <summary>The packet reader and writer against the MQTT 3.1.1 grammar, byte by byte, without a network.</summary>
public class PacketTests
{
    static Task<Packet> Read(byte[] bytes, int max = 1024) => PacketReader.ReadAsync(new MemoryStream(bytes), max, default).AsTask();

    static async Task<string> Rejected(byte[] bytes, int max = 1024) => (await Assert.ThrowsAsync<MqttProtocolException>(() => Read(bytes, max))).Message;

    [Theory]
    [InlineData(0, new byte[] { 0x00 })]
    [InlineData(127, new byte[] { 0x7F })]
    [InlineData(128, new byte[] { 0x80, 0x01 })]
    [InlineData(16_383, new byte[] { 0xFF, 0x7F })]
    [InlineData(16_384, new byte[] { 0x80, 0x80, 0x01 })]
    [InlineData(2_097_151, new byte[] { 0xFF, 0xFF, 0x7F })]
    [InlineData(2_097_152, new byte[] { 0x80, 0x80, 0x80, 0x01 })]
    [InlineData(268_435_455, new byte[] { 0xFF, 0xFF, 0xFF, 0x7F })]
    public void Remaining_length_is_encoded_as_the_spec_table(int length, byte[] expected)
    {
        var buffer = new byte[4];
        int n = PacketWriter.WriteRemainingLength(buffer, length);
        Assert.Equal(expected, buffer[..n]);
    }

    [Fact]
    public async Task A_publish_with_a_two_byte_remaining_length_is_read_whole()
    {
        var payload = Enumerable.Range(0, 200).Select(i => (byte)i).ToArray();
        var packet = PacketWriter.Publish("a/b", payload, MqttQos.AtMostOnce, retain: false, dup: false, 0);
        packet[0] = 0x31; // retain, as a broker sends a retained message
        var p = Assert.IsType<PublishPacket>(await Read(packet));
        Assert.Equal(("a/b", MqttQos.AtMostOnce, true), (p.Topic, p.Qos, p.Retain));
        Assert.Equal(payload, p.Payload.ToArray());
    }

    [Fact]
    public async Task Broker_packets_are_decoded()
    {
        Assert.Equal(new ConnAckPacket(true, MqttConnectReturnCode.Accepted), await Read([0x20, 0x02, 0x01, 0x00]));
        Assert.Equal(new AckPacket(PacketType.PubAck, 0x1234), await Read([0x40, 0x02, 0x12, 0x34]));
        Assert.Equal(new AckPacket(PacketType.PubRel, 7), await Read([0x62, 0x02, 0x00, 0x07]));
        Assert.Equal(new AckPacket(PacketType.UnsubAck, 9), await Read([0xB0, 0x02, 0x00, 0x09]));
        Assert.IsType<PingRespPacket>(await Read([0xD0, 0x00]));
        var sub = Assert.IsType<SubAckPacket>(await Read([0x90, 0x05, 0x00, 0x03, 0x01, 0x80, 0x02]));
        Assert.Equal([0x01, 0x80, 0x02], sub.ReturnCodes);
        var q2 = Assert.IsType<PublishPacket>(await Read([0x3C, 0x08, 0x00, 0x03, (byte)'x', (byte)'/', (byte)'y', 0x00, 0x05, 0xAA]));
        Assert.Equal(("x/y", MqttQos.ExactlyOnce, true, (ushort)5), (q2.Topic, q2.Qos, q2.Duplicate, q2.PacketId));
        Assert.Equal([0xAA], q2.Payload.ToArray());
    }

    [Theory]
    [InlineData(new byte[] { 0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, "remaining length is longer than 4 bytes")]
    [InlineData(new byte[] { 0x00, 0x00 }, "reserved packet type 0")]
    [InlineData(new byte[] { 0xF0, 0x00 }, "reserved packet type 15")]
    [InlineData(new byte[] { 0x10, 0x00 }, "Connect is a client-to-server packet")]
    [InlineData(new byte[] { 0xC0, 0x00 }, "PingReq is a client-to-server packet")]
    [InlineData(new byte[] { 0x48, 0x54, 0x54, 0x50 }, "PubAck with flags 0x8")] // "HTTP"
    [InlineData(new byte[] { 0x60, 0x02, 0x00, 0x01 }, "PubRel with flags 0x0 (expected 0x2")]
    [InlineData(new byte[] { 0x36, 0x00 }, "PUBLISH with QoS 3")]
    [InlineData(new byte[] { 0x30, 0x05, 0x00 }, "truncated packet")]
    [InlineData(new byte[] { 0x30 }, "truncated packet")]
    [InlineData(new byte[] { 0x20, 0x03, 0x00, 0x00, 0x00 }, "ConnAck has remaining length 3, expected 2")]
    [InlineData(new byte[] { 0x20, 0x01, 0x00 }, "ConnAck is too short")]
    [InlineData(new byte[] { 0x20, 0x02, 0x02, 0x00 }, "CONNACK with reserved flags 0x02")]
    [InlineData(new byte[] { 0x40, 0x02, 0x00, 0x00 }, "PubAck with packet identifier 0")]
    [InlineData(new byte[] { 0x90, 0x03, 0x00, 0x01, 0x03 }, "SUBACK return code 0x03")]
    [InlineData(new byte[] { 0x90, 0x02, 0x00, 0x01 }, "SUBACK without return codes")]
    [InlineData(new byte[] { 0x30, 0x04, 0x00, 0x02, 0xC3, 0x28 }, "topic name is not valid UTF-8")]
    [InlineData(new byte[] { 0x30, 0x03, 0x00, 0x01, 0x00 }, "topic name contains U+0000")]
    [InlineData(new byte[] { 0x30, 0x05, 0x00, 0x03, (byte)'a', (byte)'/', (byte)'#' }, "has a wildcard")]
    [InlineData(new byte[] { 0x30, 0x05, 0x00, 0x09, (byte)'a', (byte)'/', (byte)'b' }, "Publish is too short")]
    [InlineData(new byte[] { 0x32, 0x03, 0x00, 0x01, (byte)'a' }, "Publish is too short")] // QoS 1 without packet id
    public async Task Malformed_packets_are_rejected_with_a_clear_message(byte[] bytes, string expected)
    {
        var message = await Rejected(bytes);
        Assert.StartsWith("malformed packet from broker: ", message);
        Assert.Contains(expected, message);
    }

    [Fact]
    public async Task A_packet_over_MaxPacketSize_is_rejected_before_its_body_is_read()
    {
        // Length 2,097,152 announced, no body follows: the reader must refuse on the length, not wait for the bytes.
        var message = await Rejected([0x30, 0x80, 0x80, 0x80, 0x01], max: 1024);
        Assert.Contains("Publish of 2097152 bytes is larger than MaxPacketSize (1024)", message);
    }

    [Fact]
    public async Task End_of_stream_between_packets_is_a_closed_connection_not_a_protocol_error()
    {
        var ex = await Assert.ThrowsAsync<MqttException>(() => Read([]));
        Assert.IsNotType<MqttProtocolException>(ex);
        Assert.Contains("closed the connection", ex.Message);
    }

    [Fact]
    public void Connect_is_encoded_per_spec()
    {
        var bytes = PacketWriter.Connect(new MqttClientOptions { ClientId = "c1", Username = "u", Password = "p", KeepAlive = TimeSpan.FromSeconds(60) });
        byte[] expected =
        [
            0x10, 20,                                  // CONNECT, remaining length
            0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, // protocol name, level 4
            0xC2, 0x00, 0x3C,                          // username + password + clean session, keepalive 60
            0x00, 0x02, (byte)'c', (byte)'1', 0x00, 0x01, (byte)'u', 0x00, 0x01, (byte)'p',
        ];
        Assert.Equal(expected, bytes);
    }

    [Fact]
    public void Client_packets_carry_the_required_flags()
    {
        Assert.Equal([0x3B, 0x06, 0x00, 0x01, (byte)'t', 0x12, 0x34, 0xEE], PacketWriter.Publish("t", [0xEE], MqttQos.AtLeastOnce, retain: true, dup: true, 0x1234));
        Assert.Equal([0x82, 0x0C, 0x00, 0x05, 0x00, 0x03, (byte)'a', (byte)'/', (byte)'#', 0x01, 0x00, 0x01, (byte)'+', 0x00],
            PacketWriter.Subscribe(5, [new("a/#", MqttQos.AtLeastOnce), new("+", MqttQos.AtMostOnce)]));
        Assert.Equal([0xA2, 0x05, 0x00, 0x02, 0x00, 0x01, (byte)'x'], PacketWriter.Unsubscribe(2, "x"));
        Assert.Equal([0x62, 0x02, 0x00, 0x09], PacketWriter.Ack(PacketType.PubRel, 9));
        Assert.Equal([0x40, 0x02, 0x00, 0x09], PacketWriter.Ack(PacketType.PubAck, 9));
    }
}
