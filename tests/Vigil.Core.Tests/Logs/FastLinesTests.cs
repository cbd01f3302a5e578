using System.Text;
using Vigil.Launching;
using Vigil.Logs;
using Vigil.Specs;
using Xunit;

namespace Vigil.Tests.Logs;

/// <summary>The capture fast path must write exactly what the line splitter and the formatter would.</summary>
public class FastLinesTests
{
    private static readonly byte[] Stamp = "2026-11-22T03:52:10.123Z "u8.ToArray();

    private struct Collect(List<(byte[] Line, bool Continued)> into) : ILineSink
    {
        public readonly void Line(ReadOnlySpan<byte> line, bool continued) => into.Add((line.ToArray(), continued));
    }

    /// <summary>Random lines: empty ones, \r\n endings, bytes that are not UTF-8, and some over the bound.</summary>
    private static byte[] RandomData(Random rng, int lines, int maxLine)
    {
        var ms = new MemoryStream();
        for (int i = 0; i < lines; i++)
        {
            int len = rng.Next(10) switch { 0 => 0, 1 => rng.Next(maxLine + 1, maxLine * 3), 2 => rng.Next(1, 8), _ => rng.Next(1, 140) };
            for (int j = 0; j < len; j++)
            {
                byte b = (byte)rng.Next(256);
                ms.WriteByte(b == (byte)'\n' ? (byte)'x' : b);
            }
            if (rng.Next(6) == 0) ms.WriteByte((byte)'\r');
            ms.WriteByte((byte)'\n');
        }
        return ms.ToArray();
    }

    /// <summary>Formats <paramref name="chunk"/> and checks the result against the splitter plus the formatter over
    /// exactly the bytes consumed, and that it stopped only where it must. Returns the bytes consumed and whether it
    /// stopped for room.</summary>
    private static (int Used, bool Full) FormatAndCheck(ReadOnlySpan<byte> chunk, byte[] prefix, byte[] dest, int maxLine)
    {
        int used = FastLines.Format(chunk, prefix, dest, maxLine, out int written, out int lines, out bool full);

        var got = new List<(byte[] Line, bool Continued)>();
        var sink = new Collect(got);
        var splitter = new LineSplitter(maxLine);
        splitter.Feed(chunk[..used], ref sink);
        Assert.False(splitter.HasPending);
        var expected = new MemoryStream();
        var buf = new byte[LogLineFormatter.MaxLength("u", maxLine * 3)];
        var spec = new LogSpec { Timestamps = false };
        foreach (var (line, continued) in got)
        {
            expected.Write(prefix);
            expected.Write(buf, 0, LogLineFormatter.Format(buf, default, "u", StreamKind.Stdout, line, continued, spec));
        }
        Assert.Equal(got.Count, lines);
        Assert.Equal(expected.ToArray(), dest.AsSpan(0, written).ToArray());
        Assert.All(got, l => Assert.False(l.Continued));

        // It stopped for a reason: no whole line left, the next one over the bound, or no room for it.
        var rest = chunk[used..];
        int nl = rest.IndexOf((byte)'\n');
        int next = nl > 0 && rest[nl - 1] == (byte)'\r' ? nl - 1 : nl;
        if (full)
        {
            Assert.True(nl >= 0 && next <= maxLine, "full, but no whole line within the bound was next");
            Assert.True(dest.Length - written < prefix.Length + next + 1 + FastLines.Slack, $"full with {dest.Length - written} bytes left for a line of {next}");
        }
        else if (nl >= 0) Assert.True(next > maxLine, $"stopped before a line of {next} bytes at {used}");
        if (used > 0) Assert.Equal((byte)'\n', chunk[used - 1]);
        return (used, full);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(3, true)]
    public void Formats_what_the_splitter_and_formatter_would_and_stops_only_where_it_must(int seed, bool timestamps)
    {
        Assert.True(FastLines.Supported, "this machine has no 256-bit vectors: the fast path is never taken here");
        const int maxLine = 200;
        var rng = new Random(seed);
        var data = RandomData(rng, 3000, maxLine);
        var prefix = timestamps ? Stamp : [];
        int at = 0, stops = 0;
        while (at < data.Length)
        {
            // A chunk of random size that may end mid-line, and a destination that is sometimes too small.
            int size = Math.Min(data.Length - at, rng.Next(1, 9000));
            var chunk = data.AsSpan(at, size);
            var dest = new byte[rng.Next(2) == 0 ? 64 * 1024 : rng.Next(300, 3000)];
            var (used, full) = FormatAndCheck(chunk, prefix, dest, maxLine);

            // Go on after the stop the way UnitLog does: an over-long line goes through the splitter.
            at += used;
            if (used == 0 && !full)
            {
                int nl = chunk[used..].IndexOf((byte)'\n');
                at += nl >= 0 ? nl + 1 : chunk.Length - used;
            }
            stops++;
        }
        Assert.True(stops > 10);
    }

    /// <summary>Lines at the bound and one byte either side, with and without <c>\r</c>, for bounds around the 32-byte
    /// block: the block copy must stop exactly where the splitter would.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(30)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(200)]
    public void Lines_at_the_bound_stop_where_the_splitter_would(int maxLine)
    {
        foreach (int len in new[] { maxLine - 1, maxLine, maxLine + 1, maxLine + 2 })
            foreach (bool cr in new[] { false, true })
            {
                if (len < 0) continue;
                // Short lines around the one at the bound, so it starts at every offset within a block.
                var ms = new MemoryStream();
                for (int i = 0; i < 40; i++) ms.Write(Encoding.ASCII.GetBytes(new string('s', i % Math.Min(7, maxLine + 1)) + "\n"));
                int lineAt = (int)ms.Position;
                ms.Write(Encoding.ASCII.GetBytes(new string('L', len) + (cr ? "\r\n" : "\n")));
                for (int i = 0; i < 40; i++) ms.Write(Encoding.ASCII.GetBytes(new string('t', i % Math.Min(5, maxLine + 1)) + "\n"));
                var data = ms.ToArray();
                var (used, full) = FormatAndCheck(data, Stamp, new byte[64 * 1024], maxLine);
                Assert.False(full);
                // A '\r' before the '\n' is not part of the line: only the length counts against the bound.
                Assert.Equal(len > maxLine ? lineAt : data.Length, used);
            }
    }

    [Fact]
    public void Last_lines_are_the_newest_k_in_order_without_their_carriage_returns()
    {
        var data = "one\r\ntwo\n\nfour\r\nfive\n"u8.ToArray();
        var into = new (int Start, int Length)[3];
        Assert.Equal(3, FastLines.LastLines(data, 3, into));
        Assert.Equal(["", "four", "five"], into.Select(p => Encoding.ASCII.GetString(data, p.Start, p.Length)));

        var all = new (int Start, int Length)[10];
        Assert.Equal(5, FastLines.LastLines(data, 10, all));
        Assert.Equal(["one", "two", "", "four", "five"], all.Take(5).Select(p => Encoding.ASCII.GetString(data, p.Start, p.Length)));
    }
}
