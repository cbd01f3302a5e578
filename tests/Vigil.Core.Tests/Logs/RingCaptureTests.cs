using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Logs;

/// <summary>The in-memory ring under a flood: a chunk of many lines stores only the ones that can survive it, unless
/// someone follows, and then every line is delivered.</summary>
[Collection("processes")]
public sealed class RingCaptureTests
{
    private static long Seq(string text) => long.Parse(text.Split(' ')[1]);

    [Fact]
    public async Task After_a_flood_the_ring_holds_exactly_the_last_lines_in_order()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("flood", "lines", "200000", "marker", "done", "hang") with { Log = LogSpec.Default with { RingLines = 100 } });
        await rec.Marker("done", TimeSpan.FromSeconds(60));
        Assert.True(await Procs.Eventually(() => unit.RecentOutput().LastOrDefault()?.Text.StartsWith("MARKER done") == true));
        var ring = unit.RecentOutput();
        Assert.Equal(100, ring.Count);
        var seqs = ring.Take(99).Select(l => Seq(l.Text)).ToList();
        Assert.Equal(Enumerable.Range(200000 - 99, 99).Select(i => (long)i), seqs);
    }

    [Fact]
    public async Task With_a_file_and_nobody_listening_file_and_ring_both_get_every_line_right()
    {
        // A log file and nobody listening: the plain format goes to the file and only the lines that can outlive the
        // chunk go into the ring; lines cross chunk boundaries.
        using var dir = new TempDir();
        await using var sup = new Supervisor();
        var log = dir["fast.log"];
        var unit = sup.Start(Fixture.Spec("flood", "lines", "150000", "marker", "done", "hang") with { Log = LogSpec.Default with { RingLines = 300, File = log } });
        Assert.True(await Procs.Eventually(() => unit.RecentOutput().LastOrDefault()?.Text.StartsWith("MARKER done") == true, TimeSpan.FromSeconds(60)),
            "the ring never got the marker");
        var ring = unit.RecentOutput();
        Assert.Equal(300, ring.Count);
        Assert.Equal(Enumerable.Range(150000 - 299, 299).Select(i => (long)i), ring.Take(299).Select(l => Seq(l.Text)));
        Assert.All(ring, l => Assert.False(l.Continued));

        await unit.StopAndWaitAsync();
        await sup.DisposeAsync(); // closes the log: everything is on disk
        var lines = File.ReadAllLines(log);
        Assert.Equal(150001, lines.Length);
        for (int i = 0; i < 150000; i++)
        {
            // "2026-11-22T03:52:10.123Z line N ..." : the timestamp, then the child's line unchanged.
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", lines[i][..25]);
            Assert.Equal(i, Seq(lines[i][25..]));
        }
        Assert.StartsWith("MARKER done", lines[^1][25..]);
    }

    [Fact]
    public async Task A_follower_receives_every_line_of_a_flood()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("flood", "marker", "go", "sleep", "300", "lines", "8000", "marker", "done", "hang") with { Log = LogSpec.Default with { RingLines = 10 } });
        await rec.Marker("go");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        long next = 0;
        await foreach (var line in unit.FollowOutput(0, cts.Token))
        {
            if (line.Text.StartsWith("MARKER done")) break;
            if (line.Text.StartsWith("MARKER go")) continue;
            Assert.False(Vigil.Logs.LineRing.IsSkipMarker(line), line.Text); // 8,000 lines fit the follower's queue (10,000)
            Assert.Equal(next++, Seq(line.Text));
        }
        Assert.Equal(8000, next);
    }
}
