using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using static Vigil.Tether.MessagePack.MsgPackCode;

namespace Vigil.Tether.MessagePack;

// Overview
//
// A MessagePack decoder for payloads that arrive from the network (Tether pongs), so it is written for hostile
// input first: a whole payload is one value, decoded from a span in one pass into MsgPackValue records.
//
// - Every length a format declares (str, bin, ext, array, map) is checked against the bytes that remain BEFORE
//   anything is allocated: a 5-byte payload claiming a 4 GiB string fails at once instead of allocating 4 GiB.
//   An array element or a map key/value takes at least one byte, so a container's count is bounded the same way;
//   containers still grow with their items rather than being allocated at the declared count (see ReadArray).
// - Nesting is bounded (DefaultMaxDepth, 100): the decoder recurses, and depth is what could exhaust the stack.
// - 0xC1 ("never used"), truncation, trailing bytes after the value, and malformed timestamps are errors.
// - Every error is a MessagePackException whose message names the offset; TryDecode turns it into a value.
// - Invalid UTF-8 inside a str becomes U+FFFD, as the reference decoders (@msgpack/msgpack, msgpack-python with
//   errors="replace") do: one odd string should not cost a pong its gauges.
// - Ext type -1 is the timestamp extension (spec "Timestamp extension type"): 4 bytes = uint32 seconds;
//   8 bytes = 30-bit nanoseconds over 34-bit seconds; 12 bytes = uint32 nanoseconds then int64 seconds. It decodes
//   to MsgPackTimestamp; any other size, or nanoseconds above 999,999,999, is an error.

/// <summary>Decodes one MessagePack value from bytes. Thread-safe (stateless).</summary>
public static class MessagePackReader
{
    /// <summary>How deeply arrays and maps may nest unless the caller says otherwise.</summary>
    public const int DefaultMaxDepth = 100;

    /// <summary>Decodes <paramref name="input"/>, which must hold exactly one value; throws
    /// <see cref="MessagePackException"/> (naming the offset) on anything else.</summary>
    public static MsgPackValue Decode(ReadOnlySpan<byte> input, int maxDepth = DefaultMaxDepth)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDepth);
        var cursor = new Cursor(input, maxDepth);
        var value = cursor.ReadValue(depth: 0);
        if (cursor.Position != input.Length)
            throw new MessagePackException(
                $"MessagePack: {input.Length - cursor.Position} trailing byte(s) at offset {cursor.Position} after a complete value", cursor.Position);
        return value;
    }

    /// <summary>Like <see cref="Decode"/>, but a malformed input gives false and the error's message.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> input, [NotNullWhen(true)] out MsgPackValue? value,
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

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private ref struct Cursor(ReadOnlySpan<byte> input, int maxDepth)
    {
        private readonly ReadOnlySpan<byte> _input = input;
        public int Position { get; private set; }

        public MsgPackValue ReadValue(int depth)
        {
            int start = Position;
            byte code = Take(1, "a value")[0];
            switch (code)
            {
                case <= MaxPositiveFixInt: return new MsgPackInteger(code);
                case >= MinNegativeFixInt: return new MsgPackInteger((sbyte)code);
                case < FixArray: return ReadMap(code & 0x0f, start, depth);
                case < FixStr: return ReadArray(code & 0x0f, start, depth);
                case < Nil: return ReadString(code & 0x1f, start);
            }
            return code switch
            {
                Nil => MsgPackNil.Instance,
                False => new MsgPackBoolean(false),
                True => new MsgPackBoolean(true),
                NeverUsed => throw Error(start, "byte 0xc1 is never used in MessagePack"),
                Bin8 => ReadBinary(ReadLength(1, "bin 8"), start),
                Bin16 => ReadBinary(ReadLength(2, "bin 16"), start),
                Bin32 => ReadBinary(ReadLength(4, "bin 32"), start),
                Ext8 => ReadExtension(ReadLength(1, "ext 8"), start),
                Ext16 => ReadExtension(ReadLength(2, "ext 16"), start),
                Ext32 => ReadExtension(ReadLength(4, "ext 32"), start),
                Float32 => new MsgPackFloat(BinaryPrimitives.ReadSingleBigEndian(Take(4, "float 32")), IsSingle: true),
                Float64 => new MsgPackFloat(BinaryPrimitives.ReadDoubleBigEndian(Take(8, "float 64"))),
                U8 => new MsgPackInteger(Take(1, "uint 8")[0]),
                U16 => new MsgPackInteger(BinaryPrimitives.ReadUInt16BigEndian(Take(2, "uint 16"))),
                U32 => new MsgPackInteger(BinaryPrimitives.ReadUInt32BigEndian(Take(4, "uint 32"))),
                U64 => new MsgPackInteger(BinaryPrimitives.ReadUInt64BigEndian(Take(8, "uint 64"))),
                I8 => new MsgPackInteger((sbyte)Take(1, "int 8")[0]),
                I16 => new MsgPackInteger(BinaryPrimitives.ReadInt16BigEndian(Take(2, "int 16"))),
                I32 => new MsgPackInteger(BinaryPrimitives.ReadInt32BigEndian(Take(4, "int 32"))),
                I64 => new MsgPackInteger(BinaryPrimitives.ReadInt64BigEndian(Take(8, "int 64"))),
                FixExt1 => ReadExtension(1, start),
                FixExt2 => ReadExtension(2, start),
                FixExt4 => ReadExtension(4, start),
                FixExt8 => ReadExtension(8, start),
                FixExt16 => ReadExtension(16, start),
                Str8 => ReadString(ReadLength(1, "str 8"), start),
                Str16 => ReadString(ReadLength(2, "str 16"), start),
                Str32 => ReadString(ReadLength(4, "str 32"), start),
                Array16 => ReadArray(ReadLength(2, "array 16"), start, depth),
                Array32 => ReadArray(ReadLength(4, "array 32"), start, depth),
                Map16 => ReadMap(ReadLength(2, "map 16"), start, depth),
                Map32 => ReadMap(ReadLength(4, "map 32"), start, depth),
                _ => throw new InvalidOperationException($"unreachable: 0x{code:x2}"),
            };
        }

        private MsgPackString ReadString(long length, int start) =>
            new(Utf8.GetString(Take(Fits(length, 1, start, "str"), "a str")));

        private MsgPackBinary ReadBinary(long length, int start) =>
            new(Take(Fits(length, 1, start, "bin"), "a bin").ToArray());

        private MsgPackValue ReadExtension(long length, int start)
        {
            int size = Fits(length, 1, start, "ext");
            var type = (sbyte)Take(1, "an ext type")[0];
            var data = Take(size, "ext data");
            return type == MsgPackTimestamp.ExtensionType ? ReadTimestamp(data, start) : new MsgPackExtension(type, data.ToArray());
        }

        private static MsgPackTimestamp ReadTimestamp(ReadOnlySpan<byte> data, int start)
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

        // Containers grow as their items are read instead of being allocated at their declared size: each declared
        // size fits the bytes that remain, but containers nested inside one another each declaring it would allocate
        // depth × input (the MessagePack fuzzer found 90 MB for a 200 KB input, ~800 bytes per byte). Growing, the
        // memory follows the items that really are there.
        private const int InitialCapacity = 16;

        private MsgPackArray ReadArray(long count, int start, int depth)
        {
            int n = Fits(count, 1, start, "array");
            Enter(depth, start);
            var items = new List<MsgPackValue>(Math.Min(n, InitialCapacity));
            for (int i = 0; i < n; i++) items.Add(ReadValue(depth + 1));
            return new MsgPackArray(items);
        }

        private MsgPackMap ReadMap(long count, int start, int depth)
        {
            int n = Fits(count, 2, start, "map");
            Enter(depth, start);
            var entries = new List<KeyValuePair<MsgPackValue, MsgPackValue>>(Math.Min(n, InitialCapacity));
            for (int i = 0; i < n; i++)
            {
                var key = ReadValue(depth + 1);
                entries.Add(new(key, ReadValue(depth + 1)));
            }
            return new MsgPackMap(entries);
        }

        private readonly void Enter(int depth, int start)
        {
            if (depth >= maxDepth) throw Error(start, $"arrays and maps nest deeper than {maxDepth} levels");
        }

        /// <summary>The declared size as an int, once it is known that the rest of the input can hold it
        /// (at least <paramref name="bytesEach"/> bytes per item); checked before any allocation.</summary>
        private readonly int Fits(long declared, int bytesEach, int start, string what)
        {
            long remaining = _input.Length - Position;
            if (declared * bytesEach > remaining)
                throw Error(start, $"{what} declares a size of {declared} but only {remaining} byte(s) remain");
            return (int)declared;
        }

        private long ReadLength(int width, string format)
        {
            var bytes = Take(width, format + " length");
            return width switch
            {
                1 => bytes[0],
                2 => BinaryPrimitives.ReadUInt16BigEndian(bytes),
                _ => BinaryPrimitives.ReadUInt32BigEndian(bytes),
            };
        }

        private ReadOnlySpan<byte> Take(int count, string what)
        {
            if (_input.Length - Position < count)
                throw Error(Position, _input.Length == Position
                    ? $"input ends where {what} should start"
                    : $"input ends inside {what}: {count} byte(s) needed, {_input.Length - Position} remain");
            var span = _input.Slice(Position, count);
            Position += count;
            return span;
        }

        private static MessagePackException Error(int offset, string what) =>
            new($"MessagePack: at offset {offset}: {what}", offset);
    }
}
