using Vigil.Launching;
using Vigil.Specs;

namespace Vigil.Logs;

/// <summary>
/// Formats one captured line for a log file, without allocating. Layout (each bracketed part only when its
/// <see cref="LogSpec"/> option is on, in this order, separated by single spaces as shown):
/// <code>
/// [2026-11-22T03:52:10.123Z ][out |err ][name: ]&lt;line&gt;[ [continued]]\n
/// </code>
/// <list type="bullet">
/// <item>timestamp (<see cref="LogSpec.Timestamps"/>): ISO-8601 in UTC with milliseconds and a <c>Z</c>, then a space;
/// 25 bytes, so columns line up;</item>
/// <item>stream tag (<see cref="LogSpec.Stream"/>): <c>out</c> or <c>err</c>, then a space;</item>
/// <item>prefix (<see cref="LogSpec.Prefix"/>): the unit's name, a colon and a space (elife's format);</item>
/// <item>the line's bytes exactly as the child wrote them (escape sequences removed when
/// <see cref="LogSpec.StripAnsi"/>); invalid UTF-8 is kept;</item>
/// <item>a piece of an over-long line that goes on in the next one ends with <c> [continued]</c>;</item>
/// <item>a single <c>\n</c>.</item>
/// </list>
/// </summary>
public static class LogLineFormatter
{
    public const int TimestampLength = 25; // "2026-11-22T03:52:10.123Z "
    public static ReadOnlySpan<byte> ContinuedMarker => " [continued]"u8;
    private const int StreamTagLength = 4;  // "out " / "err "

    /// <summary>An upper bound on what <see cref="Format"/> writes for a name and a line of this length, whatever the options.</summary>
    public static int MaxLength(string name, int lineLength) =>
        TimestampLength + StreamTagLength + System.Text.Encoding.UTF8.GetByteCount(name) + 2 + lineLength + ContinuedMarker.Length + 1;

    /// <summary>Writes the formatted line (with its <c>\n</c>) to <paramref name="dest"/> and returns its length.
    /// <paramref name="dest"/> must hold <see cref="MaxLength"/> bytes.</summary>
    public static int Format(Span<byte> dest, DateTimeOffset time, string name, StreamKind stream, ReadOnlySpan<byte> line, bool continued, LogSpec spec)
    {
        int p = 0;
        if (spec.Timestamps) p += WriteTimestamp(dest, time);
        if (spec.Stream)
        {
            (stream == StreamKind.Stdout ? "out "u8 : "err "u8).CopyTo(dest[p..]);
            p += StreamTagLength;
        }
        if (spec.Prefix)
        {
            p += System.Text.Encoding.UTF8.GetBytes(name, dest[p..]);
            dest[p++] = (byte)':';
            dest[p++] = (byte)' ';
        }
        if (spec.StripAnsi && AnsiStripper.MayContainEscapes(line))
            p += AnsiStripper.Strip(line, dest[p..]);
        else
        {
            line.CopyTo(dest[p..]);
            p += line.Length;
        }
        if (continued)
        {
            ContinuedMarker.CopyTo(dest[p..]);
            p += ContinuedMarker.Length;
        }
        dest[p++] = (byte)'\n';
        return p;
    }

    /// <summary>Writes <c>yyyy-MM-ddTHH:mm:ss.fffZ </c> (UTC) and returns 25.</summary>
    public static int WriteTimestamp(Span<byte> dest, DateTimeOffset time)
    {
        var d = dest[..TimestampLength];
        var t = time.UtcDateTime;
        t.Deconstruct(out int year, out int month, out int day);
        long ticksOfDay = t.Ticks % TimeSpan.TicksPerDay;
        int ms = (int)(ticksOfDay / TimeSpan.TicksPerMillisecond);
        int hour = ms / 3_600_000, minute = ms / 60_000 % 60, second = ms / 1000 % 60;
        ms %= 1000;
        Digits(d, 0, year, 4);
        d[4] = (byte)'-';
        Digits(d, 5, month, 2);
        d[7] = (byte)'-';
        Digits(d, 8, day, 2);
        d[10] = (byte)'T';
        Digits(d, 11, hour, 2);
        d[13] = (byte)':';
        Digits(d, 14, minute, 2);
        d[16] = (byte)':';
        Digits(d, 17, second, 2);
        d[19] = (byte)'.';
        Digits(d, 20, ms, 3);
        d[23] = (byte)'Z';
        d[24] = (byte)' ';
        return TimestampLength;
    }

    private static void Digits(Span<byte> d, int at, int value, int count)
    {
        for (int k = at + count - 1; k >= at; k--)
        {
            d[k] = (byte)('0' + value % 10);
            value /= 10;
        }
    }
}
