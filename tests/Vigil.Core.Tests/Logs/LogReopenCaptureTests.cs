using System.Text;
using Vigil.Logs;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Vigil.Tests.Logs;

/// <summary>End to end, with real children and real files: a log file deleted or renamed under a running unit, a log
/// folder that does not exist yet or cannot be made, a symlink another user planted. The supervisor's clock is fake,
/// so the once-a-second check of the writer happens exactly when the test moves it.</summary>
[Collection("processes")]
public sealed class LogReopenCaptureTests(ITestOutputHelper output) : IDisposable
{
    private const int Ticks = 3000; // "tick 1 3000": about 3.5 s of numbered lines, one per millisecond
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static List<int> TickNumbers(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => int.Parse(l.StartsWith("tick ") ? l[5..] : throw new FormatException($"not a tick line: '{l}'"))).ToList();

    private static List<int> TicksIn(string path) => File.Exists(path) ? TickNumbers(ReadShared(path)) : [];

    private static string ReadShared(string path)
    {
        using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var text = new StreamReader(s, Encoding.UTF8).ReadToEnd();
        return text[..(text.LastIndexOf('\n') + 1)]; // a line being written may be cut: only whole lines
    }

    [Theory]
    [InlineData("file deleted", "the file was deleted; the ")]
    [InlineData("folder deleted", "its folder was deleted; the ")]
    [InlineData("file renamed", "the file was renamed away")]
    public async Task Disturbing_the_log_of_a_running_unit_loses_and_doubles_no_line(string what, string reason)
    {
        var folder = _dir["logs"];
        var log = Path.Combine(folder, "ticker.log");
        var time = new FakeTimeProvider();
        var sup = new Supervisor(new SupervisorOptions { Time = time });
        List<int> old;
        int lastBefore;
        LogReopened reopened;
        await using (sup)
        {
            using var rec = new Recorder(sup);
            sup.Start(Fixture.Spec("ticker", "tick", "1", Ticks.ToString()).WithSchedule(0) with { Log = new LogSpec { File = log, Timestamps = false } });
            Assert.True(await Procs.Eventually(() => TicksIn(log).Count >= 200), "no ticks in the log");
            // One check while the file is in place: from here only what comes after it is the writer's to recover.
            time.Advance(LogFileWriter.CheckInterval);
            int atCheck = TicksIn(log).Count;
            Assert.True(await Procs.Eventually(() => TicksIn(log).Count >= atCheck + 100), "no ticks after the check");

            using var held = LogReopenTests.Hold(log);
            lastBefore = TickNumbers(LogReopenTests.ReadAll(held))[^1];
            switch (what)
            {
                case "file deleted": File.Delete(log); break;
                case "folder deleted": Directory.Delete(folder, recursive: true); break;
                default: File.Move(log, log + ".old"); break;
            }
            // Lines keep going to the old file until the next check: make sure some do, or the test proves nothing.
            Assert.True(await Procs.Eventually(() => TickNumbers(LogReopenTests.ReadAll(held))[^1] >= lastBefore + 200),
                "the child stopped writing before the file was disturbed long enough");
            Assert.False(File.Exists(log));
            Assert.Empty(rec.Events.OfType<LogReopened>());

            time.Advance(LogFileWriter.CheckInterval);
            reopened = await rec.Event<LogReopened>();
            var exited = await rec.Event<Exited>(timeout: TimeSpan.FromSeconds(60));
            Assert.Equal(0, exited.Status.Code);
            old = TickNumbers(LogReopenTests.ReadAll(held));
        }
        output.WriteLine($"{what}: last tick before it {lastBefore}, old file ends at {old[^1]}; {reopened.Kind}: {reopened.Reason}");
        Assert.StartsWith(reason, reopened.Why);
        Assert.Equal(log, reopened.Path);
        Assert.Equal(0, Assert.Single(sup.Units).DroppedLogLines);

        var now = TicksIn(log);
        if (what == "file renamed")
        {
            // The renamed file keeps what it got; the new one continues: together every line, once, in order.
            Assert.Equal(Enumerable.Range(1, Ticks), old.Concat(now));
            Assert.True(now[0] > lastBefore + 200, $"the new file starts at {now[0]}");
        }
        else
        {
            // Everything from the deletion on is in the new file, with no gap and no duplicate (what the deleted file
            // got after the last check is copied first).
            Assert.True(now[0] <= lastBefore + 1, $"the new file starts at tick {now[0]}, after the deletion (last tick before it: {lastBefore})");
            Assert.Equal(Enumerable.Range(now[0], Ticks - now[0] + 1), now);
            Assert.Contains(now.Count(n => n <= old[^1]) + " line(s)", reopened.Why); // the event counts what was copied
        }
        Assert.Equal(0b111_101_000, (int)File.GetUnixFileMode(folder)); // recreated (folder case) or created at start
    }

    [Fact]
    public async Task Missing_log_folders_are_created_when_the_unit_starts()
    {
        var log = _dir["new/deeper/app.log"];
        var sup = new Supervisor();
        await using (sup)
        {
            using var rec = new Recorder(sup);
            sup.Start(Fixture.Spec("fresh", "marker", "hello").WithSchedule(0) with { Log = new LogSpec { File = log, Timestamps = false } });
            await rec.Event<NotRestarting>();
            Assert.Empty(rec.Events.OfType<LogFailed>());
        }
        Assert.Equal($"MARKER hello pid=", File.ReadAllText(log)[..17]);
        Assert.Equal(0b111_101_000, (int)File.GetUnixFileMode(_dir["new"]));
        Assert.Equal(0b111_101_000, (int)File.GetUnixFileMode(_dir["new/deeper"]));
    }

    [Fact]
    public async Task A_symlink_another_user_planted_is_refused_with_a_log_failed_event_and_its_target_untouched()
    {
        File.SetUnixFileMode(_dir.Path, (UnixFileMode)0b111_101_101);
        var pub = _dir["pub"];
        Directory.CreateDirectory(pub);
        File.SetUnixFileMode(pub, (UnixFileMode)0b1_111_111_111);
        var victim = _dir["victim"];
        File.WriteAllText(victim, "secret\n");
        var log = Path.Combine(pub, "app.log");
        LogPathSecurityTests.AsNobody("ln", "-s", victim, log);
        var sup = new Supervisor();
        await using (sup)
        {
            using var rec = new Recorder(sup);
            var unit = sup.Start(Fixture.Spec("lured", "lines", "1000").WithSchedule(0) with { Log = new LogSpec { File = log } });
            var failed = await rec.Event<LogFailed>();
            Assert.Equal($"cannot write {log}: refusing to follow {log}: it is a symlink owned by uid 65534, not by root or Vigil's user; dropping lines until it can", failed.Reason);
            await rec.Event<NotRestarting>();
            Assert.True(await Procs.Eventually(() => unit.DroppedLogLines == 1000), $"dropped {unit.DroppedLogLines}");
        }
        Assert.Equal("secret\n", File.ReadAllText(victim));
    }
}
