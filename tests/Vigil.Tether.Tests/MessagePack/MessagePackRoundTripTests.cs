using Vigil.Tether.MessagePack;
using Xunit;
using static Vigil.Tether.Tests.MessagePack.MessagePackGoldenTests;

namespace Vigil.Tether.Tests.MessagePack;

public class MessagePackRoundTripTests
{
    static MsgPackValue RoundTrip(MsgPackValue value) => MsgPack.Decode(MsgPack.Encode(value));

    /// <summary>Each boundary of each integer width, with the size the smallest format takes.</summary>
    [Theory]
    [InlineData("0", 1)] [InlineData("127", 1)] [InlineData("128", 2)] [InlineData("255", 2)] [InlineData("256", 3)]
    [InlineData("65535", 3)] [InlineData("65536", 5)] [InlineData("4294967295", 5)] [InlineData("4294967296", 9)]
    [InlineData("9223372036854775807", 9)] [InlineData("9223372036854775808", 9)] [InlineData("18446744073709551615", 9)]
    [InlineData("-1", 1)] [InlineData("-32", 1)] [InlineData("-33", 2)] [InlineData("-128", 2)] [InlineData("-129", 3)]
    [InlineData("-32768", 3)] [InlineData("-32769", 5)] [InlineData("-2147483648", 5)] [InlineData("-2147483649", 9)]
    [InlineData("-9223372036854775808", 9)]
    public void Integers_round_trip_in_the_smallest_width(string text, int size)
    {
        var value = Int(Int128.Parse(text));
        Assert.Equal(size, MsgPack.Encode(value).Length);
        Assert.Equal(value, RoundTrip(value));
    }

    [Fact]
    public void Integers_no_format_holds_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Int((Int128)ulong.MaxValue + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Int((Int128)long.MinValue - 1));
    }

    [Fact]
    public void Floats_keep_their_width_and_bits()
    {
        Assert.Equal(new MsgPackFloat(0.1f, IsSingle: true), RoundTrip(new MsgPackFloat(0.1f, IsSingle: true)));
        Assert.Equal(5, MsgPack.Encode(new MsgPackFloat(0.1f, IsSingle: true)).Length);
        Assert.Equal(new MsgPackFloat(0.1), RoundTrip(new MsgPackFloat(0.1)));
        Assert.Equal(9, MsgPack.Encode(new MsgPackFloat(2.0)).Length); // a double stays a float 64, even when integral
        var nan = BitConverter.UInt64BitsToDouble(0x7ff8_0000_0000_0001);
        var back = Assert.IsType<MsgPackFloat>(RoundTrip(new MsgPackFloat(nan)));
        Assert.Equal(0x7ff8_0000_0000_0001UL, BitConverter.DoubleToUInt64Bits(back.Value));
    }

    [Fact]
    public void A_nested_document_round_trips()
    {
        var value = Map(
            (Str("fps"), Int(60)),
            (Str("name"), Str("kiosk ✓")),
            (Str("blob"), new MsgPackBinary(Bytes(300))),
            (Str("list"), Arr(MsgPackNil.Instance, new MsgPackBoolean(false), new MsgPackFloat(-2.5), Arr(Arr(Arr())))),
            (Int(-7), new MsgPackExtension(42, Bytes(5))),
            (Str("at"), new MsgPackTimestamp(1_700_000_000, 123_456_789)));
        var back = RoundTrip(value);
        Assert.Equal(value, back);
        Assert.Equal(value.ToString(), back.ToString());
    }

    [Fact]
    public void Values_compare_by_content()
    {
        Assert.Equal(new MsgPackBinary(new byte[] { 1, 2 }), new MsgPackBinary(new byte[] { 1, 2 }));
        Assert.NotEqual(new MsgPackBinary(new byte[] { 1, 2 }), new MsgPackBinary(new byte[] { 1, 3 }));
        Assert.NotEqual<MsgPackValue>(Int(1), new MsgPackFloat(1));
        Assert.NotEqual(Arr(Int(1)), Arr(Int(1), Int(1)));
        Assert.NotEqual(new MsgPackExtension(1, Bytes(2)), new MsgPackExtension(2, Bytes(2)));
        Assert.NotEqual(Map((Str("a"), Int(1))), Map((Str("a"), Int(2))));
    }

    [Fact]
    public void Timestamps_convert_to_and_from_DateTimeOffset_to_the_tick()
    {
        var at = new DateTimeOffset(2024, 6, 5, 12, 30, 15, TimeSpan.FromHours(2)).AddTicks(1234567);
        var ts = MsgPackTimestamp.FromDateTimeOffset(at);
        Assert.Equal(123_456_700u, ts.Nanoseconds);
        Assert.Equal(at.ToUnixTimeSeconds(), ts.Seconds);
        Assert.Equal(at, ts.ToDateTimeOffset());
        Assert.Equal(TimeSpan.Zero, ts.ToDateTimeOffset().Offset);

        var beforeEpoch = MsgPackTimestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch.AddTicks(-1));
        Assert.Equal(new MsgPackTimestamp(-1, 999_999_900), beforeEpoch);
        Assert.Equal("c70cff3b9ac99cffffffffffffffff", Hex(MsgPack.Encode(beforeEpoch)));

        Assert.Equal(DateTimeOffset.MinValue, MsgPackTimestamp.FromDateTimeOffset(DateTimeOffset.MinValue).ToDateTimeOffset());
        Assert.Equal(DateTimeOffset.MaxValue, MsgPackTimestamp.FromDateTimeOffset(DateTimeOffset.MaxValue).ToDateTimeOffset());
    }

    [Fact]
    public void Timestamps_outside_DateTimeOffset_say_so_and_keep_their_nanoseconds()
    {
        var far = new MsgPackTimestamp(long.MaxValue, 1);
        Assert.False(far.TryToDateTimeOffset(out _));
        Assert.Throws<OverflowException>(() => far.ToDateTimeOffset());
        Assert.Equal(far, RoundTrip(far));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MsgPackTimestamp(0, 1_000_000_000));
    }

    [Fact]
    public void Numeric_fields_of_a_map_become_doubles()
    {
        var pong = Map(
            (Str("fps"), Int(60)),
            (Str("load"), new MsgPackFloat(0.75)),
            (Str("big"), Int(ulong.MaxValue)),
            (Str("name"), Str("kiosk")),
            (Str("ok"), new MsgPackBoolean(true)),
            (Str("nan"), new MsgPackFloat(double.NaN)),
            (Str("nested"), Map((Str("inner"), Int(1)))),
            (Int(5), Int(5)),
            (Str("fps"), Int(59)));
        var fields = pong.NumericFields();
        Assert.Equal(["big", "fps", "load"], fields.Keys.Order());
        Assert.Equal(59, fields["fps"]); // the last duplicate wins, as in JavaScript
        Assert.Equal(0.75, fields["load"]);
        Assert.Equal(1.8446744073709552E19, fields["big"]);

        Assert.True(pong.TryGetValue("name", out var name));
        Assert.Equal("kiosk", name.AsString());
        Assert.False(pong.TryGetValue("missing", out _));
    }

    [Fact]
    public void Values_and_timestamps_can_be_written_into_the_library_writer_by_hand()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new global::MessagePack.MessagePackWriter(buffer);
        writer.WriteMapHeader(2);
        writer.Write("fps");
        writer.Write(60L);
        writer.Write("at");
        MsgPack.WriteTimestamp(ref writer, new MsgPackTimestamp(1, 0));
        MsgPack.Write(ref writer, new MsgPackArray([MsgPackNil.Instance, new MsgPackBoolean(true), new MsgPackBinary(new byte[] { 9 })]));
        writer.Flush();
        Assert.Equal("82a36670733ca26174d6ff0000000193c0c3c40109", Hex(buffer.WrittenSpan));
    }
}
