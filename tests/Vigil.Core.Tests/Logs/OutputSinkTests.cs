using System.Text;
using Vigil.Launching;
using Vigil.Logs;
using Xunit;

namespace Vigil.Tests.Logs;

public sealed class OutputSinkTests
{
    private static OutputLine Line(string text) =>
        new(DateTimeOffset.UnixEpoch, 1, "u", 42, StreamKind.Stdout, Encoding.UTF8.GetBytes(text), false);

    [Fact]
    public async Task Stream_sink_gets_every_line_byte_exact_in_order()
    {
        var ms = new MemoryStream();
        var sink = OutputSink.FromStream(ms);
        for (int i = 0; i < 1000; i++) sink.Post(Line($"line {i}"));
        sink.Post(new OutputLine(DateTimeOffset.UnixEpoch, 1, "u", 42, StreamKind.Stdout, [0xff, 0xfe], false));
        await sink.DisposeAsync();
        var expected = string.Concat(Enumerable.Range(0, 1000).Select(i => $"line {i}\n"));
        var bytes = ms.ToArray();
        Assert.Equal(expected, Encoding.UTF8.GetString(bytes, 0, bytes.Length - 3));
        Assert.Equal(new byte[] { 0xff, 0xfe, (byte)'\n' }, bytes[^3..]);
        Assert.Equal(0, sink.Dropped);
    }

    [Fact]
    public async Task Writer_sink_prefixes_the_name()
    {
        var sw = new StringWriter();
        var sink = OutputSink.FromWriter(sw);
        sink.Post(Line("hello"));
        await sink.DisposeAsync();
        Assert.Equal("u: hello" + Environment.NewLine, sw.ToString());
    }

    [Fact]
    public async Task A_blocked_sink_never_blocks_Post_and_counts_what_it_drops()
    {
        using var gate = new ManualResetEventSlim(false);
        int seen = 0;
        var sink = OutputSink.FromDelegate(_ => { gate.Wait(); Interlocked.Increment(ref seen); });
        var posting = Task.Run(() => { for (int i = 0; i < OutputSink.Capacity + 5_000; i++) sink.Post(Line("x")); });
        await posting.WaitAsync(TimeSpan.FromSeconds(30)); // throws if Post blocked behind the stuck sink
        Assert.True(sink.Dropped >= 4_999, $"dropped {sink.Dropped}");
        gate.Set();
        await sink.DisposeAsync();
        Assert.Equal(OutputSink.Capacity + 5_000, seen + sink.Dropped);
    }
}
