using Vigil.Tether.MessagePack;
using Xunit;

namespace Vigil.Tether.Tests.MessagePack;

/// <summary>Hostile and broken input: always a MessagePackException naming the offset, never a hang, a crash or an
/// allocation sized by a length the input cannot back.</summary>
public class MessagePackMalformedTests
{
    [Theory]
    [InlineData("", 0, "input ends where a value should start")]
    [InlineData("c1", 0, "0xc1 is never used")]
    [InlineData("91c1", 1, "0xc1 is never used")]
    [InlineData("cd01", 0, "input ends inside a value of type integer (0xcd): it needs more than the 2 byte(s) that remain")]
    [InlineData("cb3ff8", 0, "float (0xcb)")]
    [InlineData("d3", 0, "integer (0xd3)")]
    [InlineData("a36162", 0, "str (0xa3): it needs more than the 3 byte(s) that remain")]
    [InlineData("d9", 0, "str (0xd9)")]
    // The library reads a str 32 length as a signed int (-1 here) and throws ArgumentOutOfRangeException: still this error.
    [InlineData("dbffffffff61", 0, "str (0xdb): it needs more than the 6 byte(s) that remain")]
    [InlineData("c6ffffffff", 0, "bin (0xc6)")]
    [InlineData("c9ffffffff01", 0, "ext (0xc9)")]
    [InlineData("ddffffffff00", 0, "array (0xdd)")]
    [InlineData("dfffffffff0000", 0, "map (0xdf)")]
    [InlineData("820101", 0, "map (0x82)")] // the library wants 2 bytes per entry too
    [InlineData("9201", 0, "array (0x92)")]
    [InlineData("d4", 0, "ext (0xd4)")]
    [InlineData("d401", 0, "ext (0xd4)")]
    [InlineData("c0c0", 1, "1 trailing byte(s) at offset 1")]
    [InlineData("d5ff0000", 0, "timestamp (ext -1) has 2 bytes of data; the spec allows 4, 8 or 12")]
    [InlineData("c700ff", 0, "timestamp (ext -1) has 0 bytes")]
    [InlineData("d7ffee6b280000000000", 0, "1000000000 nanoseconds; at most 999999999")]
    [InlineData("c70cff3b9aca000000000000000000", 0, "1000000000 nanoseconds")]
    [InlineData("81a161", 3, "input ends where a value should start")]
    public void Malformed_input_names_the_offset(string hex, int offset, string message)
    {
        var e = Assert.Throws<MessagePackException>(() => MsgPack.Decode(Convert.FromHexString(hex)));
        Assert.Equal(offset, e.Offset);
        Assert.Contains($"at offset {offset}", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("dbfffffff0")]
    [InlineData("c6fffffff0")]
    [InlineData("c9fffffff001")]
    [InlineData("ddfffffff0")]
    [InlineData("dffffffff0")]
    public void Huge_declared_lengths_fail_before_allocating(string hex)
    {
        var input = Convert.FromHexString(hex + new string('0', 64));
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<MessagePackException>(() => MsgPack.Decode(input));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024, "allocated by the declared length");
    }

    [Fact]
    public void Nesting_up_to_the_bound_decodes_and_one_deeper_fails()
    {
        static byte[] Nested(int depth) => [.. Enumerable.Repeat((byte)0x91, depth), 0x00];

        var value = MsgPack.Decode(Nested(MsgPack.DefaultMaxDepth));
        for (int i = 0; i < MsgPack.DefaultMaxDepth; i++) value = Assert.IsType<MsgPackArray>(value).Items[0];
        Assert.Equal(new MsgPackInteger(0), value);

        var e = Assert.Throws<MessagePackException>(() => MsgPack.Decode(Nested(MsgPack.DefaultMaxDepth + 1)));
        Assert.Equal(MsgPack.DefaultMaxDepth, e.Offset);
        Assert.Contains("nest deeper than 100 levels", e.Message);
    }

    [Fact]
    public void A_million_nested_maps_fail_without_overflowing_the_stack()
    {
        var input = new byte[1_000_000];
        for (int i = 0; i < input.Length; i += 2) { input[i] = 0x81; input[i + 1] = 0x00; } // {0: {0: …
        var e = Assert.Throws<MessagePackException>(() => MsgPack.Decode(input, maxDepth: 10));
        Assert.Equal(20, e.Offset);
    }

    [Fact]
    public void Nested_containers_each_declaring_the_whole_rest_allocate_what_is_there_not_depth_times_it()
    {
        // Found by the fuzzer: each declared count fits the bytes that remain, but 99 nested arrays each allocated
        // an array of that count (80 MB here for 100 KB of input).
        const int filler = 100_000;
        var input = new List<byte>();
        for (int i = 0; i < 99; i++) input.AddRange([0xDD, 0x00, 0x01, 0x86, 0xA0]);   // array 32 of 100,000 items
        input.AddRange(Enumerable.Repeat((byte)0xC0, filler));                         // the innermost one's nils, no more
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<MessagePackException>(() => MsgPack.Decode([.. input]));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("input ends inside a value of type array (0xdd)", e.Message);
        Assert.True(allocated < 8 << 20, $"allocated {allocated:N0} bytes");
    }

    [Fact]
    public void TryDecode_returns_the_error_as_a_value()
    {
        Assert.False(MsgPack.TryDecode(Convert.FromHexString("a5ff"), out var value, out var error));
        Assert.Null(value);
        Assert.Equal("MessagePack: at offset 0: input ends inside a value of type str (0xa5): it needs more than the 2 byte(s) that remain", error);

        Assert.True(MsgPack.TryDecode(Convert.FromHexString("81a3667073cc3c"), out value, out error));
        Assert.Null(error);
        Assert.Equal(60, Assert.IsType<MsgPackMap>(value).NumericFields()["fps"]);
    }

    [Fact]
    public void Invalid_utf8_in_a_str_becomes_replacement_characters()
    {
        var value = MsgPack.Decode(Convert.FromHexString("a361ff62"));
        Assert.Equal(new MsgPackString("a\uFFFDb"), value);
    }

    /// <summary>Every proper prefix of every golden vector is truncated input: it must fail cleanly.</summary>
    [Fact]
    public void Every_truncation_of_every_golden_vector_fails_cleanly()
    {
        int checkedPrefixes = 0;
        foreach (var row in MessagePackGoldenTests.Canonical)
        {
            var bytes = Convert.FromHexString((string)row[0]);
            for (int cut = 0; cut < Math.Min(bytes.Length, 40); cut++)
            {
                Assert.Throws<MessagePackException>(() => MsgPack.Decode(bytes.AsSpan(0, cut)));
                checkedPrefixes++;
            }
        }
        Assert.True(checkedPrefixes > 300, $"only {checkedPrefixes} prefixes checked");
    }

    /// <summary>Random bytes decode or fail with MessagePackException; nothing else escapes (seeded: reproducible).</summary>
    [Fact]
    public void Random_bytes_never_escape_as_another_exception()
    {
        var random = new Random(20240605);
        int decoded = 0, rejected = 0;
        for (int i = 0; i < 20_000; i++)
        {
            var input = new byte[random.Next(0, 48)];
            random.NextBytes(input);
            if (MsgPack.TryDecode(input, out _, out _)) decoded++;
            else rejected++;
        }
        Assert.True(decoded > 0 && rejected > 0, $"decoded {decoded}, rejected {rejected}");
    }
}
