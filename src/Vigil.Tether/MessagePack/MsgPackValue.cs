using System.Globalization;
using System.Text;

namespace Vigil.Tether.MessagePack;

/// <summary>
/// One decoded MessagePack value. A closed set of records, one per type family of the spec; match on the
/// type (<c>value is MsgPackMap map</c>). Equality is structural, and <see cref="ToString"/> prints a short,
/// unambiguous notation (<c>{str:6670:int:60}</c>-style) that the interop tests share with node.
/// </summary>
public abstract record MsgPackValue
{
    private protected MsgPackValue() { }

    /// <summary>The value as a number when it is an integer or a float; otherwise null.</summary>
    public double? AsNumber() => this switch
    {
        MsgPackInteger i => (double)i.Value,
        MsgPackFloat f => f.Value,
        _ => null,
    };

    /// <summary>The text when this is a string; otherwise null.</summary>
    public string? AsString() => (this as MsgPackString)?.Value;

    /// <summary>The shared notation: <c>nil</c>, <c>true</c>, <c>int:-5</c>, <c>float:&lt;IEEE-754 bits&gt;</c>,
    /// <c>str:&lt;UTF-8 hex&gt;</c>, <c>bin:&lt;hex&gt;</c>, <c>[a,b]</c>, <c>{k:v,k:v}</c>, <c>ext:&lt;type&gt;:&lt;hex&gt;</c>,
    /// <c>ts:&lt;seconds&gt;:&lt;nanoseconds&gt;</c>. Exact and language-neutral, so two codecs can be compared as text.</summary>
    public sealed override string ToString()
    {
        var sb = new StringBuilder();
        Describe(sb);
        return sb.ToString();
    }

    private protected abstract void Describe(StringBuilder sb);

    /// <summary>For containers: an item's notation into their builder.</summary>
    private protected static void Describe(MsgPackValue item, StringBuilder sb) => item.Describe(sb);
}

/// <summary>nil.</summary>
public sealed record MsgPackNil : MsgPackValue
{
    /// <summary>The one nil value.</summary>
    public static MsgPackNil Instance { get; } = new();
    private MsgPackNil() { }
    private protected override void Describe(StringBuilder sb) => sb.Append("nil");
}

/// <summary>true or false.</summary>
public sealed record MsgPackBoolean(bool Value) : MsgPackValue
{
    private protected override void Describe(StringBuilder sb) => sb.Append(Value ? "true" : "false");
}

/// <summary>Any integer format (fixint, int8…64, uint8…64). <see cref="Int128"/> holds the whole range,
/// -2^63 to 2^64-1, exactly.</summary>
public sealed record MsgPackInteger : MsgPackValue
{
    /// <summary>An integer; throws <see cref="ArgumentOutOfRangeException"/> outside -2^63 … 2^64-1, which no format holds.</summary>
    public MsgPackInteger(Int128 value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, long.MinValue);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, ulong.MaxValue);
        Value = value;
    }

    /// <summary>The value, exactly.</summary>
    public Int128 Value { get; }

    private protected override void Describe(StringBuilder sb) => sb.Append("int:").Append(Value.ToString(CultureInfo.InvariantCulture));
}

/// <summary>float32 or float64; <see cref="IsSingle"/> remembers the width so the writer writes it back alike.</summary>
public sealed record MsgPackFloat(double Value, bool IsSingle = false) : MsgPackValue
{
    private protected override void Describe(StringBuilder sb) =>
        sb.Append("float:").Append(BitConverter.DoubleToUInt64Bits(Value).ToString("x16", CultureInfo.InvariantCulture));
}

/// <summary>A str (UTF-8 on the wire).</summary>
public sealed record MsgPackString(string Value) : MsgPackValue
{
    private protected override void Describe(StringBuilder sb) =>
        sb.Append("str:").Append(Convert.ToHexStringLower(Encoding.UTF8.GetBytes(Value)));
}

/// <summary>A bin: raw bytes.</summary>
public sealed record MsgPackBinary(ReadOnlyMemory<byte> Data) : MsgPackValue
{
    /// <inheritdoc/>
    public bool Equals(MsgPackBinary? other) => other is not null && Data.Span.SequenceEqual(other.Data.Span);
    /// <inheritdoc/>
    public override int GetHashCode() => Data.Length;
    private protected override void Describe(StringBuilder sb) => sb.Append("bin:").Append(Convert.ToHexStringLower(Data.Span));
}

/// <summary>An array.</summary>
public sealed record MsgPackArray(IReadOnlyList<MsgPackValue> Items) : MsgPackValue
{
    /// <inheritdoc/>
    public bool Equals(MsgPackArray? other) => other is not null && Items.SequenceEqual(other.Items);
    /// <inheritdoc/>
    public override int GetHashCode() => Items.Count;

    private protected override void Describe(StringBuilder sb)
    {
        // Into the one builder: AppendJoin would ToString each item, copying nested text once per level (found by the
        // MessagePack fuzzer: 180 MB for a 200 KB input nested 100 deep).
        sb.Append('[');
        for (int i = 0; i < Items.Count; i++)
        {
            if (i > 0) sb.Append(',');
            Describe(Items[i], sb);
        }
        sb.Append(']');
    }
}

/// <summary>A map, its entries in wire order. Keys may be any value and may repeat (the spec does not forbid it);
/// the string-key helpers let the last one win, as JavaScript decoders do.</summary>
public sealed record MsgPackMap(IReadOnlyList<KeyValuePair<MsgPackValue, MsgPackValue>> Entries) : MsgPackValue
{
    /// <summary>The value of the last entry whose key is the string <paramref name="key"/>.</summary>
    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MsgPackValue? value)
    {
        value = null;
        foreach (var (k, v) in Entries)
            if (k is MsgPackString s && s.Value == key) value = v;
        return value is not null;
    }

    /// <summary>Every string-keyed entry whose value is a finite integer or float, as doubles (the Tether pinger
    /// turns these into gauges: <c>{fps: 60, sessions: 3}</c>). Other keys and values are skipped; NaN and
    /// infinities too, since no metric backend can chart them.</summary>
    public IReadOnlyDictionary<string, double> NumericFields()
    {
        var fields = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (k, v) in Entries)
            if (k is MsgPackString s && v.AsNumber() is double d && double.IsFinite(d)) fields[s.Value] = d;
        return fields;
    }

    /// <inheritdoc/>
    public bool Equals(MsgPackMap? other) => other is not null && Entries.SequenceEqual(other.Entries);
    /// <inheritdoc/>
    public override int GetHashCode() => Entries.Count;

    private protected override void Describe(StringBuilder sb)
    {
        sb.Append('{');   // into the one builder, as MsgPackArray
        for (int i = 0; i < Entries.Count; i++)
        {
            if (i > 0) sb.Append(',');
            Describe(Entries[i].Key, sb);
            sb.Append(':');
            Describe(Entries[i].Value, sb);
        }
        sb.Append('}');
    }
}

/// <summary>An ext of an application type (0…127) or a reserved negative type other than the timestamp (-1).</summary>
public sealed record MsgPackExtension(sbyte Type, ReadOnlyMemory<byte> Data) : MsgPackValue
{
    /// <inheritdoc/>
    public bool Equals(MsgPackExtension? other) => other is not null && Type == other.Type && Data.Span.SequenceEqual(other.Data.Span);
    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Type, Data.Length);
    private protected override void Describe(StringBuilder sb) =>
        sb.Append("ext:").Append(Type.ToString(CultureInfo.InvariantCulture)).Append(':').Append(Convert.ToHexStringLower(Data.Span));
}

/// <summary>The timestamp extension (type -1): seconds since the Unix epoch (signed) and nanoseconds (0…999,999,999).</summary>
public sealed record MsgPackTimestamp : MsgPackValue
{
    /// <summary>The ext type the spec reserves for timestamps.</summary>
    public const sbyte ExtensionType = -1;

    /// <summary>Seconds since 1970-01-01T00:00:00Z; negative before it.</summary>
    public long Seconds { get; }

    /// <summary>Nanoseconds within the second, always 0…999,999,999 (the spec's rule; also for negative seconds).</summary>
    public uint Nanoseconds { get; }

    /// <summary>A timestamp; throws <see cref="ArgumentOutOfRangeException"/> when nanoseconds reach a second.</summary>
    public MsgPackTimestamp(long seconds, uint nanoseconds)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(nanoseconds, 999_999_999u);
        Seconds = seconds;
        Nanoseconds = nanoseconds;
    }

    /// <summary>The instant of a <see cref="DateTimeOffset"/>, to its full 100 ns tick precision.</summary>
    public static MsgPackTimestamp FromDateTimeOffset(DateTimeOffset at)
    {
        long ticks = at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rest);
        if (rest < 0) { seconds--; rest += TimeSpan.TicksPerSecond; }
        return new MsgPackTimestamp(seconds, (uint)(rest * 100));
    }

    /// <summary>As a UTC <see cref="DateTimeOffset"/>, nanoseconds truncated to 100 ns ticks; false when the instant
    /// lies outside the years 1…9999 that <see cref="DateTimeOffset"/> can hold.</summary>
    public bool TryToDateTimeOffset(out DateTimeOffset at)
    {
        const long minSeconds = -62_135_596_800, maxSeconds = 253_402_300_799; // 0001-01-01 and 9999-12-31T23:59:59
        at = default;
        if (Seconds < minSeconds || Seconds > maxSeconds) return false;
        at = DateTimeOffset.UnixEpoch.AddTicks(Seconds * TimeSpan.TicksPerSecond + Nanoseconds / 100);
        return true;
    }

    /// <summary>As a UTC <see cref="DateTimeOffset"/>; throws <see cref="OverflowException"/> outside years 1…9999.</summary>
    public DateTimeOffset ToDateTimeOffset() => TryToDateTimeOffset(out var at) ? at
        : throw new OverflowException($"timestamp {Seconds}s lies outside the years 1 to 9999 that DateTimeOffset can hold");

    private protected override void Describe(StringBuilder sb) =>
        sb.Append("ts:").Append(Seconds.ToString(CultureInfo.InvariantCulture)).Append(':').Append(Nanoseconds.ToString(CultureInfo.InvariantCulture));
}
