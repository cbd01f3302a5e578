using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using static Vigil.Tether.MessagePack.MsgPackCode;

namespace Vigil.Tether.MessagePack;

/// <summary>
/// Encodes MessagePack into a growing buffer, always in the smallest format that holds the value, choosing
/// exactly as the reference @msgpack/msgpack does (the interop tests compare bytes with it). Floats keep their
/// width: <see cref="WriteFloat64"/> is always float 64, as JavaScript numbers that are not integers are.
/// Not thread-safe; reuse one per thread with <see cref="Clear"/>.
/// </summary>
public sealed class MessagePackWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    /// <summary>A copy of the bytes written so far.</summary>
    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    /// <summary>Forgets what was written, keeping the buffer.</summary>
    public void Clear() => _buffer.ResetWrittenCount();

    /// <summary>Encodes one value in a fresh buffer.</summary>
    public static byte[] Encode(MsgPackValue value)
    {
        var writer = new MessagePackWriter();
        writer.Write(value);
        return writer.ToArray();
    }

    /// <summary>Writes a value and, recursively, everything in it.</summary>
    public void Write(MsgPackValue value)
    {
        switch (value)
        {
            case MsgPackNil: WriteNil(); break;
            case MsgPackBoolean b: WriteBoolean(b.Value); break;
            case MsgPackInteger i when i.Value < 0: WriteInteger((long)i.Value); break;
            case MsgPackInteger i: WriteInteger((ulong)i.Value); break;
            case MsgPackFloat { IsSingle: true } f: WriteFloat32((float)f.Value); break;
            case MsgPackFloat f: WriteFloat64(f.Value); break;
            case MsgPackString s: WriteString(s.Value); break;
            case MsgPackBinary b: WriteBinary(b.Data.Span); break;
            case MsgPackTimestamp t: WriteTimestamp(t); break;
            case MsgPackExtension e: WriteExtension(e.Type, e.Data.Span); break;
            case MsgPackArray a:
                WriteArrayHeader(a.Items.Count);
                foreach (var item in a.Items) Write(item);
                break;
            case MsgPackMap m:
                WriteMapHeader(m.Entries.Count);
                foreach (var (k, v) in m.Entries) { Write(k); Write(v); }
                break;
            default: throw new ArgumentException($"unknown MessagePack value type {value.GetType().Name}", nameof(value));
        }
    }

    /// <summary>nil.</summary>
    public void WriteNil() => WriteByte(Nil);

    /// <summary>true or false.</summary>
    public void WriteBoolean(bool value) => WriteByte(value ? True : False);

    /// <summary>An integer: a non-negative one as <see cref="WriteInteger(ulong)"/>, a negative one as negative
    /// fixint, int 8, 16, 32 or 64, whichever is smallest.</summary>
    public void WriteInteger(long value)
    {
        if (value >= 0) WriteInteger((ulong)value);
        else if (value >= -32) WriteByte((byte)(sbyte)value);
        else if (value >= sbyte.MinValue) WriteHeader(I8, (byte)(sbyte)value, 1);
        else if (value >= short.MinValue) WriteHeader(I16, (ulong)value, 2);
        else if (value >= int.MinValue) WriteHeader(I32, (ulong)value, 4);
        else WriteHeader(I64, (ulong)value, 8);
    }

    /// <summary>A non-negative integer: positive fixint, uint 8, 16, 32 or 64, whichever is smallest.</summary>
    public void WriteInteger(ulong value)
    {
        if (value <= MaxPositiveFixInt) WriteByte((byte)value);
        else if (value <= byte.MaxValue) WriteHeader(U8, value, 1);
        else if (value <= ushort.MaxValue) WriteHeader(U16, value, 2);
        else if (value <= uint.MaxValue) WriteHeader(U32, value, 4);
        else WriteHeader(U64, value, 8);
    }

    /// <summary>float 32.</summary>
    public void WriteFloat32(float value)
    {
        WriteByte(Float32);
        BinaryPrimitives.WriteSingleBigEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    /// <summary>float 64.</summary>
    public void WriteFloat64(double value)
    {
        WriteByte(Float64);
        BinaryPrimitives.WriteDoubleBigEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    /// <summary>A string as UTF-8: fixstr, str 8, 16 or 32 by its byte length.</summary>
    public void WriteString(string value)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        if (length < 32) WriteByte((byte)(FixStr | length));
        else WriteSized(Str8, Str16, Str32, length);
        _buffer.Advance(Encoding.UTF8.GetBytes(value, _buffer.GetSpan(length)));
    }

    /// <summary>Bytes: bin 8, 16 or 32 by their length.</summary>
    public void WriteBinary(ReadOnlySpan<byte> value)
    {
        WriteSized(Bin8, Bin16, Bin32, value.Length);
        _buffer.Write(value);
    }

    /// <summary>The header of an array of <paramref name="count"/> items, which the caller writes next.</summary>
    public void WriteArrayHeader(int count)
    {
        if (count < 16) WriteByte((byte)(FixArray | count));
        else WriteSized(0, Array16, Array32, count);
    }

    /// <summary>The header of a map of <paramref name="count"/> entries; the caller writes key, value, key, value….</summary>
    public void WriteMapHeader(int count)
    {
        if (count < 16) WriteByte((byte)(FixMap | count));
        else WriteSized(0, Map16, Map32, count);
    }

    /// <summary>An ext: fixext 1, 2, 4, 8 or 16 when the data has one of those sizes, else ext 8, 16 or 32.</summary>
    public void WriteExtension(sbyte type, ReadOnlySpan<byte> data)
    {
        byte? fix = data.Length switch { 1 => FixExt1, 2 => FixExt2, 4 => FixExt4, 8 => FixExt8, 16 => FixExt16, _ => null };
        if (fix is byte code) WriteByte(code);
        else WriteSized(Ext8, Ext16, Ext32, data.Length);
        WriteByte((byte)type);
        _buffer.Write(data);
    }

    /// <summary>A timestamp (ext -1) in its smallest form: 32-bit when the seconds fit in an unsigned 32-bit number
    /// and there are no nanoseconds, 64-bit when the seconds fit in 34 unsigned bits, else 96-bit.</summary>
    public void WriteTimestamp(MsgPackTimestamp value)
    {
        Span<byte> data = stackalloc byte[12];
        if (value.Seconds is >= 0 and <= uint.MaxValue && value.Nanoseconds == 0)
        {
            BinaryPrimitives.WriteUInt32BigEndian(data, (uint)value.Seconds);
            data = data[..4];
        }
        else if (value.Seconds is >= 0 and <= 0x3_ffff_ffff)
        {
            BinaryPrimitives.WriteUInt64BigEndian(data, ((ulong)value.Nanoseconds << 34) | (ulong)value.Seconds);
            data = data[..8];
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(data, value.Nanoseconds);
            BinaryPrimitives.WriteInt64BigEndian(data[4..], value.Seconds);
        }
        WriteExtension(MsgPackTimestamp.ExtensionType, data);
    }

    /// <summary>The 8-, 16- or 32-bit size form; <paramref name="code8"/> 0 means the family has no 8-bit form.</summary>
    private void WriteSized(byte code8, byte code16, byte code32, int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (size <= byte.MaxValue && code8 != 0) WriteHeader(code8, (ulong)size, 1);
        else if (size <= ushort.MaxValue) WriteHeader(code16, (ulong)size, 2);
        else WriteHeader(code32, (ulong)size, 4);
    }

    /// <summary>A format byte followed by the low <paramref name="width"/> bytes of <paramref name="value"/>, big-endian.</summary>
    private void WriteHeader(byte code, ulong value, int width)
    {
        var span = _buffer.GetSpan(1 + width);
        span[0] = code;
        for (int i = width; i >= 1; i--, value >>= 8) span[i] = (byte)value;
        _buffer.Advance(1 + width);
    }

    private void WriteByte(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
    }
}
