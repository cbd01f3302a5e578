using Vigil.Logs;
using Xunit;

namespace Vigil.Tests.Logs;

/// <summary>Unit: the writer's flow control, with a writer task held back (its start waits on a task the test owns),
/// so "the disk is slower than the child" is exact rather than a race.</summary>
public sealed class FlowControlTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_writer_over_its_high_water_mark_asks_the_reader_to_pause_and_resumes_it_once_it_took_the_batch()
    {
        using var dir = new TempDir();
        var held = new TaskCompletionSource();
        var w = new LogFileWriter(new LogFiles(), dir["slow.log"], null, 5, TimeProvider.System, held.Task);
        var line = new byte[1024];
        line.AsSpan().Fill((byte)'x');
        line[^1] = (byte)'\n';
        int appended = 0;
        while (!w.Behind)
        {
            w.AppendLines(line, 1);
            appended++;
        }
        Assert.Equal(LogFileWriter.HighWater / line.Length + 1, appended); // paused right past the mark, nothing dropped
        var resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        Assert.True(w.ResumeWhenCaughtUp(new Reader(() => { Interlocked.Increment(ref calls); resumed.TrySetResult(); })));
        Assert.False(resumed.Task.IsCompleted);
        held.SetResult(); // the disk catches up: the writer takes the pending batch
        await resumed.Task.WaitAsync(Wait);
        Assert.False(w.Behind);
        Assert.False(w.ResumeWhenCaughtUp(new Reader(() => throw new InvalidOperationException("not behind: never registered"))));
        await w.FlushAsync().WaitAsync(Wait);
        Assert.Equal(1, calls);
        Assert.Equal(0, w.DroppedLines);
        Assert.Equal(appended, w.WrittenLines);
        await w.DisposeAsync();
        Assert.Equal((long)appended * line.Length, new FileInfo(dir["slow.log"]).Length);
    }

    [Fact]
    public async Task Closing_the_writer_resumes_a_paused_reader()
    {
        using var dir = new TempDir();
        var held = new TaskCompletionSource();
        var w = new LogFileWriter(new LogFiles(), dir["closing.log"], null, 5, TimeProvider.System, held.Task);
        var chunk = new byte[64 * 1024];
        chunk.AsSpan().Fill((byte)'y');
        chunk[^1] = (byte)'\n';
        while (!w.Behind) w.AppendLines(chunk, 1);
        var resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(w.ResumeWhenCaughtUp(new Reader(() => resumed.TrySetResult())));
        var closing = w.DisposeAsync().AsTask();
        await resumed.Task.WaitAsync(Wait); // a reader must never stay paused on a writer that is going away
        held.SetResult();
        await closing.WaitAsync(Wait);
    }

    /// <summary>A paused pipe reader as the writer sees one.</summary>
    private sealed class Reader(Action resume) : Vigil.Launching.IPausedReader
    {
        public void Resume() => resume();
    }
}
