using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Code = MessagePack.MessagePackCode;
using LibReader = MessagePack.MessagePackReader;
using LibWriter = MessagePack.MessagePackWriter;
using MessagePackType = MessagePack.MessagePackType;

namespace Vigil.Tether.MessagePack;

// Overview
//
// MessagePack for payloads that arrive from the network (Tether pongs), over the MessagePack package's low-level
// MessagePackReader and MessagePackWriter (only those: its serializer needs reflection and fails under Native AOT).
// A whole payload is one value, decoded in one pass into MsgPackValue records. What this file adds to the library:
//
// - Hostile input gives a MessagePackException naming the offset of the value it was in, never another exception
//   type: the library throws EndOfStreamException for truncation, and ArgumentOutOfRangeException for a str or bin
//   that declares 2 GiB or more (it reads a str 32 length as a signed int), both before allocating anything.
// - A declared length is checked against the bytes that remain before anything is allocated: the library does so for
//   str, bin, ext and an array's count (one byte per item); a map needs two bytes per entry, checked here. Containers
//   still grow with their items rather than being allocated at the declared count (see ReadArray).
// - Nesting is bounded (DefaultMaxDepth, 100): the decoder recurses, and depth is what could exhaust the stack.
// - 0xC1 ("never used"), trailing bytes after the value, and malformed timestamps are errors.
// - Invalid UTF-8 inside a str becomes U+FFFD, as the reference decoders (@msgpack/msgpack, msgpack-python with
//   errors="replace") do: one odd string should not cost a pong its gauges.
// - Ext type -1 is the timestamp extension (spec "Timestamp extension type"): 4 bytes = uint32 seconds; 8 bytes =
//   30-bit nanoseconds over 34-bit seconds; 12 bytes = uint32 nanoseconds then int64 seconds. It decodes to
//   MsgPackTimestamp (the library's ReadDateTime covers only DateTime's range); any other size, or nanoseconds above
//   999,999,999, is an error.
// - Encoding picks the smallest format exactly as the reference @msgpack/msgpack does (the library's writer does;
//   the interop tests compare bytes): floats keep their width, a double is always float 64.

/// <summary>Decodes and encodes <see cref="MsgPackValue"/>s. Thread-safe (stateless).</summary>
public static class MsgPack
{
    /// <summary>How deeply arrays and maps may nest unless the caller says otherwise.</summary>
    public const int DefaultMaxDepth = 100;

    static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <summary>Decodes <paramref name="input"/>, which must hold exactly one value; throws
    /// <see cref="MessagePackException"/> (naming the offset) on anything else.</summary>
    public static MsgPackValue Decode(ReadOnlySpan<byte> input, int maxDepth = DefaultMaxDepth) => Decode(new ReadOnlyMemory<byte>(input.ToArray()), maxDepth);

    /// <inheritdoc cref="Decode(ReadOnlySpan{byte}, int)"/>
    public static MsgPackValue Decode(ReadOnlyMemory<byte> input, int maxDepth = DefaultMaxDepth)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDepth);
        var reader = new LibReader(input);
        var value = ReadValue(ref reader, 0, maxDepth);
        if (!reader.End)
        {
            long at = reader.Consumed;
            throw Error(at, $"{input.Length - at} trailing byte(s) at offset {at} after a complete value");
        }
        return value;
    }

    /// <summary>Like <see cref="Decode(ReadOnlyMemory{byte}, int)"/>, but a malformed input gives false and the error's message.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> input, [NotNullWhen(true)] out MsgPackValue? value,
        [NotNullWhen(false)] out string? error, int maxDepth = DefaultMaxDepth)
    {
        try
        {
            value = Decode(input, maxDepth);
            error = null;
            return true;
        }
        catch (MessagePackException e)
        {
            value = null;
            error = e.Message;
            return false;
        }
    }

    /// <inheritdoc cref="TryDecode(ReadOnlyMemory{byte}, out MsgPackValue?, out string?, int)"/>
    public static bool TryDecode(ReadOnlySpan<byte> input, [NotNullWhen(true)] out MsgPackValue? value,
        [NotNullWhen(false)] out string? error, int maxDepth = DefaultMaxDepth) => TryDecode(new ReadOnlyMemory<byte>(input.ToArray()), out value, out error, maxDepth);

    static MsgPackValue ReadValue(ref LibReader reader, int depth, int maxDepth)
    {
        long start = reader.Consumed;
        if (reader.End) throw Error(start, "input ends where a value should start");
        byte code = reader.NextCode;
        var type = reader.NextMessagePackType;
        try
        {
            switch (type)
            {
                case MessagePackType.Nil: reader.ReadNil(); return MsgPackNil.Instance;
                case MessagePackType.Boolean: return new MsgPackBoolean(reader.ReadBoolean());
                case MessagePackType.Integer: return code == Code.UInt64 ? new MsgPackInteger(reader.ReadUInt64()) : new MsgPackInteger(reader.ReadInt64());
                case MessagePackType.Float: return code == Code.Float32 ? new MsgPackFloat(reader.ReadSingle(), IsSingle: true) : new MsgPackFloat(reader.ReadDouble());
                case MessagePackType.String: return new MsgPackString(Utf8.GetString(reader.ReadStringSequence()!.Value));
                case MessagePackType.Binary: return new MsgPackBinary(reader.ReadBytes()!.Value.ToArray());
                case MessagePackType.Extension: return ReadExtension(ref reader, start);
                case MessagePackType.Array: return ReadArray(ref reader, start, depth, maxDepth);
                case MessagePackType.Map: return ReadMap(ref reader, start, depth, maxDepth);
                default: throw Error(start, $"byte 0x{code:x2} is never used in MessagePack");
            }
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentOutOfRangeException or global::MessagePack.MessagePackSerializationException)
        {
            // Truncated input, or a declared length the input cannot back (the library checks before allocating).
            long remaining = reader.Sequence.Length - start;
            throw Error(start, $"input ends inside a value of type {Describe(type)} (0x{code:x2}): it needs more than the {remaining} byte(s) that remain");
        }
    }

    static MsgPackValue ReadExtension(ref LibReader reader, long start)
    {
        var header = reader.ReadExtensionFormatHeader(); // throws EndOfStreamException when the data is not all there
        var data = reader.ReadRaw(header.Length).ToArray();
        return header.TypeCode == MsgPackTimestamp.ExtensionType ? ReadTimestamp(data, start) : new MsgPackExtension(header.TypeCode, data);
    }

    static MsgPackTimestamp ReadTimestamp(ReadOnlySpan<byte> data, long start)
    {
        (long seconds, ulong nanoseconds) = data.Length switch
        {
            4 => (BinaryPrimitives.ReadUInt32BigEndian(data), 0UL),
            8 => ((long)(BinaryPrimitives.ReadUInt64BigEndian(data) & 0x3_ffff_ffff), BinaryPrimitives.ReadUInt64BigEndian(data) >> 34),
            12 => (BinaryPrimitives.ReadInt64BigEndian(data[4..]), BinaryPrimitives.ReadUInt32BigEndian(data)),
            _ => throw Error(start, $"a timestamp (ext -1) has {data.Length} bytes of data; the spec allows 4, 8 or 12"),
        };
        if (nanoseconds > 999_999_999)
            throw Error(start, $"a timestamp (ext -1) has {nanoseconds} nanoseconds; at most 999999999 are allowed");
        return new MsgPackTimestamp(seconds, (uint)nanoseconds);
    }

    // Containers grow as their items are read instead of being allocated at their declared size: each declared size
    // fits the bytes that remain, but containers nested inside one another each declaring it would allocate
    // depth × input (the MessagePack fuzzer found 90 MB for a 200 KB input, ~800 bytes per byte). Growing, the memory
    // follows the items that really are there.
    const int InitialCapacity = 16;

    static MsgPackArray ReadArray(ref LibReader reader, long start, int depth, int maxDepth)
    {
        int n = reader.ReadArrayHeader(); // the library refuses a count above the bytes that remain
        if (depth >= maxDepth) throw Error(start, $"arrays and maps nest deeper than {maxDepth} levels");
        var items = new List<MsgPackValue>(Math.Min(n, InitialCapacity));
        for (int i = 0; i < n; i++) items.Add(ReadValue(ref reader, depth + 1, maxDepth));
        return new MsgPackArray(items);
    }

    static MsgPackMap ReadMap(ref LibReader reader, long start, int depth, int maxDepth)
    {
        int n = reader.ReadMapHeader();
        long remaining = reader.Sequence.Length - reader.Consumed;
        if (n > remaining / 2) throw Error(start, $"map declares {n} entries but only {remaining} byte(s) remain (an entry takes at least 2)");
        if (depth >= maxDepth) throw Error(start, $"arrays and maps nest deeper than {maxDepth} levels");
        var entries = new List<KeyValuePair<MsgPackValue, MsgPackValue>>(Math.Min(n, InitialCapacity));
        for (int i = 0; i < n; i++)
        {
            var key = ReadValue(ref reader, depth + 1, maxDepth);
            entries.Add(new(key, ReadValue(ref reader, depth + 1, maxDepth)));
        }
        return new MsgPackMap(entries);
    }

    static string Describe(MessagePackType type) => type switch
    {
        MessagePackType.Integer => "integer",
        MessagePackType.Float => "float",
        MessagePackType.String => "str",
        MessagePackType.Binary => "bin",
        MessagePackType.Extension => "ext",
        MessagePackType.Array => "array",
        MessagePackType.Map => "map",
        _ => "value",
    };

    static MessagePackException Error(long offset, string what) => new($"MessagePack: at offset {offset}: {what}", offset);

    /// <summary>Encodes one value in a fresh buffer.</summary>
    public static byte[] Encode(MsgPackValue value)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        var writer = new LibWriter(buffer);
        Write(ref writer, value);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes a value and, recursively, everything in it, each in its smallest format.</summary>
    public static void Write(ref LibWriter writer, MsgPackValue value)
    {
        switch (value)
        {
            case MsgPackNil: writer.WriteNil(); break;
            case MsgPackBoolean b: writer.Write(b.Value); break;
            case MsgPackInteger i when i.Value < 0: writer.Write((long)i.Value); break;
            case MsgPackInteger i: writer.Write((ulong)i.Value); break;
            case MsgPackFloat { IsSingle: true } f: writer.Write((float)f.Value); break;
            case MsgPackFloat f: writer.Write(f.Value); break;
            case MsgPackString s: writer.Write(s.Value); break;
            case MsgPackBinary b: writer.Write(b.Data.Span); break;
            case MsgPackTimestamp t: WriteTimestamp(ref writer, t); break;
            case MsgPackExtension e: WriteExtension(ref writer, e.Type, e.Data.Span); break;
            case MsgPackArray a:
                writer.WriteArrayHeader(a.Items.Count);
                foreach (var item in a.Items) Write(ref writer, item);
                break;
            case MsgPackMap m:
                writer.WriteMapHeader(m.Entries.Count);
                foreach (var (k, v) in m.Entries) { Write(ref writer, k); Write(ref writer, v); }
                break;
            default: throw new ArgumentException($"unknown MessagePack value type {value.GetType().Name}", nameof(value));
        }
    }

    /// <summary>A timestamp (ext -1) in its smallest form: 32-bit when the seconds fit in an unsigned 32-bit number and
    /// there are no nanoseconds, 64-bit when the seconds fit in 34 unsigned bits, else 96-bit.</summary>
    public static void WriteTimestamp(ref LibWriter writer, MsgPackTimestamp value)
    {
        // On the heap: the library's WriteRaw does not mark its span scoped, so a stackalloc one may not be passed.
        Span<byte> data = new byte[12];
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
        WriteExtension(ref writer, MsgPackTimestamp.ExtensionType, data);
    }

    static void WriteExtension(ref LibWriter writer, sbyte type, ReadOnlySpan<byte> data)
    {
        writer.WriteExtensionFormatHeader(new global::MessagePack.ExtensionHeader(type, data.Length)); // fixext 1/2/4/8/16, else ext 8/16/32
        writer.WriteRaw(data);
    }
}
