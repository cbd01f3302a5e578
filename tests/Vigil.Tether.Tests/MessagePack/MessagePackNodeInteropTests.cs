using Vigil.Tether.MessagePack;
using Vigil.Tether.Tests.Support;
using Xunit;
using static Vigil.Tether.Tests.MessagePack.MessagePackGoldenTests;

namespace Vigil.Tether.Tests.MessagePack;

/// <summary>Against the reference codec, the npm @msgpack/msgpack package, through tests/fixtures/node/msgpack-vectors.mjs.
/// Both sides print values in the same exact notation (MsgPackValue.ToString()), so the comparison is of text.</summary>
public class MessagePackNodeInteropTests
{
    const string Script = "msgpack-vectors.mjs";

    [Fact]
    public async Task Node_encoded_vectors_decode_to_the_same_values_and_reencode_to_identical_bytes()
    {
        var lines = (await Node.RunAsync(Script, ["encode"])).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 80, $"node printed only {lines.Length} vectors");

        var mismatches = new List<string>();
        foreach (var line in lines)
        {
            var (name, hex, notation) = line.Split('\t') switch
            {
                [var n, var h, var d] => (n, h, d),
                _ => throw new FormatException("unexpected line from node: " + line[..Math.Min(80, line.Length)]),
            };
            var value = MsgPack.Decode(Convert.FromHexString(hex));
            if (value.ToString() != notation) mismatches.Add($"{name}: decoded {Short(value.ToString())}, node says {Short(notation)}");
            var ours = Hex(MsgPack.Encode(value));
            if (ours != hex) mismatches.Add($"{name}: we encode {Short(ours)}, node {Short(hex)}");
        }
        Assert.Empty(mismatches);
    }

    /// <summary>Our bytes, decoded by node. Floats here are not integral: node cannot tell 2.0 from 2 once decoded.</summary>
    [Fact]
    public async Task Node_decodes_our_bytes_to_the_same_values()
    {
        MsgPackValue[] values =
        [
            MsgPackNil.Instance, new MsgPackBoolean(true), new MsgPackBoolean(false),
            Int(0), Int(127), Int(128), Int(255), Int(256), Int(65535), Int(65536), Int(uint.MaxValue), Int(1L << 32),
            Int(long.MaxValue), Int(ulong.MaxValue), Int(-1), Int(-32), Int(-33), Int(-128), Int(-129), Int(short.MinValue),
            Int(short.MinValue - 1), Int(int.MinValue), Int(int.MinValue - 1L), Int(long.MinValue),
            new MsgPackFloat(1.5), new MsgPackFloat(-0.1), new MsgPackFloat(BitConverter.UInt64BitsToDouble(0x7ff8_0000_0000_0000)), new MsgPackFloat(double.NegativeInfinity),
            new MsgPackFloat(0.1f, IsSingle: true), new MsgPackFloat(-3.25, IsSingle: true),
            Str(""), Str("a"), Str(new string('x', 31)), Str(new string('y', 32)), Str(new string('z', 256)),
            Str(new string('w', 70_000)), Str("héllo wörld ✓ 😀 日本"),
            new MsgPackBinary(Array.Empty<byte>()), new MsgPackBinary(Bytes(255)), new MsgPackBinary(Bytes(256)), new MsgPackBinary(Bytes(70_000)),
            Arr(), Arr([.. Enumerable.Range(0, 15).Select(i => Int(i))]), Arr([.. Enumerable.Range(0, 16).Select(i => Int(i))]),
            Arr([.. Enumerable.Repeat<MsgPackValue>(MsgPackNil.Instance, 70_000)]),
            Map(), Map([.. Enumerable.Range(0, 15).Select(i => ((MsgPackValue)Str($"k{i}"), (MsgPackValue)Int(i)))]),
            Map([.. Enumerable.Range(0, 70_000).Select(i => ((MsgPackValue)Str($"k{i}"), (MsgPackValue)Int(i)))]),
            Map((Str("fps"), Int(60)), (Str("load"), new MsgPackFloat(0.75)), (Str("tags"), Arr(Str("a"), MsgPackNil.Instance))),
            new MsgPackExtension(1, Bytes(1)), new MsgPackExtension(2, Bytes(2)), new MsgPackExtension(3, Bytes(4)),
            new MsgPackExtension(4, Bytes(8)), new MsgPackExtension(5, Bytes(16)), new MsgPackExtension(6, Bytes(0)),
            new MsgPackExtension(7, Bytes(3)), new MsgPackExtension(8, Bytes(300)), new MsgPackExtension(-128, Bytes(70_000)),
            new MsgPackTimestamp(0, 0), new MsgPackTimestamp(uint.MaxValue, 0), new MsgPackTimestamp(1, 1),
            new MsgPackTimestamp((1L << 34) - 1, 999_999_999), new MsgPackTimestamp(1L << 34, 0), new MsgPackTimestamp(-1, 999_999_999),
            MsgPackTimestamp.FromDateTimeOffset(new DateTimeOffset(1, 1, 1, 0, 0, 0, TimeSpan.Zero)),
        ];
        string input = string.Join('\n', values.Select(v => Hex(MsgPack.Encode(v)))) + "\n";

        var lines = (await Node.RunAsync(Script, ["decode"], stdin: input)).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(values.Length, lines.Length);
        var mismatches = values.Zip(lines)
            .Where(p => p.First.ToString() != p.Second)
            .Select(p => $"ours {Short(p.First.ToString())}, node decoded {Short(p.Second)}")
            .ToList();
        Assert.Empty(mismatches);
    }

    static string Short(string s) => s.Length <= 120 ? s : s[..120] + $"…({s.Length} chars)";
}
