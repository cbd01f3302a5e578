using System.Buffers.Binary;
using System.Text;

namespace Vigil.Tether.Mqtt;

/// <summary>MQTT control packet types (MQTT 3.1.1 §2.2.1); 0 and 15 are reserved.</summary>
internal enum PacketType : byte
{
    Connect = 1, ConnAck, Publish, PubAck, PubRec, PubRel, PubComp, Subscribe, SubAck, Unsubscribe, UnsubAck, PingReq, PingResp, Disconnect,
}

/// <summary>A packet the broker sent to this client.</summary>
internal abstract record Packet(PacketType Type);

internal sealed record ConnAckPacket(bool SessionPresent, MqttConnectReturnCode ReturnCode) : Packet(PacketType.ConnAck);

internal sealed record PublishPacket(string Topic, ReadOnlyMemory<byte> Payload, MqttQos Qos, bool Retain, bool Duplicate, ushort PacketId)
    : Packet(PacketType.Publish);

/// <summary>PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK: a type and a packet identifier.</summary>
internal sealed record AckPacket(PacketType Kind, ushort PacketId) : Packet(Kind);

internal sealed record SubAckPacket(ushort PacketId, byte[] ReturnCodes) : Packet(PacketType.SubAck);

internal sealed record PingRespPacket() : Packet(PacketType.PingResp);

/// <summary>Reads one packet from a stream, strictly: anything off the MQTT 3.1.1 grammar is an <see cref="MqttProtocolException"/>.</summary>
internal static class PacketReader
{
    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Reads the next packet; throws <see cref="MqttException"/> when the broker closes the stream between packets.</summary>
    public static async ValueTask<Packet> ReadAsync(Stream stream, int maxPacketSize, CancellationToken ct)
    {
        var one = new byte[1];
        if (await stream.ReadAsync(one, ct) == 0) throw new MqttException("the broker closed the connection");
        byte header = one[0];
        CheckHeader(header); // before the length, so garbage is named by its first byte

        // Remaining length: 7 bits a byte, least significant first, at most 4 bytes (§2.2.3).
        int length = 0;
        for (int i = 0; ; i++)
        {
            if (i == 4) throw new MqttProtocolException("remaining length is longer than 4 bytes");
            await ReadExactlyAsync(stream, one, ct);
            length |= (one[0] & 0x7F) << (7 * i);
            if ((one[0] & 0x80) == 0) break;
        }
        if (length > maxPacketSize)
            throw new MqttProtocolException($"{(PacketType)(header >> 4)} of {length} bytes is larger than MaxPacketSize ({maxPacketSize})");
        var body = new byte[length];
        await ReadExactlyAsync(stream, body, ct);
        return Decode(header, body);
    }

    static async ValueTask ReadExactlyAsync(Stream stream, Memory<byte> buffer, CancellationToken ct)
    {
        try { await stream.ReadExactlyAsync(buffer, ct); }
        catch (EndOfStreamException) { throw new MqttProtocolException("truncated packet (the connection closed in the middle of it)"); }
    }

    static void CheckHeader(byte header)
    {
        var type = (PacketType)(header >> 4);
        int flags = header & 0x0F;
        switch (type)
        {
            case 0 or (PacketType)15:
                throw new MqttProtocolException($"reserved packet type {header >> 4} (first byte 0x{header:X2})");
            case PacketType.Connect or PacketType.Subscribe or PacketType.Unsubscribe or PacketType.PingReq or PacketType.Disconnect:
                throw new MqttProtocolException($"{type} is a client-to-server packet (first byte 0x{header:X2})");
            case PacketType.Publish:
                if ((flags & 0x06) == 0x06) throw new MqttProtocolException("PUBLISH with QoS 3");
                break;
            default:
                int expected = type == PacketType.PubRel ? 0x2 : 0x0;
                if (flags != expected)
                    throw new MqttProtocolException($"{type} with flags 0x{flags:X} (expected 0x{expected:X}; first byte 0x{header:X2})");
                break;
        }
    }

    /// <summary>Decodes a packet body; the header must have passed the type and flag checks.</summary>
    internal static Packet Decode(byte header, byte[] body)
    {
        CheckHeader(header);
        var type = (PacketType)(header >> 4);
        var r = new BodyReader(type, body);
        Packet packet;
        switch (type)
        {
            case PacketType.ConnAck:
                byte ackFlags = r.Byte();
                if ((ackFlags & 0xFE) != 0) throw new MqttProtocolException($"CONNACK with reserved flags 0x{ackFlags:X2}");
                packet = new ConnAckPacket((ackFlags & 1) == 1, (MqttConnectReturnCode)r.Byte());
                break;
            case PacketType.Publish:
                var qos = (MqttQos)((header >> 1) & 3);
                string topic = r.String("topic name");
                if (topic.Length == 0 || topic.AsSpan().IndexOfAny('+', '#') >= 0)
                    throw new MqttProtocolException($"PUBLISH topic name '{topic}' is empty or has a wildcard");
                ushort id = qos == MqttQos.AtMostOnce ? (ushort)0 : r.PacketId();
                return new PublishPacket(topic, body.AsMemory(r.Position), qos, (header & 1) == 1, (header & 8) == 8, id);
            case PacketType.PubAck or PacketType.PubRec or PacketType.PubRel or PacketType.PubComp or PacketType.UnsubAck:
                packet = new AckPacket(type, r.PacketId());
                break;
            case PacketType.SubAck:
                ushort subId = r.PacketId();
                var codes = body[r.Position..];
                if (codes.Length == 0) throw new MqttProtocolException("SUBACK without return codes");
                foreach (var c in codes)
                    if (c is not (0 or 1 or 2 or 0x80)) throw new MqttProtocolException($"SUBACK return code 0x{c:X2}");
                return new SubAckPacket(subId, codes);
            case PacketType.PingResp:
                packet = new PingRespPacket();
                break;
            default:
                throw new MqttProtocolException($"unexpected {type}");
        }
        r.End();
        return packet;
    }

    /// <summary>Reads fields of one packet body; running past the end or leaving bytes over is a protocol error.</summary>
    ref struct BodyReader(PacketType type, ReadOnlySpan<byte> body)
    {
        readonly ReadOnlySpan<byte> _body = body;
        public int Position { get; private set; }

        public byte Byte() => Take(1)[0];

        public ushort PacketId()
        {
            ushort id = BinaryPrimitives.ReadUInt16BigEndian(Take(2));
            if (id == 0) throw new MqttProtocolException($"{type} with packet identifier 0");
            return id;
        }

        /// <summary>A UTF-8 string: 2-byte big-endian length, then well-formed UTF-8 without U+0000 (§1.5.3).</summary>
        public string String(string what)
        {
            int length = BinaryPrimitives.ReadUInt16BigEndian(Take(2));
            var bytes = Take(length);
            string s;
            try { s = StrictUtf8.GetString(bytes); }
            catch (DecoderFallbackException) { throw new MqttProtocolException($"{type} {what} is not valid UTF-8"); }
            if (s.Contains('\0')) throw new MqttProtocolException($"{type} {what} contains U+0000");
            return s;
        }

        public void End()
        {
            if (Position != _body.Length)
                throw new MqttProtocolException($"{type} has remaining length {_body.Length}, expected {Position}");
        }

        ReadOnlySpan<byte> Take(int n)
        {
            if (_body.Length - Position < n)
                throw new MqttProtocolException($"{type} is too short (remaining length {_body.Length})");
            var s = _body.Slice(Position, n);
            Position += n;
            return s;
        }
    }
}

/// <summary>Encodes the packets this client sends.</summary>
internal static class PacketWriter
{
    public static readonly byte[] PingReq = [0xC0, 0x00];
    public static readonly byte[] Disconnect = [0xE0, 0x00];

    public static byte[] Connect(MqttClientOptions o)
    {
        var b = new Builder();
        b.String("MQTT").Byte(4); // protocol name and level 4 = 3.1.1 (§3.1.2.1–2)
        byte flags = (byte)((o.CleanSession ? 0x02 : 0) | (o.Username is null ? 0 : 0x80) | (o.Password is null ? 0 : 0x40));
        b.Byte(flags).UInt16((ushort)o.KeepAlive.TotalSeconds).String(o.ClientId);
        if (o.Username is not null) b.String(o.Username);
        if (o.Password is not null) b.String(o.Password);
        return b.Packet(0x10);
    }

    public static byte[] Publish(string topic, ReadOnlySpan<byte> payload, MqttQos qos, bool retain, bool dup, ushort id)
    {
        var b = new Builder().String(topic);
        if (qos != MqttQos.AtMostOnce) b.UInt16(id);
        b.Bytes(payload);
        return b.Packet((byte)(0x30 | (dup ? 8 : 0) | ((int)qos << 1) | (retain ? 1 : 0)));
    }

    /// <summary>PUBACK, PUBREC, PUBREL (flags 0010) or PUBCOMP.</summary>
    public static byte[] Ack(PacketType type, ushort id) =>
        new Builder().UInt16(id).Packet((byte)((int)type << 4 | (type == PacketType.PubRel ? 2 : 0)));

    public static byte[] Subscribe(ushort id, IEnumerable<KeyValuePair<string, MqttQos>> filters)
    {
        var b = new Builder().UInt16(id);
        foreach (var (filter, qos) in filters) b.String(filter).Byte((byte)qos);
        return b.Packet(0x82);
    }

    public static byte[] Unsubscribe(ushort id, string filter) => new Builder().UInt16(id).String(filter).Packet(0xA2);

    /// <summary>Remaining length as the §2.2.3 varint; at most 268,435,455.</summary>
    internal static int WriteRemainingLength(Span<byte> dest, int length)
    {
        if ((uint)length > 268_435_455) throw new ArgumentOutOfRangeException(nameof(length), length, "MQTT packets are at most 256 MB");
        int i = 0;
        do
        {
            byte digit = (byte)(length & 0x7F);
            length >>= 7;
            dest[i++] = length > 0 ? (byte)(digit | 0x80) : digit;
        } while (length > 0);
        return i;
    }

    sealed class Builder
    {
        readonly List<byte> _body = [];

        public Builder Byte(byte b) { _body.Add(b); return this; }
        public Builder UInt16(ushort v) { _body.Add((byte)(v >> 8)); _body.Add((byte)v); return this; }
        public Builder Bytes(ReadOnlySpan<byte> bytes) { _body.AddRange(bytes); return this; }

        public Builder String(string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            if (bytes.Length > ushort.MaxValue) throw new ArgumentException($"'{s[..20]}…' is longer than 65535 UTF-8 bytes");
            return UInt16((ushort)bytes.Length).Bytes(bytes);
        }

        public byte[] Packet(byte header)
        {
            Span<byte> len = stackalloc byte[4];
            int n = WriteRemainingLength(len, _body.Count);
            var packet = new byte[1 + n + _body.Count];
            packet[0] = header;
            len[..n].CopyTo(packet.AsSpan(1));
            _body.CopyTo(packet, 1 + n);
            return packet;
        }
    }
}
