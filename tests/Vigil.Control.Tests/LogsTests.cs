using System.Text.Json;
using Vigil.Control.Tests.Support;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Control.Tests;

/// <summary><c>vigil logs</c>: the backlog from the rings and the files, merged, and following it live.</summary>
[Collection("processes")]
public sealed class LogsTests
{
    static string Seq(int k) => $"seq {k} abcdefghijklmnopqrstuvwxyz0123456789";

    [Fact]
    public async Task The_backlog_reaches_past_the_ring_into_the_log_file_with_no_line_twice()
    {
        await using var kit = await ControlKit.StartAsync();
        var log = Path.Combine(kit.Dir.FullName, "logs", "w.log");
        var unit = kit.Sup.Start(Fixture.Spec("w", "lines", "50", "marker", "done", "hang") with { Log = new LogSpec { File = log, RingLines = 10 } });
        var done = await kit.Rec.Marker("done");
        Assert.True(await Procs.Eventually(() => File.Exists(log) && File.ReadAllText(log).Contains("MARKER done")), "the file got the last line");
        var all = Enumerable.Range(0, 50).Select(Seq).Append($"MARKER done pid={done.Pid}").ToList();

        var thirty = await kit.Client.LogsAsync(new LogQuery { Names = ["w"], Lines = 30 });
        Assert.Equal(all.TakeLast(30), thirty.Select(l => l.Text));
        Assert.All(thirty, l => Assert.Equal((unit.Id, "w", "out"), (l.UnitId, l.Name, l.Stream)));
        Assert.Equal(done.Pid, thirty[^1].Pid); // from the ring: the PID is known
        Assert.Equal(0, thirty[0].Pid);          // from the file: it is not

        Assert.Equal(all, (await kit.Client.LogsAsync(new LogQuery { Names = ["w"], Lines = 100 })).Select(l => l.Text));
        Assert.Equal(all.TakeLast(5), (await kit.Client.LogsAsync(new LogQuery { Lines = 5 })).Select(l => l.Text));
        Assert.Empty(await kit.Client.LogsAsync(new LogQuery { Lines = 0 }));
        Assert.Empty(await kit.Client.LogsAsync(new LogQuery { Lines = 100, Since = DateTimeOffset.UtcNow.AddMinutes(5) }));
        Assert.Equal(51, (await kit.Client.LogsAsync(new LogQuery { Lines = 100, Since = DateTimeOffset.UtcNow.AddMinutes(-5) })).Count);
    }

    [Fact]
    public async Task Rotated_files_are_read_too_and_their_lines_come_first()
    {
        await using var kit = await ControlKit.StartAsync();
        var log = Path.Combine(kit.Dir.FullName, "w.log");
        File.WriteAllText(log + ".1", "2020-01-01T00:00:00.000Z oldest\n2020-01-01T00:00:01.000Z older\n");
        File.WriteAllText(log, "2020-01-02T00:00:00.000Z old\n");
        kit.Sup.Start(Fixture.Spec("w", "marker", "up", "hang") with { Log = new LogSpec { File = log, RingLines = 10 } });
        var up = await kit.Rec.Marker("up");
        var lines = await kit.Client.LogsAsync(new LogQuery { Lines = 100 });
        Assert.Equal(["oldest", "older", "old", $"MARKER up pid={up.Pid}"], lines.Select(l => l.Text));
        Assert.Equal(new DateTimeOffset(2020, 1, 1, 0, 0, 1, TimeSpan.Zero), lines[1].Time);
        Assert.Equal(["old", $"MARKER up pid={up.Pid}"], (await kit.Client.LogsAsync(new LogQuery { Lines = 2 })).Select(l => l.Text));
        Assert.Equal(["old", $"MARKER up pid={up.Pid}"],
            (await kit.Client.LogsAsync(new LogQuery { Lines = 100, Since = new DateTimeOffset(2020, 1, 1, 12, 0, 0, TimeSpan.Zero) })).Select(l => l.Text));
    }

    [Fact]
    public async Task Several_units_are_merged_by_time_and_names_select()
    {
        await using var kit = await ControlKit.StartAsync();
        var go = Path.Combine(kit.Dir.FullName, "go");
        kit.Sup.Start(Fixture.Spec("a", "print", "a1", "wait-file", go, "print", "a2", "marker", "a-done", "hang"));
        await kit.Rec.Line(l => l.Text == "a1", "a1");
        kit.Sup.Start(Fixture.Spec("b", "print", "b1", "marker", "b-up", "hang"));
        var bUp = await kit.Rec.Marker("b-up");
        File.WriteAllText(go, "");
        var aDone = await kit.Rec.Marker("a-done");
        var merged = await kit.Client.LogsAsync(new LogQuery { Lines = 100 });
        Assert.Equal(["a1", "b1", $"MARKER b-up pid={bUp.Pid}", "a2", $"MARKER a-done pid={aDone.Pid}"], merged.Select(l => l.Text));
        Assert.Equal(["a", "b", "b", "a", "a"], merged.Select(l => l.Name));
        Assert.Equal(["b1", $"MARKER b-up pid={bUp.Pid}"], (await kit.Client.LogsAsync(new LogQuery { Names = ["b"], Lines = 100 })).Select(l => l.Text));
        var unknown = await Assert.ThrowsAsync<ControlException>(() => kit.Client.LogsAsync(new LogQuery { Names = ["c"] }));
        Assert.Equal((ControlErrors.NoSuchUnit, "no unit named 'c'"), (unknown.Code, unknown.Message));
    }

    [Fact]
    public async Task Following_gives_the_backlog_then_new_lines_and_units_added_later()
    {
        await using var kit = await ControlKit.StartAsync();
        var go = Path.Combine(kit.Dir.FullName, "go");
        kit.Sup.Start(Fixture.Spec("a", "marker", "before", "wait-file", go, "marker", "after", "hang"));
        await kit.Rec.Marker("before");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seen = new List<LogLine>();
        await using var stream = kit.Client.FollowLogsAsync(new LogQuery { Lines = 5 }, cts.Token).GetAsyncEnumerator(cts.Token);
        async Task Until(string prefix)
        {
            while (!seen.Any(l => l.Text.StartsWith(prefix, StringComparison.Ordinal)))
            {
                Assert.True(await stream.MoveNextAsync(), $"the stream ended before '{prefix}'");
                seen.Add(stream.Current);
            }
        }
        await Until("MARKER before");
        await kit.Client.AddAsync(new AddRequest { Name = "b", Command = [Fixture.Path, "marker", "b-up", "hang"] });
        await Until("MARKER b-up");
        File.WriteAllText(go, "");
        await Until("MARKER after");
        Assert.Single(seen, l => l.Text.StartsWith("MARKER before", StringComparison.Ordinal));
        Assert.Equal("b", seen.Single(l => l.Text.StartsWith("MARKER b-up", StringComparison.Ordinal)).Name);
        Assert.Null(seen.FirstOrDefault(l => l.Skipped is not null));
    }

    [Fact]
    public async Task A_slow_follower_during_a_flood_is_told_how_many_lines_it_missed_and_nobody_waits_for_it()
    {
        const int Flood = 200_000;
        await using var kit = await ControlKit.StartAsync(new ControlServerOptions { WriteTimeout = TimeSpan.FromMinutes(5) });
        var go = Path.Combine(kit.Dir.FullName, "go");
        var unit = kit.Sup.Start(Fixture.Spec("flood", "marker", "ready", "wait-file", go, "lines", Flood.ToString(), "marker", "done", "hang"));
        await kit.Rec.Marker("ready");
        using var follower = kit.Raw();
        follower.Send("""{"v":1,"id":1,"verb":"logs","names":["flood"],"lines":1,"follow":true}""" + "\n");
        var first = await follower.ReadJsonAsync();
        Assert.StartsWith("MARKER ready", first.GetProperty("item").GetProperty("text").GetString()); // the backlog: now it follows

        File.WriteAllText(go, "");
        // The follower reads nothing meanwhile; the unit floods to its end all the same, and other clients are answered.
        await kit.Rec.Marker("done", TimeSpan.FromSeconds(120));
        Assert.Equal("running", Assert.Single(await kit.Client.ListAsync()).State);
        Assert.Equal(UnitState.Running, unit.State);

        long got = 0, skipped = 0, notices = 0;
        while (true)
        {
            var line = await follower.ReadJsonAsync(TimeSpan.FromSeconds(60));
            var item = line.GetProperty("item");
            if (item.TryGetProperty("skipped", out var s))
            {
                notices++;
                skipped += s.GetInt64();
                Assert.Contains("lines skipped", item.GetProperty("text").GetString());
                continue;
            }
            var text = item.GetProperty("text").GetString()!;
            if (text.StartsWith("MARKER done", StringComparison.Ordinal)) break;
            Assert.StartsWith("seq ", text);
            got++;
        }
        Assert.True(notices > 0 && skipped > 0, $"no skip notice: got {got} lines");
        Assert.Equal(Flood, got + skipped); // every line either came or was counted as missed
    }
}
