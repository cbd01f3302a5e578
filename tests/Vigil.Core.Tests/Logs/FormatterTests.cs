using System.Text;
using Vigil.Launching;
using Vigil.Logs;
using Vigil.Specs;
using Xunit;

namespace Vigil.Tests.Logs;

public class FormatterTests
{
    private static readonly DateTimeOffset T = new(2026, 11, 22, 3, 52, 10, 123, TimeSpan.Zero);

    private static string Fmt(LogSpec spec, string line, bool continued = false, StreamKind stream = StreamKind.Stdout, string name = "web", DateTimeOffset? time = null) =>
        Encoding.UTF8.GetString(FmtBytes(spec, Encoding.UTF8.GetBytes(line), continued, stream, name, time));

    private static byte[] FmtBytes(LogSpec spec, byte[] line, bool continued = false, StreamKind stream = StreamKind.Stdout, string name = "web", DateTimeOffset? time = null)
    {
        var dest = new byte[LogLineFormatter.MaxLength(name, line.Length)];
        int n = LogLineFormatter.Format(dest, time ?? T, name, stream, line, continued, spec);
        return dest[..n];
    }

    [Fact]
    public void Default_spec_is_timestamp_then_line()
        => Assert.Equal("2026-11-22T03:52:10.123Z hello\n", Fmt(LogSpec.Default, "hello"));

    [Fact]
    public void Timestamp_is_utc_with_milliseconds()
    {
        var local = new DateTimeOffset(2026, 1, 2, 23, 5, 6, 7, TimeSpan.FromHours(2));
        Assert.Equal("2026-01-02T21:05:06.007Z x\n", Fmt(LogSpec.Default, "x", time: local));
        Assert.Equal("0001-01-01T00:00:00.000Z x\n", Fmt(LogSpec.Default, "x", time: DateTimeOffset.MinValue));
        Assert.Equal("9999-12-31T23:59:59.999Z x\n", Fmt(LogSpec.Default, "x", time: DateTimeOffset.MaxValue));
    }

    [Fact]
    public void All_parts_in_order()
    {
        var spec = new LogSpec { Stream = true, Prefix = true };
        Assert.Equal("2026-11-22T03:52:10.123Z out web: hello\n", Fmt(spec, "hello"));
        Assert.Equal("2026-11-22T03:52:10.123Z err web: oops\n", Fmt(spec, "oops", stream: StreamKind.Stderr));
    }

    [Fact]
    public void Each_part_alone()
    {
        Assert.Equal("hello\n", Fmt(new LogSpec { Timestamps = false }, "hello"));
        Assert.Equal("err hello\n", Fmt(new LogSpec { Timestamps = false, Stream = true }, "hello", stream: StreamKind.Stderr));
        Assert.Equal("wörker: hello\n", Fmt(new LogSpec { Timestamps = false, Prefix = true }, "hello", name: "wörker"));
        Assert.Equal("\n", Fmt(new LogSpec { Timestamps = false }, ""));
    }

    [Fact]
    public void Continued_piece_ends_with_marker()
    {
        Assert.Equal("2026-11-22T03:52:10.123Z out web: abc [continued]\n", Fmt(new LogSpec { Stream = true, Prefix = true }, "abc", continued: true));
        Assert.Equal("abc [continued]\n", Fmt(new LogSpec { Timestamps = false }, "abc", continued: true));
    }

    [Fact]
    public void Invalid_utf8_is_written_unchanged()
    {
        byte[] line = [0x66, 0xFF, 0xC3, 0x28, 0x80, 0x1B]; // stray bytes and a trailing ESC
        Assert.Equal([.. line, (byte)'\n'], FmtBytes(new LogSpec { Timestamps = false }, line));
    }

    [Fact]
    public void Ansi_is_stripped_only_when_asked()
    {
        const string coloured = "\u001b[1;31merror\u001b[0m done";
        Assert.Equal("error done\n", Fmt(new LogSpec { Timestamps = false, StripAnsi = true }, coloured));
        Assert.Equal(coloured + "\n", Fmt(new LogSpec { Timestamps = false }, coloured));
        Assert.Equal("web: error done [continued]\n", Fmt(new LogSpec { Timestamps = false, StripAnsi = true, Prefix = true }, coloured, continued: true));
    }

    [Fact]
    public void MaxLength_bounds_every_option()
    {
        var all = new LogSpec { Stream = true, Prefix = true, StripAnsi = false };
        var line = new byte[100];
        Array.Fill(line, (byte)'x');
        Assert.Equal(LogLineFormatter.MaxLength("名前", 100), FmtBytes(all, line, continued: true, name: "名前").Length);
    }
}

public class AnsiStripperTests
{
    private static string Strip(string s)
    {
        var src = Encoding.UTF8.GetBytes(s);
        var dest = new byte[src.Length];
        return Encoding.UTF8.GetString(dest, 0, AnsiStripper.Strip(src, dest));
    }

    [Theory]
    [InlineData("\u001b[31mred\u001b[0m", "red")]                        // SGR colour
    [InlineData("\u001b[38;5;208morange\u001b[m", "orange")]            // 256 colours, empty reset
    [InlineData("\u001b[38;2;1;2;3mrgb\u001b[39;49m", "rgb")]          // truecolour
    [InlineData("a\u001b[2K\u001b[1Gb", "ab")]                          // erase line, cursor to column
    [InlineData("\u001b[10;20Hx\u001b[?25l\u001b[?25h", "x")]           // cursor position, private mode
    [InlineData("\u001b[1 qy", "y")]                                    // intermediate byte (DECSCUSR)
    [InlineData("\u001b]0;my title\u0007text", "text")]                 // OSC title ended by BEL
    [InlineData("\u001b]2;title\u001b\\text", "text")]                  // OSC title ended by ST
    [InlineData("\u001b]8;;http://x\u001b\\link\u001b]8;;\u001b\\", "link")] // hyperlink
    [InlineData("\u001bPq#0;2\u001b\\after", "after")]                   // DCS
    [InlineData("\u001b(Bplain\u001b7\u001b8", "plain")]                 // charset, save/restore cursor
    [InlineData("no escapes at all", "no escapes at all")]
    [InlineData("cut at end \u001b[31", "cut at end ")]                  // CSI cut by the end: dropped
    [InlineData("cut osc \u001b]0;never ends", "cut osc ")]
    [InlineData("lone \u001b", "lone ")]
    [InlineData("ünïcödé \u001b[1m✓\u001b[0m", "ünïcödé ✓")]
    public void Removes_sequences(string input, string expected) => Assert.Equal(expected, Strip(input));

    [Fact]
    public void Invalid_utf8_bytes_survive_stripping()
    {
        byte[] src = [0xFF, 0x1B, (byte)'[', (byte)'1', (byte)'m', 0xC3, 0x28, 0x80, 0xFE];
        var dest = new byte[src.Length];
        int n = AnsiStripper.Strip(src, dest);
        Assert.Equal(new byte[] { 0xFF, 0xC3, 0x28, 0x80, 0xFE }, dest[..n]);
    }

    [Fact]
    public void Strips_in_place()
    {
        var buf = Encoding.UTF8.GetBytes("\u001b[32mok\u001b[0m!");
        int n = AnsiStripper.Strip(buf, buf);
        Assert.Equal("ok!", Encoding.UTF8.GetString(buf, 0, n));
    }
}

public class LogSpecTests
{
    [Fact]
    public void Defaults_are_valid() => Assert.Empty(new LogSpec().Validate());

    [Fact]
    public void Errors_name_the_key()
    {
        var errors = new LogSpec { File = "a.log", Out = "b.log", Keep = 0, MaxLine = 0, MaxSize = 10, RingLines = -1 }.Validate().ToList();
        Assert.Contains(errors, e => e.KeyPath == "log.file");
        Assert.Contains(errors, e => e.KeyPath == "log.keep");
        Assert.Contains(errors, e => e.KeyPath == "log.maxLine");
        Assert.Contains(errors, e => e.KeyPath == "log.maxSize");
        Assert.Contains(errors, e => e.KeyPath == "log.ringLines");
    }

    [Fact]
    public void Out_and_err_together_are_fine() => Assert.Empty(new LogSpec { Out = "o.log", Err = "e.log" }.Validate());
}
