using Vigil.Tether.MessagePack;
using Xunit;

namespace Vigil.Tether.Tests.MessagePack;

/// <summary>Byte-exact vectors for every format of the spec (github.com/msgpack/msgpack/blob/master/spec.md), in both
/// directions: the bytes decode to the value, and the value encodes to the same bytes (the smallest format).</summary>
public class MessagePackGoldenTests
{
    internal static MsgPackInteger Int(Int128 v) => new(v);
    internal static MsgPackString Str(string s) => new(s);
    internal static MsgPackArray Arr(params MsgPackValue[] items) => new(items);
    internal static MsgPackMap Map(params (MsgPackValue Key, MsgPackValue Value)[] entries) =>
        new(entries.Select(e => KeyValuePair.Create(e.Key, e.Value)).ToArray());
    internal static byte[] Bytes(int n) => Enumerable.Range(0, n).Select(i => (byte)i).ToArray();
    internal static string Hex(ReadOnlySpan<byte> b) => Convert.ToHexStringLower(b);
    static string Repeat(string hexByte, int n) => string.Concat(Enumerable.Repeat(hexByte, n));

    public static TheoryData<string, MsgPackValue> Canonical => new()
    {
        { "c0", MsgPackNil.Instance },
        { "c2", new MsgPackBoolean(false) },
        { "c3", new MsgPackBoolean(true) },
        { "00", Int(0) },
        { "7f", Int(127) },
        { "cc80", Int(128) },
        { "ccff", Int(255) },
        { "cd0100", Int(256) },
        { "cdffff", Int(65535) },
        { "ce00010000", Int(65536) },
        { "ceffffffff", Int(uint.MaxValue) },
        { "cf0000000100000000", Int(1L << 32) },
        { "cfffffffffffffffff", Int(ulong.MaxValue) },
        { "ff", Int(-1) },
        { "e0", Int(-32) },
        { "d0df", Int(-33) },
        { "d080", Int(-128) },
        { "d1ff7f", Int(-129) },
        { "d18000", Int(short.MinValue) },
        { "d2ffff7fff", Int(short.MinValue - 1) },
        { "d280000000", Int(int.MinValue) },
        { "d3ffffffff7fffffff", Int(int.MinValue - 1L) },
        { "d38000000000000000", Int(long.MinValue) },
        { "ca3fc00000", new MsgPackFloat(1.5, IsSingle: true) },
        { "caff800000", new MsgPackFloat(double.NegativeInfinity, IsSingle: true) },
        { "cb3ff8000000000000", new MsgPackFloat(1.5) },
        { "cbbfb999999999999a", new MsgPackFloat(-0.1) },
        { "cb8000000000000000", new MsgPackFloat(-0.0) },
        { "a0", Str("") },
        { "a3616263", Str("abc") },
        { "bf" + Repeat("78", 31), Str(new string('x', 31)) },
        { "d920" + Repeat("79", 32), Str(new string('y', 32)) },
        { "d9ff" + Repeat("7a", 255), Str(new string('z', 255)) },
        { "da0100" + Repeat("77", 256), Str(new string('w', 256)) },
        { "db00010000" + Repeat("76", 65536), Str(new string('v', 65536)) },
        { "a6c3a920e29c93", Str("é ✓") },
        { "a4f09f9880", Str("😀") },
        { "c400", new MsgPackBinary(Array.Empty<byte>()) },
        { "c403000102", new MsgPackBinary(Bytes(3)) },
        { "c50100" + Hex(Bytes(256)), new MsgPackBinary(Bytes(256)) },
        { "c600010000" + Hex(Bytes(65536)), new MsgPackBinary(Bytes(65536)) },
        { "90", Arr() },
        { "9f" + Repeat("01", 15), Arr([.. Enumerable.Repeat(Int(1), 15)]) },
        { "dc0010" + Repeat("c0", 16), Arr([.. Enumerable.Repeat<MsgPackValue>(MsgPackNil.Instance, 16)]) },
        { "dd00010000" + Repeat("c3", 65536), Arr([.. Enumerable.Repeat(new MsgPackBoolean(true), 65536)]) },
        { "80", Map() },
        { "82a3667073cb404dfd70a3d70a3da873657373696f6e7303", Map((Str("fps"), new MsgPackFloat(59.98)), (Str("sessions"), Int(3))) },
        { "de0010" + Repeat("c0c0", 16), Map([.. Enumerable.Repeat<(MsgPackValue, MsgPackValue)>((MsgPackNil.Instance, MsgPackNil.Instance), 16)]) },
        { "df00010000" + Repeat("0102", 65536), Map([.. Enumerable.Repeat<(MsgPackValue, MsgPackValue)>((Int(1), Int(2)), 65536)]) },
        { "8201a1619102c0", Map((Int(1), Str("a")), (Arr(Int(2)), MsgPackNil.Instance)) },
        { "d40105", new MsgPackExtension(1, new byte[] { 5 }) },
        { "d5020001", new MsgPackExtension(2, Bytes(2)) },
        { "d67f00010203", new MsgPackExtension(127, Bytes(4)) },
        { "d7800001020304050607", new MsgPackExtension(-128, Bytes(8)) },
        { "d805" + Hex(Bytes(16)), new MsgPackExtension(5, Bytes(16)) },
        { "c70006", new MsgPackExtension(6, Array.Empty<byte>()) },
        { "c70307000102", new MsgPackExtension(7, Bytes(3)) },
        { "c81000" + "08" + Hex(Bytes(0x1000)), new MsgPackExtension(8, Bytes(0x1000)) },
        { "c900010000" + "09" + Hex(Bytes(65536)), new MsgPackExtension(9, Bytes(65536)) },
        { "d6ff00000000", new MsgPackTimestamp(0, 0) },
        { "d6ffffffffff", new MsgPackTimestamp(uint.MaxValue, 0) },
        { "d7ff0000000100000000", new MsgPackTimestamp(1L << 32, 0) },
        { "d7ffee6b27fc00000001", new MsgPackTimestamp(1, 999_999_999) },
        { "d7ffee6b27ffffffffff", new MsgPackTimestamp((1L << 34) - 1, 999_999_999) },
        { "c70cff000000000000000400000000", new MsgPackTimestamp(1L << 34, 0) },
        { "c70cff3b9ac9ffffffffffffffffff", new MsgPackTimestamp(-1, 999_999_999) },
        { "c70cff000000008000000000000000", new MsgPackTimestamp(long.MinValue, 0) },
    };

    [Theory]
    [MemberData(nameof(Canonical))]
    public void Bytes_decode_to_the_value(string hex, MsgPackValue expected) =>
        Assert.Equal(expected, MsgPack.Decode(Convert.FromHexString(hex)));

    [Theory]
    [MemberData(nameof(Canonical))]
    public void Value_encodes_to_the_smallest_format(string hex, MsgPackValue value) =>
        Assert.Equal(hex, Hex(MsgPack.Encode(value)));

    /// <summary>Wider formats than needed are legal input; the writer then picks the smallest.</summary>
    [Theory]
    [InlineData("cd0001", "01")]
    [InlineData("cf0000000000000080", "cc80")]
    [InlineData("d3ffffffffffffffff", "ff")]
    [InlineData("d30000000000000005", "05")]
    [InlineData("d000", "00")]
    [InlineData("d90161", "a161")]
    [InlineData("db00000000", "a0")]
    [InlineData("dc0001c0", "91c0")]
    [InlineData("df00000000", "80")]
    [InlineData("c7010105", "d40105")]
    [InlineData("c8000307000102", "c70307000102")]
    public void Wider_formats_decode_and_reencode_smallest(string hex, string smallest)
    {
        var value = MsgPack.Decode(Convert.FromHexString(hex));
        Assert.Equal(smallest, Hex(MsgPack.Encode(value)));
    }

    [Fact]
    public void Timestamp96_with_small_seconds_reencodes_as_timestamp32()
    {
        var value = MsgPack.Decode(Convert.FromHexString("c70cff000000000000000000000005"));
        Assert.Equal(new MsgPackTimestamp(5, 0), value);
        Assert.Equal("d6ff00000005", Hex(MsgPack.Encode(value)));
    }
}
