using Vigil.Logs;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Logs;

/// <summary>The output log as its owner sees it: <see cref="IOutputLog"/> without a unit behind it.</summary>
public sealed class OutputLogTests
{
    /// <summary>An observer that wants no lines and counts file news.</summary>
    private sealed class Quiet : ILogObserver
    {
        public int News;
        public void FileFailed(string path, string why) => News++;
        public void FileResumed(string path, long dropped) => News++;
        public void FileReopened(string path, string why) => News++;
        public bool WantsLines => false;
        public void Line(OutputLine line) => throw new InvalidOperationException("no line was wanted");
    }

    [Fact]
    public void An_idle_log_and_its_run_capture_hold_no_line_buffers()
    {
        const int logs = 100;
        var files = new LogFiles();
        var observer = new Quiet();
        var keep = new List<(IOutputLog, OutputCapture)>(logs);
        var warm = OutputLog.Open(new LogIdentity(0, "warm"), new LogSpec(), null, files, TimeProvider.System, observer);
        keep.Add((warm, warm.BeginRun()));
        // One thread does all of it (no file, so no writer task): this thread's counter is the whole cost.
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 1; i <= logs; i++)
        {
            var log = OutputLog.Open(new LogIdentity(i, "idle"), new LogSpec(), null, files, TimeProvider.System, observer);
            keep.Add((log, log.BeginRun()));
        }
        long perLog = (GC.GetAllocatedBytesForCurrentThread() - before) / logs;
        // Before issue 12: the 1000-slot ring (~56 KB) and two 4 KiB splitter buffers per run, up front.
        Assert.True(perLog <= 2048, $"an idle log and its capture allocated {perLog} bytes");
        Assert.All(keep, k => Assert.Equal(1000, k.Item1.Ring.Capacity));
        Assert.Equal(0, observer.News);
    }

    [Fact]
    public void The_ring_grows_with_the_lines_and_keeps_the_last_ones()
    {
        var log = OutputLog.Open(new LogIdentity(1, "grow"), new LogSpec { RingLines = 100 }, null, new LogFiles(), TimeProvider.System, new Quiet());
        var capture = log.BeginRun();
        for (int i = 0; i < 250; i++) capture.OnData(7, Vigil.Launching.StreamKind.Stdout, System.Text.Encoding.UTF8.GetBytes($"line {i}\n"));
        var lines = log.Ring.Snapshot();
        Assert.Equal(Enumerable.Range(150, 100).Select(i => $"line {i}"), lines.Select(l => l.Text));
        Assert.All(lines, l => Assert.Equal((1, "grow", 7), (l.UnitId, l.Name, l.Pid)));
    }
}

/// <summary>A custom sink given to <see cref="Supervisor.Start"/> (not part of the spec).</summary>
[Collection("processes")]
public sealed class SupervisorSinkTests
{
    [Fact]
    public async Task A_sink_given_at_start_gets_the_units_lines_and_is_disposed_with_it()
    {
        var got = new List<string>();
        var sink = OutputSink.FromDelegate(l => { lock (got) got.Add(l.Text); });
        var sup = new Supervisor();
        await using (sup)
        {
            using var rec = new Recorder(sup);
            var unit = sup.Start(Fixture.Spec("sunk", "print", "one", "eprint", "two", "exit", "0").WithSchedule(0), sink);
            await rec.Event<Exited>();
            await unit.OutputClosed.WaitAsync(TimeSpan.FromSeconds(20));
        }
        // The supervisor's dispose closed the log, which wrote what the sink had queued and stopped it.
        lock (got) Assert.Equal(["one", "two"], got.Order());
        sink.Post(new OutputLine(DateTimeOffset.UnixEpoch, 0, "late", 0, Vigil.Launching.StreamKind.Stdout, [], false));
        Assert.Equal(1, sink.Dropped); // disposed: a line posted afterwards is refused, not written
    }
}
