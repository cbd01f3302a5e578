using System.Text;
using CsCheck;
using Vigil.Tests.Fuzz;
using Vigil.Tether.Agent;
using Vigil.Tether.MessagePack;
using Vigil.Tether.Mqtt;
using Xunit;
using Xunit.Abstractions;

namespace Vigil.Tether.Tests.Fuzz;

/// <summary>Issue 10 §9: the MessagePack reader ends every input in a value or its documented error
/// (<see cref="MessagePackException"/>); never another exception, a hang or runaway allocation. (The MQTT packet
/// reader is MQTTnet's since issue 12, fuzzed by its own project.) What the pinger does with a decoded pong (topic parse, numeric fields) runs too.</summary>
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
        MsgPack.Encode(new MsgPackMap([KeyValuePair.Create((MsgPackValue)new MsgPackString("fps"), (MsgPackValue)new MsgPackFloat(59.9))])),
        MsgPack.Encode(new MsgPackArray([new MsgPackInteger(1), new MsgPackString("a"), MsgPackNil.Instance, new MsgPackTimestamp(1, 2)])),
    ];

    static FuzzOutcome DecodePong(ReadOnlySpan<byte> payload)
    {
        // As PingHub.Decode: TryDecode, then the numeric fields of a map. Both must stay within their contracts: the
        // dispatch loop they run in has nobody to catch anything else.
        if (!MsgPack.TryDecode(payload, out var value, out var error))
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
        var gen = Mutations.Of(MsgPackBases, Value.Select(MsgPack.Encode), MsgPackTokens, MsgPackNest);
        var report = FuzzHarness.Run("msgpack", gen, b => b, b =>
        {
            // Decode must throw nothing but MessagePackException (TryDecode turns exactly that into false).
            try { MsgPack.Decode(b); }
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
            Assert.Equal(v.ToString(), MsgPack.Decode(MsgPack.Encode(v)).ToString());
        }
    }

    // ---- corpus ----

    [Fact]
    public void Inputs_that_once_failed_end_in_a_value_or_an_error()
    {
        // Empty until a fuzz run finds a bug in the decoder; the folder must still be there.
        Assert.Empty(FuzzHarness.Replay("msgpack", b => DecodePong(b)));
    }
}
