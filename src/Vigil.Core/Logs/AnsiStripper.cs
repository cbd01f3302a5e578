namespace Vigil.Logs;

/// <summary>
/// Removes ANSI escape sequences from a line's bytes, leaving every other byte as it was (invalid UTF-8 too).
/// Removed: CSI (<c>ESC [</c> parameter bytes 0x30–0x3F, intermediates 0x20–0x2F, final 0x40–0x7E: colours, cursor
/// moves, erase), string sequences OSC/DCS/SOS/PM/APC (<c>ESC ] P X ^ _</c> … up to BEL or ST = <c>ESC \</c>:
/// window titles, hyperlinks), and the other ESC sequences (<c>ESC</c> intermediates* final, e.g. <c>ESC ( B</c>,
/// <c>ESC 7</c>). See ECMA-48 §5.4 and xterm's ctlseqs. A sequence cut by the end of the span is dropped: lines
/// reach us whole, so that can only be a broken sequence.
/// </summary>
public static class AnsiStripper
{
    private const byte Esc = 0x1B, Bel = 0x07;

    /// <summary>Copies <paramref name="src"/> to <paramref name="dest"/> without escape sequences; returns the bytes
    /// written. <paramref name="dest"/> must hold at least <c>src.Length</c> bytes; it may not overlap src unless it
    /// starts at the same place (in-place stripping is fine).</summary>
    public static int Strip(ReadOnlySpan<byte> src, Span<byte> dest)
    {
        if (dest.Length < src.Length) throw new ArgumentException("dest must be at least as long as src", nameof(dest));
        int w = 0, i = 0, n = src.Length;
        while (i < n)
        {
            int esc = src[i..].IndexOf(Esc);
            if (esc < 0)
            {
                src[i..].CopyTo(dest[w..]);
                return w + (n - i);
            }
            if (esc > 0)
            {
                src.Slice(i, esc).CopyTo(dest[w..]);
                w += esc;
                i += esc;
            }
            i = SkipSequence(src, i);
        }
        return w;
    }

    /// <summary>True when the span holds an ESC byte, i.e. when stripping could change it.</summary>
    public static bool MayContainEscapes(ReadOnlySpan<byte> src) => src.Contains(Esc);

    /// <summary>Index just past the sequence that starts with the ESC at <paramref name="i"/>.</summary>
    private static int SkipSequence(ReadOnlySpan<byte> s, int i)
    {
        int n = s.Length;
        if (i + 1 >= n) return n;
        byte c = s[i + 1];
        int j = i + 2;
        switch (c)
        {
            case (byte)'[': // CSI
                while (j < n && s[j] is >= 0x30 and <= 0x3F) j++;
                while (j < n && s[j] is >= 0x20 and <= 0x2F) j++;
                if (j < n && s[j] is >= 0x40 and <= 0x7E) return j + 1;
                return j; // malformed: drop what we parsed, keep the offending byte
            case (byte)']' or (byte)'P' or (byte)'X' or (byte)'^' or (byte)'_': // OSC, DCS, SOS, PM, APC
                for (; j < n; j++)
                {
                    if (s[j] == Bel) return j + 1;
                    if (s[j] == Esc && j + 1 < n && s[j + 1] == (byte)'\\') return j + 2;
                }
                return n;
            case >= 0x20 and <= 0x2F: // ESC intermediates… final, e.g. ESC ( B
                j = i + 1;
                while (j < n && s[j] is >= 0x20 and <= 0x2F) j++;
                if (j < n && s[j] is >= 0x30 and <= 0x7E) return j + 1;
                return j;
            case >= 0x30 and <= 0x7E: // two-byte sequence: ESC 7, ESC =, ESC c …
                return i + 2;
            default: // ESC followed by a control or non-ASCII byte: drop the lone ESC only
                return i + 1;
        }
    }
}
