using System.Text;
using Vigil.Launching;
using Vigil.Logs;
using Xunit;

namespace Vigil.Tests.Logs;

public class LineRingTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static OutputLine L(int i) => new(DateTimeOffset.UnixEpoch, 1, "web", 42, StreamKind.Stdout, Encoding.UTF8.GetBytes($"line {i}"), false);

    private static string[] Texts(IEnumerable<OutputLine> lines) => lines.Select(l => l.Text).ToArray();

    private static string[] Range(int from, int count) => Enumerable.Range(from, count).Select(i => $"line {i}").ToArray();

    [Fact]
    public void Keeps_the_newest_lines_up_to_capacity()
    {
        var ring = new LineRing(3);
        Assert.Empty(ring.Snapshot());
        ring.Add(L(0));
        ring.Add(L(1));
        Assert.Equal(Range(0, 2), Texts(ring.Snapshot()));
        for (int i = 2; i < 10; i++) ring.Add(L(i));
        Assert.Equal(3, ring.Count);
        Assert.Equal(Range(7, 3), Texts(ring.Snapshot()));
        Assert.Equal(Range(8, 2), Texts(ring.Snapshot(2)));
        Assert.Equal(Range(7, 3), Texts(ring.Snapshot(100)));
        Assert.Empty(ring.Snapshot(0));
    }

    [Fact]
    public void Zero_capacity_keeps_nothing_but_still_feeds_followers()
    {
        var ring = new LineRing(0);
        ring.Add(L(0));
        Assert.Empty(ring.Snapshot());
    }

    [Fact]
    public async Task Follow_gives_the_backlog_then_live_lines_without_gap_or_repeat()
    {
        var ring = new LineRing(100);
        for (int i = 0; i < 10; i++) ring.Add(L(i));
        using var cts = new CancellationTokenSource(Wait);
        var seen = new List<string>();
        var reader = Task.Run(async () =>
        {
            await foreach (var line in ring.Follow(3, cts.Token))
            {
                seen.Add(line.Text);
                if (line.Text == "line 1009") break; // the follower may attach before or during the adds
            }
        });
        // Add live lines concurrently with the follower attaching: none may be missed or repeated.
        var writer = Task.Run(() => { for (int i = 10; i < 1010; i++) ring.Add(L(i)); });
        await Task.WhenAll(reader, writer).WaitAsync(Wait);
        int start = int.Parse(seen[0][5..]);
        Assert.InRange(start, 7, 1007); // at most 3 lines of backlog, wherever the adds had got to
        Assert.Equal(Range(start, seen.Count), seen.ToArray());
        Assert.Equal("line 1009", seen[^1]);
        Assert.Equal(0, ring.Followers); // detached when the enumeration ended
    }

    [Fact]
    public async Task Follow_waits_for_lines_and_ends_on_cancel()
    {
        var ring = new LineRing(10);
        using var cts = new CancellationTokenSource();
        var e = ring.Follow(5, cts.Token).GetAsyncEnumerator(cts.Token);
        var next = e.MoveNextAsync().AsTask();
        Assert.False(next.IsCompleted); // nothing yet: waiting, not spinning
        ring.Add(L(1));
        Assert.True(await next.WaitAsync(Wait));
        Assert.Equal("line 1", e.Current.Text);
        var pending = e.MoveNextAsync().AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(Wait));
        await e.DisposeAsync();
        Assert.Equal(0, ring.Followers);
    }

    [Fact]
    public async Task A_slow_follower_skips_ahead_with_a_marker_and_never_blocks_Add()
    {
        var ring = new LineRing(capacity: 10, followerQueue: 100);
        using var cts = new CancellationTokenSource(Wait);
        var e = ring.Follow(0, cts.Token).GetAsyncEnumerator(cts.Token);
        var first = e.MoveNextAsync().AsTask(); // attached, waiting
        ring.Add(L(0));
        Assert.True(await first.WaitAsync(Wait));
        Assert.Equal("line 0", e.Current.Text);

        for (int i = 1; i <= 1000; i++) ring.Add(L(i)); // the follower reads nothing meanwhile; Add returns at once

        var rest = new List<OutputLine>();
        while (rest.Count < 101 && await e.MoveNextAsync().AsTask().WaitAsync(Wait)) rest.Add(e.Current);
        Assert.True(LineRing.IsSkipMarker(rest[0]));
        Assert.Equal(LineRing.SkipText(900), rest[0].Text);
        Assert.Equal("web", rest[0].Name);
        Assert.Equal(Range(901, 100), Texts(rest.Skip(1)));
        Assert.False(LineRing.IsSkipMarker(rest[1]));
        await e.DisposeAsync();
    }

    [Fact]
    public async Task Many_threads_adding_keep_the_ring_consistent()
    {
        var ring = new LineRing(500);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() => { for (int i = 0; i < 10_000; i++) ring.Add(L(t * 100_000 + i)); }))).WaitAsync(Wait);
        var snap = ring.Snapshot();
        Assert.Equal(500, snap.Count);
        Assert.Equal(500, snap.Distinct().Count());
    }
    /// <summary>A chunk of "line N\r\n" lines as bytes, with their (start, length) pairs (the \r left out).</summary>

    [Fact]
    public void The_slots_grow_with_the_lines_up_to_capacity_then_wrap()
    {
        var ring = new LineRing(40); // grows 16 → 32 → 40, then wraps
        for (int i = 0; i < 17; i++) ring.Add(L(i));
        Assert.Equal(Range(0, 17), Texts(ring.Snapshot()));
        for (int i = 17; i < 100; i++) ring.Add(L(i));
        Assert.Equal(40, ring.Count);
        Assert.Equal(Range(60, 40), Texts(ring.Snapshot()));
        Assert.Equal(Range(97, 3), Texts(ring.Snapshot(3)));
    }
}
