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
