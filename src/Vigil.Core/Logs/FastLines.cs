using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vigil.Logs;

/// <summary>
/// The capture fast path for the usual log format, <c>[timestamp ]line\n</c>: splits a chunk of a pipe and formats
/// its whole lines in one pass, finding newlines 32 bytes at a time and copying in 32-byte blocks, instead of one
/// search and two copy calls per line. It produces exactly what <see cref="LineSplitter"/> followed by
/// <see cref="LogLineFormatter"/> would (a tested equivalence) and leaves everything unusual to them: it stops before
/// a line longer than the bound, and never touches a partial last line.
/// </summary>
internal static class FastLines
{
    /// <summary>Extra bytes past the end of a formatted line that <see cref="Format"/> may scribble on (block copies);
    /// what it reports as written never includes them.</summary>
    public const int Slack = 32;

    public static bool Supported => Vector256.IsHardwareAccelerated;

    /// <summary>TEMPORARY (the A/B of issue 12): VIGIL_FASTLINES=0 turns the fast path off.</summary>
    public static readonly bool Enabled = Supported && Environment.GetEnvironmentVariable("VIGIL_FASTLINES") != "0";

    /// <summary>
    /// Formats the whole lines at the start of <paramref name="data"/> into <paramref name="dest"/>, each as
    /// <paramref name="prefix"/> + the line (a trailing <c>\r</c> dropped) + <c>\n</c>. Stops at the end of the last
    /// whole line, before a line longer than <paramref name="maxLine"/>, or when <paramref name="dest"/> has no room for
    /// the next line plus <see cref="Slack"/> (then <paramref name="full"/> is set). Returns the bytes of
    /// <paramref name="data"/> consumed (always just after a <c>\n</c>, or 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe int Format(ReadOnlySpan<byte> data, ReadOnlySpan<byte> prefix, Span<byte> dest, int maxLine,
        out int written, out int lines, out bool full)
    {
        written = 0;
        lines = 0;
        full = false;
        if (!Supported || prefix.Length > 32) return 0;
        int n = data.Length, pl = prefix.Length, count = 0, ls = 0; // ls: where the current line starts in data
        byte* p32 = stackalloc byte[32];
        new Span<byte>(p32, 32).Clear();
        prefix.CopyTo(new Span<byte>(p32, 32));
        // Room that lets a line up to the bound be copied in whole blocks without a check: the prefix, the bound,
        // its '\n' (or '\r'), one block the last store may write past the newline, and the slack.
        long sure = (long)pl + maxLine + 2 + 32 + Slack;
        fixed (byte* s = data)
        fixed (byte* d0 = dest)
        {
            var pv = Vector256.Load(p32);
            var nlv = Vector256.Create((byte)'\n');
            byte* d = d0, dEnd = d0 + dest.Length;
            while (ls < n)
            {
                int raw; // the line's length up to its '\n'
                byte* dl = d + pl;
                if (dEnd - d >= sure)
                {
                    // Copy 32 bytes at a time while looking for the '\n' in the same block: each byte loaded once.
                    Vector256.Store(pv, d); // the prefix, and up to 32 bytes the line then overwrites
                    int off = 0;
                    while (true)
                    {
                        if (ls + off + 32 > n) goto Careful; // near the end of the data: no read past it
                        var v = Vector256.Load(s + ls + off);
                        Vector256.Store(v, dl + off);
                        uint m = Vector256.Equals(v, nlv).ExtractMostSignificantBits();
                        if (m != 0)
                        {
                            raw = off + BitOperations.TrailingZeroCount(m);
                            break;
                        }
                        off += 32;
                        if (off > maxLine + 1) goto Done; // longer than the bound even without a '\r'
                    }
                }
                else goto Careful;
                Line:
                int len = raw > 0 && s[ls + raw - 1] == (byte)'\r' ? raw - 1 : raw;
                if (len > maxLine) goto Done;
                dl[len] = (byte)'\n';
                d = dl + len + 1;
                ls += raw + 1;
                count++;
                continue;

            Careful:
                // One line with exact checks: near the end of the data, or of the destination.
                raw = new ReadOnlySpan<byte>(s + ls, n - ls).IndexOf((byte)'\n');
                if (raw < 0) goto Done; // a partial last line: the splitter keeps it
                {
                    int l = raw > 0 && s[ls + raw - 1] == (byte)'\r' ? raw - 1 : raw;
                    if (l > maxLine) goto Done;
                    if (dEnd - d < pl + l + 1 + Slack)
                    {
                        full = true;
                        goto Done;
                    }
                    Buffer.MemoryCopy(p32, d, pl, pl);
                    Buffer.MemoryCopy(s + ls, dl, l, l);
                }
                goto Line;
            }
        Done:
            written = (int)(d - d0);
            lines = count;
            return ls;
        }
    }

    /// <summary>
    /// The last <paramref name="k"/> lines of <paramref name="data"/>, which holds whole lines only (it ends with
    /// <c>\n</c>), as (start, length) pairs in order, a trailing <c>\r</c> dropped as <see cref="Format"/> does; for
    /// the ring, which keeps only the newest lines. Returns how many pairs were written to <paramref name="into"/>.
    /// </summary>
    public static int LastLines(ReadOnlySpan<byte> data, int k, Span<(int Start, int Length)> into)
    {
        int found = 0, end = data.Length - 1; // end: the '\n' of the line being located
        while (found < k && end >= 0)
        {
            int start = data[..end].LastIndexOf((byte)'\n') + 1;
            int len = end - start;
            if (len > 0 && data[end - 1] == (byte)'\r') len--;
            into[k - 1 - found] = (start, len);
            found++;
            end = start - 1;
        }
        // Move the found pairs to the front when there were fewer than k lines.
        if (found < k) into.Slice(k - found, found).CopyTo(into);
        return found;
    }
}
