using System.Text;
using CsCheck;
using Vigil.Tests.Fuzz;
using Vigil.Tether.Agent;
using Vigil.Tether.MessagePack;
using Vigil.Tether.Mqtt;
using Xunit;
using Xunit.Abstractions;

namespace Vigil.Tether.Tests.Fuzz;

/// <summary>Issue 10 §9: the MQTT packet reader and the MessagePack reader end every input in a value or their
/// documented error (<see cref="MqttException"/>, <see cref="MessagePackException"/>); never another exception, a hang
/// or runaway allocation. What the pinger does with a decoded pong (topic parse, numeric fields) runs too.</summary>
public sealed class DecoderFuzzTests(ITestOutputHelper output)
{
    // ---- MessagePack ----

    /// <summary>Values of every family, nested up to 5 levels, with pong-like maps (string keys, numeric values) likely.</summary>
    static readonly Gen<MsgPackValue> Value = Gen.Recursive<MsgPackValue>((depth, inner) =>
    {
        var leaf = Gen.Frequency(
            (1, Gen.Const<MsgPackValue>(MsgPackNil.Instance)),
            (1, Gen.Bool.Select(b => (MsgPackValue)new MsgPackBoolean(b))),
            (3, Gen.Long.Select(l => (MsgPackValue)new MsgPackInteger(l))),
            (1, Gen.ULong.Select(l => (MsgPackValue)new MsgPackInteger(l))),
            (2, Gen.Double.Select(d => (MsgPackValue)new MsgPackFloat(d))),
            (1, Gen.Float.Select(f => (MsgPackValue)new MsgPackFloat(f, IsSingle: true))),
            (3, Gen.String.Select(s => (MsgPackValue)new MsgPackString(s))),
            (1, Gen.Byte.Array[0, 40].Select(b => (MsgPackValue)new MsgPackBinary(b))),
            (1, Gen.Select(Gen.SByte[0, 127], Gen.Byte.Array[0, 20], (t, d) => (MsgPackValue)new MsgPackExtension(t, d))),
            (1, Gen.Select(Gen.Long, Gen.UInt[0, 999_999_999], (s, n) => (MsgPackValue)new MsgPackTimestamp(s, n))));
        if (depth >= 5) return leaf;
        return Gen.Frequency(
            (4, leaf),
            (1, inner.Array[0, 6].Select(items => (MsgPackValue)new MsgPackArray(items))),
            (1, Gen.Select(inner, inner).Array[0, 5].Select(e => (MsgPackValue)new MsgPackMap([.. e.Select(p => KeyValuePair.Create(p.Item1, p.Item2))]))),
            (2, Gen.Select(Gen.OneOf("fps", "cpu", "mem", "uptime", "stats", ""), inner).Array[0, 6]
                .Select(e => (MsgPackValue)new MsgPackMap([.. e.Select(p => KeyValuePair.Create((MsgPackValue)new MsgPackString(p.Item1), p.Item2))]))));
    });

    static readonly byte[][] MsgPackTokens =
    [
        [0xC1], [0xDC, 0xFF, 0xFF], [0xDD, 0xFF, 0xFF, 0xFF, 0xFF], [0xDF, 0x7F, 0xFF, 0xFF, 0xFF], [0xDB, 0xFF, 0xFF, 0xFF, 0xFF],
        [0xC6, 0x80, 0x00, 0x00, 0x00], [0xC9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0xD6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        [0xD7, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0xC7, 12, 0xFF, 0x3B, 0x9A, 0xCA, 0x00, 0, 0, 0, 0, 0, 0, 0, 0],
        [0xCF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0xD3, 0x80, 0, 0, 0, 0, 0, 0, 0], [0xCB, 0x7F, 0xF8, 0, 0, 0, 0, 0, 1],
        [0xA3, 0xED, 0xA0, 0x80], [0x81, 0xA3, (byte)'f', (byte)'p', (byte)'s', 0xCB, 0x7F, 0xF0, 0, 0, 0, 0, 0, 0], [0x8F], [0x9F],
    ];

    static byte[] MsgPackNest(int depth) => [.. Enumerable.Repeat((byte)0x91, depth), 0xC0];

    static readonly byte[][] MsgPackBases =
    [
        MessagePackWriter.Encode(new MsgPackMap([KeyValuePair.Create((MsgPackValue)new MsgPackString("fps"), (MsgPackValue)new MsgPackFloat(59.9))])),
        MessagePackWriter.Encode(new MsgPackArray([new MsgPackInteger(1), new MsgPackString("a"), MsgPackNil.Instance, new MsgPackTimestamp(1, 2)])),
    ];

    static FuzzOutcome DecodePong(ReadOnlySpan<byte> payload)
    {
        // As PingHub.Decode: TryDecode, then the numeric fields of a map. Both must stay within their contracts: the
        // dispatch loop they run in has nobody to catch anything else.
        if (!MessagePackReader.TryDecode(payload, out var value, out var error))
        {
            if (!error.StartsWith("MessagePack: at offset ", StringComparison.Ordinal) && !error.StartsWith("MessagePack: ", StringComparison.Ordinal))
                throw new InvalidOperationException($"unclear MessagePack error: {error}");
            return FuzzOutcome.Error;
        }
        if (value is MsgPackMap map) _ = map.NumericFields();
        _ = value.ToString();
        return FuzzOutcome.Value;
    }

    [Fact]
    public void The_MessagePack_reader_ends_every_input_in_a_value_or_a_MessagePackException()
    {
        var gen = Mutations.Of(MsgPackBases, Value.Select(MessagePackWriter.Encode), MsgPackTokens, MsgPackNest);
        var report = FuzzHarness.Run("msgpack", gen, b => b, b =>
        {
            // Decode must throw nothing but MessagePackException (TryDecode turns exactly that into false).
            try { MessagePackReader.Decode(b); }
            catch (MessagePackException e) when (e.Offset >= 0 && e.Offset <= b.Length) { }
            return DecodePong(b);
        }, FuzzHarness.Seconds(10));
        output.WriteLine(report.ToString());
        Assert.True(report.Failures.Count == 0, report + "\n" + string.Join("\n\n", report.Failures));
        Assert.True(report.Values > 0 && report.Errors > 0, report.ToString());
    }

    [Fact]
    public void Generated_values_decode_to_themselves()
    {
        // The generator's unmutated output is valid MessagePack: the mutations start from inputs that reach deep.
        var pcg = new PCG(1, FuzzHarness.Seed);
        for (int i = 0; i < 2000; i++)
        {
            var v = Value.Generate(pcg, null!, out _);
            Assert.Equal(v.ToString(), MessagePackReader.Decode(MessagePackWriter.Encode(v)).ToString());
        }
    }

    // ---- MQTT ----

    static byte[] Frame(byte header, byte[] body)
    {
        var len = new byte[4];
        int n = PacketWriter.WriteRemainingLength(len, body.Length);
        return [header, .. len[..n], .. body];
    }

    static readonly Gen<string> Topic = Gen.Frequency(
        (4, Gen.Select(Gen.OneOf("tester", "processPinger", "app"), Gen.OneOf("a", "screen1", "x-9"), Gen.OneOf("pong", "ping", "stats"), (r, i, p) => $"{r}/{i}/{p}")),
        (1, Gen.String[1, 30]));

    /// <summary>Packets a broker sends to a client, well formed.</summary>
    static readonly Gen<byte[]> Packet = Gen.Frequency(
        (1, Gen.Select(Gen.Bool, Gen.Byte[0, 5], (sp, rc) => Frame(0x20, [(byte)(sp ? 1 : 0), rc]))),
        (5, Gen.Select(Gen.Int[0, 2], Gen.Bool, Topic, Gen.UShort[1, 65535], Gen.Frequency((3, Value.Select(MessagePackWriter.Encode)), (1, Gen.Byte.Array[0, 30])),
            (qos, retain, topic, id, payload) => PacketWriter.Publish(topic, payload, (MqttQos)qos, retain, dup: false, id))),
        (2, Gen.Select(Gen.OneOf(PacketType.PubAck, PacketType.PubRec, PacketType.PubRel, PacketType.PubComp), Gen.UShort[1, 65535], (t, id) => PacketWriter.Ack(t, id))),
        (1, Gen.UShort[1, 65535].Select(id => Frame(0xB0, [(byte)(id >> 8), (byte)id]))),
        (1, Gen.Select(Gen.UShort[1, 65535], Gen.OneOf<byte>(0, 1, 2, 0x80).Array[1, 4], (id, codes) => Frame(0x90, [(byte)(id >> 8), (byte)id, .. codes]))),
        (1, Gen.Const<byte[]>([0xD0, 0x00])));

    static readonly Gen<byte[]> Stream = Packet.Array[1, 4].Select(ps => ps.SelectMany(p => p).ToArray());

    static readonly byte[][] MqttTokens =
    [
        [0xFF, 0xFF, 0xFF, 0x7F], [0x80, 0x80, 0x80, 0x80, 0x01], [0xFF, 0xFF, 0x3F], [0x00, 0x00], [0xFF, 0xFF], [0xC0, 0x00], [0xF0, 0x00],
        [0x00], "+"u8.ToArray(), "#"u8.ToArray(), [0xED, 0xA0, 0x80], [0xC0, 0x80], [0x36], [0x3F], [0x62, 0x02, 0x00, 0x00], [0x90, 0x03, 0x00, 0x01, 0x03],
    ];

    static byte[] MqttNest(int depth) => [0x30, (byte)Math.Min(depth + 7, 127), 0x00, 0x05, .. "a/b/c"u8, .. Enumerable.Repeat((byte)0x91, depth)];

    /// <summary>A socket hands over what has arrived, not whole packets: reads return at most a few bytes.</summary>
    sealed class Trickle(byte[] data, int chunk) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, chunk));
        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, chunk)]);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], ct);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => base.ReadAsync(buffer, offset, Math.Min(count, chunk), ct);
    }

    static FuzzOutcome ReadAll(byte[] input)
    {
        // Every other input arrives in pieces of 1-7 bytes (chosen by its length, so a saved input replays the same way).
        var stream = input.Length % 2 == 0 ? new MemoryStream(input) : new Trickle(input, 1 + input.Length % 7);
        int packets = 0;
        try
        {
            while (true)
            {
                var packet = PacketReader.ReadAsync(stream, 1024 * 1024, default).AsTask().GetAwaiter().GetResult();
                packets++;
                if (packet is PublishPacket p && TetherTopic.Parse(p.Topic) is { Plug: "pong" } && !p.Payload.IsEmpty)
                    DecodePong(p.Payload.Span);
            }
        }
        catch (MqttException e)
        {
            // The end of the input between packets is the broker closing the connection: a normal end after a packet.
            if (e is not MqttProtocolException && stream.Position == input.Length) return packets > 0 ? FuzzOutcome.Value : FuzzOutcome.Error;
            if (!e.Message.StartsWith("malformed packet from broker: ", StringComparison.Ordinal) && e is MqttProtocolException)
                throw new InvalidOperationException($"unclear MQTT error: {e.Message}");
            return FuzzOutcome.Error;
        }
    }

    [Fact]
    public void The_MQTT_packet_reader_ends_every_input_in_packets_or_an_MqttException()
    {
        var gen = Mutations.Of([Frame(0x20, [0, 0]), PacketWriter.Publish("t/a/pong", MsgPackBases[0], MqttQos.AtLeastOnce, false, false, 7)], Stream, MqttTokens, MqttNest);
        var report = FuzzHarness.Run("mqtt", gen, b => b, ReadAll, FuzzHarness.Seconds(10));
        output.WriteLine(report.ToString());
        Assert.True(report.Failures.Count == 0, report + "\n" + string.Join("\n\n", report.Failures));
        Assert.True(report.Values > 0 && report.Errors > 0, report.ToString());
    }

    // ---- corpus ----

    [Fact]
    public void Inputs_that_once_failed_end_in_a_value_or_an_error()
    {
        // Empty until a fuzz run finds a bug in one of these decoders; the folders must still be there.
        Assert.Empty(FuzzHarness.Replay("msgpack", b => DecodePong(b)));
        Assert.Empty(FuzzHarness.Replay("mqtt", ReadAll));
    }
}
