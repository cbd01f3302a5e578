using System.Text;
using System.Text.RegularExpressions;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Logs;

/// <summary>Output capture end to end: real fixture children, real files.</summary>
[Collection("processes")]
public sealed partial class CaptureTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-logs-");
    public void Dispose() => _dir.Delete(recursive: true);

    private string PathOf(string name) => Path.Combine(_dir.FullName, name);

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?:(\w+): )?seq (\d+) abcdefghijklmnopqrstuvwxyz0123456789$")]
    private static partial Regex SeqLine();

    /// <summary>Checks that every name's sequence in <paramref name="lines"/> runs 0..count-1 with no gap, in order.</summary>
    private static void AssertSequences(IEnumerable<string> lines, IReadOnlyDictionary<string, long> counts)
    {
        var next = counts.Keys.ToDictionary(k => k, _ => 0L);
        foreach (var line in lines)
        {
            var m = SeqLine().Match(line);
            Assert.True(m.Success, $"not a whole line: '{line}'");
            var name = m.Groups[1].Success ? m.Groups[1].Value : "";
            Assert.Equal(next[name], long.Parse(m.Groups[2].Value));
            next[name]++;
        }
        foreach (var (name, count) in counts) Assert.Equal(count, next[name]);
    }

    [Fact]
    public async Task A_200MB_flood_arrives_complete_and_in_order()
    {
        const long lines = 4_400_000; // × 46 bytes ≈ 200 MB
        var log = PathOf("flood.log");
        var sup = new Supervisor();
        await using (sup)
        {
            using var rec = new Recorder(sup);
            sup.Start(Fixture.Spec("flood", "lines", lines.ToString()).WithSchedule(0) with { Log = new LogSpec { File = log } });
            var exited = await rec.Event<Exited>(timeout: TimeSpan.FromMinutes(3));
            Assert.Equal(0, exited.Status.Code);
        }
        Assert.True(new FileInfo(log).Length > 200_000_000);
        AssertSequences(File.ReadLines(log), new Dictionary<string, long> { [""] = lines });
    }

    [Fact]
    public async Task Twenty_children_sharing_one_file_write_only_whole_lines()
    {
        var log = PathOf("shared.log");
        var sup = new Supervisor();
        await using (sup)
        {
            using var rec = new Recorder(sup);
            for (int i = 0; i < 20; i++)
                sup.Start(Fixture.Spec($"u{i}", "lines", "20000").WithSchedule(0) with { Log = new LogSpec { File = log, Prefix = true } });
            await rec.Count<Exited>(20, timeout: TimeSpan.FromMinutes(2));
        }
        AssertSequences(File.ReadLines(log), Enumerable.Range(0, 20).ToDictionary(i => $"u{i}", _ => 20000L));
    }

    [Fact]
    public async Task Rotation_under_a_flood_loses_and_splits_nothing()
    {
        var log = PathOf("rot.log");
        var sup = new Supervisor();
        await using (sup)
        {
            using var rec = new Recorder(sup);
            sup.Start(Fixture.Spec("rot", "lines", "300000").WithSchedule(0) with { Log = new LogSpec { File = log, MaxSize = 1 << 20, Keep = 100 } });
            await rec.Event<Exited>(timeout: TimeSpan.FromMinutes(2));
        }
        var files = Directory.GetFiles(_dir.FullName, "rot.log*");
        Assert.True(files.Length > 5, $"only {files.Length} files: no rotation happened");
        Assert.All(files, f => Assert.True(new FileInfo(f).Length <= (1 << 20) + 200, $"{f} is {new FileInfo(f).Length} bytes"));
        // Oldest first: rot.log.N … rot.log.1, then rot.log.
        var ordered = files.Where(f => f != log).OrderByDescending(f => int.Parse(f[(log.Length + 1)..])).Append(log);
        AssertSequences(ordered.SelectMany(File.ReadLines), new Dictionary<string, long> { [""] = 300000 });
    }

    [Fact]
    public async Task Partial_last_line_invalid_utf8_and_over_long_lines_are_kept()
    {
        var log = PathOf("odd.log");
        var sup = new Supervisor();
        await using (sup)
        {
            using var rec = new Recorder(sup);
            var unit = sup.Start(Fixture.Spec("odd", "raw", "ff fe 41 0a", "long", "2500", "partial", "no newline at the end").WithSchedule(0)
                with { Log = new LogSpec { File = log, Timestamps = false, MaxLine = 1000 } });
            await rec.Event<NotRestarting>();
            await Procs.Eventually(() => unit.RecentOutput().Count >= 5);
            var ring = unit.RecentOutput();
            Assert.Equal(new byte[] { 0xff, 0xfe, 0x41 }, ring[0].Bytes);
            Assert.Equal([1000, 1000, 500], ring.Skip(1).Take(3).Select(l => l.Bytes.Length));
            Assert.Equal([true, true, false], ring.Skip(1).Take(3).Select(l => l.Continued));
            Assert.Equal("no newline at the end", ring[4].Text);
        }
        var bytes = File.ReadAllBytes(log);
        Assert.Equal(new byte[] { 0xff, 0xfe, 0x41, 0x0a }, bytes[..4]);
        var text = Encoding.UTF8.GetString(bytes[4..]);
        Assert.Equal(2, Regex.Matches(text, @"\[continued\]").Count);
        Assert.EndsWith("no newline at the end\n", text);
    }

    [Fact]
    public async Task Ansi_is_stripped_when_asked_and_kept_when_not()
    {
        var colour = "\e[31mred\e[0m and \e]0;title\a plain";
        var sup = new Supervisor();
        await using (sup)
        {
            using var rec = new Recorder(sup);
            sup.Start(Fixture.Spec("strip", "print", colour).WithSchedule(0) with { Log = new LogSpec { File = PathOf("strip.log"), Timestamps = false, StripAnsi = true } });
            sup.Start(Fixture.Spec("keep", "print", colour).WithSchedule(0) with { Log = new LogSpec { File = PathOf("keep.log"), Timestamps = false } });
            await rec.Count<NotRestarting>(2);
        }
        Assert.Equal("red and  plain\n", File.ReadAllText(PathOf("strip.log")));
        Assert.Equal(colour + "\n", File.ReadAllText(PathOf("keep.log")));
    }

    [Fact]
    public async Task An_unwritable_log_gives_events_and_a_drop_count_and_the_child_is_not_slowed()
    {
        File.WriteAllText(PathOf("not-a-folder"), "x");
        var log = PathOf("not-a-folder/app.log"); // ENOTDIR: the parent is a file
        var sup = new Supervisor();
        await using (sup)
        {
            using var rec = new Recorder(sup);
            var unit = sup.Start(Fixture.Spec("blocked", "lines", "200000", "marker", "done").WithSchedule(0) with { Log = new LogSpec { File = log } });
            var failed = await rec.Event<LogFailed>();
            // Said once, with the errno by name; no .NET exception type.
            Assert.Equal($"cannot write {log}: {PathOf("not-a-folder")} is a file, not a folder (ENOTDIR); dropping lines until it can", failed.Reason);
            var exited = await rec.Event<Exited>(timeout: TimeSpan.FromSeconds(60));
            Assert.Equal(0, exited.Status.Code);
            Assert.True(await Procs.Eventually(() => unit.DroppedLogLines >= 200_000, TimeSpan.FromSeconds(10)), $"dropped {unit.DroppedLogLines}");
            Assert.Contains(unit.RecentOutput(), l => l.Text.StartsWith("MARKER done")); // the ring still has the lines
            Assert.Single(rec.Events.OfType<LogFailed>()); // one episode, however many retries failed
        }
    }

    [Fact]
    public async Task A_grandchild_holding_the_pipe_does_not_hold_up_the_exit()
    {
        var sup = new Supervisor();
        await using (sup)
        {
            using var rec = new Recorder(sup);
            var unit = sup.Start(Fixture.Spec("holder", "grandchild", "marker", "bye", "exit", "5").WithSchedule(0).WithStop(TimeSpan.FromSeconds(2)));
            var gc = Procs.ParsePid((await rec.Line(l => l.Text.StartsWith("GRANDCHILD pid="), "grandchild")).Text, "pid=");
            var exited = await rec.Event<Exited>(timeout: TimeSpan.FromSeconds(20)); // the grandchild still holds stdout
            Assert.Equal(5, exited.Status.Code);
            Assert.Equal(UnitState.Exited, (await rec.Event<NotRestarting>()).State);
            // The run's leftovers are stopped (it sits in the run's session), so the pipe closes in the end.
            Assert.True(await Procs.Eventually(() => !Procs.Alive(gc), TimeSpan.FromSeconds(15)), "grandchild left running");
        }
    }

    [Fact]
    public async Task A_child_that_fills_the_read_buffer_exactly_and_goes_quiet_does_not_stall_the_others()
    {
        // A blocking read after an exactly-full one would hang the one reactor thread, and with it every unit. Whether
        // a read fills the buffer exactly depends on timing, so this makes the case likely rather than certain.
        var sup = new Supervisor();
        await using (sup)
        {
            using var rec = new Recorder(sup);
            sup.Start(Fixture.Spec("exact", "bytes", "1048576", "hang"));
            sup.Start(Fixture.Spec("later", "sleep", "1500", "marker", "later-up", "hang"));
            await rec.Marker("later-up", TimeSpan.FromSeconds(30));
            Assert.True(await Procs.Eventually(() => sup.Find("exact").Single().RecentOutput().Count == 1000, TimeSpan.FromSeconds(10))); // the ring (1000 lines) is full
        }
    }
}
