using System.Diagnostics;
using System.Text;
using Vigil.Launching;
using Vigil.Logs;
using Vigil.Specs;
using Vigil.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Vigil.Tests.Logs;

/// <summary>A fresh temp folder per test, removed afterwards.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("vigil-logs-").FullName;
    public string this[string name] => System.IO.Path.Combine(Path, name);
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

public class LogFileWriterTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static void AppendText(LogFileWriter w, string line) => w.Append(Encoding.UTF8.GetBytes(line + "\n"));

    private static string[] ReadLines(string path) => File.ReadAllText(path).Split('\n') is var parts && parts[^1] == "" ? parts[..^1] : throw new Xunit.Sdk.XunitException($"{path} does not end with a newline");

    [Fact]
    public async Task Handed_over_buffers_and_copied_lines_land_in_the_order_given_with_exact_counts()
    {
        using var dir = new TempDir();
        var path = dir["owned.log"];
        var w = new LogFiles().Open(path, null, 5);
        var expected = new List<string>();
        int seq = 0;
        for (int round = 0; round < 50; round++)
        {
            // A few copied lines, then a rented buffer of many lines handed over, then copied lines again.
            for (int i = 0; i < 3; i++) { var l = $"copy {seq++:D6}"; expected.Add(l); AppendText(w, l); }
            var owned = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
            int length = 0, count = 0;
            while (length + 32 < owned.Length)
            {
                var l = $"owned {seq++:D6}";
                expected.Add(l);
                length += Encoding.UTF8.GetBytes(l + "\n", owned.AsSpan(length));
                count++;
            }
            w.AppendOwned(owned, length, count);
            for (int i = 0; i < 2; i++) { var l = $"copy {seq++:D6}"; expected.Add(l); AppendText(w, l); }
        }
        await w.FlushAsync().WaitAsync(Wait);
        Assert.Equal(expected.Count, w.WrittenLines);
        Assert.Equal(0, w.DroppedLines);
        await w.DisposeAsync();
        Assert.Equal(expected, ReadLines(path));

        // After the last dispose a handed-over buffer is dropped and counted, never written.
        var late = System.Buffers.ArrayPool<byte>.Shared.Rent(16);
        int n = Encoding.UTF8.GetBytes("late\nlate\n", late);
        w.AppendOwned(late, n, 2);
        Assert.Equal(2, w.DroppedLines);
        Assert.Equal(expected, ReadLines(path));
    }

    [Fact]
    public async Task Twenty_threads_sharing_a_writer_give_whole_lines_each_exactly_once()
    {
        using var dir = new TempDir();
        var path = dir["shared.log"];
        const int threads = 20, perThread = 5000;
        var w = new LogFiles().Open(path, null, 5);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            // Different lengths per thread, so a mixed or torn line cannot look whole.
            var pad = new string((char)('a' + t), 10 + t * 7);
            for (int i = 0; i < perThread; i++) AppendText(w, $"t{t:D2} {i:D5} {pad} end");
        })).ToList();
        workers.ForEach(x => x.Start());
        workers.ForEach(x => x.Join());
        await w.FlushAsync().WaitAsync(Wait);
        Assert.Equal(threads * perThread, w.WrittenLines);
        Assert.Equal(0, w.DroppedLines);
        await w.DisposeAsync();

        var next = new int[threads];
        foreach (var line in ReadLines(path))
        {
            var parts = line.Split(' ');
            Assert.Equal(4, parts.Length);
            int t = int.Parse(parts[0][1..]), i = int.Parse(parts[1]);
            Assert.Equal(new string((char)('a' + t), 10 + t * 7), parts[2]);
            Assert.Equal("end", parts[3]);
            Assert.Equal(next[t], i); // each thread's lines present once, in its order
            next[t]++;
        }
        Assert.All(next, n => Assert.Equal(perThread, n));
    }

    [Fact]
    public async Task One_writer_per_full_path_closed_by_the_last_dispose()
    {
        using var dir = new TempDir();
        var files = new LogFiles();
        var a = files.Open(dir["x.log"], null, 5);
        var b = files.Open(System.IO.Path.Combine(dir.Path, ".", "x.log"), 1 << 20, 3);
        Assert.Same(a, b);
        AppendText(a, "from a");
        await a.DisposeAsync();
        AppendText(b, "from b"); // still open: b holds a reference
        await b.FlushAsync().WaitAsync(Wait);
        Assert.Equal(0, b.DroppedLines);
        b.Dispose();
        Assert.Equal(["from a", "from b"], ReadLines(dir["x.log"]));

        var c = files.Open(dir["x.log"], null, 5);
        Assert.NotSame(a, c);
        AppendText(c, "from c");
        await c.DisposeAsync();
        Assert.Equal(["from a", "from b", "from c"], ReadLines(dir["x.log"]));
    }

    [Fact]
    public async Task Two_registries_share_no_writer()
    {
        using var dir = new TempDir();
        var a = new LogFiles().Open(dir["x.log"], null, 5);
        var b = new LogFiles().Open(dir["x.log"], null, 5);
        Assert.NotSame(a, b); // two supervisors in one process: no hidden shared state
        AppendText(a, "from a");
        await a.DisposeAsync();
        AppendText(b, "from b");
        await b.DisposeAsync(); // each registry counts its own: one dispose closes each
        Assert.Equal(["from a", "from b"], ReadLines(dir["x.log"]));
    }

    [Fact]
    public async Task Dispose_writes_what_is_pending()
    {
        using var dir = new TempDir();
        var w = new LogFiles().Open(dir["p.log"], null, 5);
        for (int i = 0; i < 10_000; i++) AppendText(w, i.ToString());
        await w.DisposeAsync();
        Assert.Equal(Enumerable.Range(0, 10_000).Select(i => i.ToString()), ReadLines(dir["p.log"]));
    }

    [Fact]
    public async Task Rotation_under_a_flood_loses_nothing_and_splits_nothing()
    {
        using var dir = new TempDir();
        var path = dir["flood.log"];
        const long max = 1 << 20;
        const int count = 200_000;
        var w = new LogFiles().Open(path, max, 50);
        for (int i = 0; i < count; i++) AppendText(w, $"{i:D7} {new string('x', i % 40)}");
        await w.DisposeAsync();

        var files = Directory.GetFiles(dir.Path).Select(f => System.IO.Path.GetFileName(f)).ToHashSet();
        int rotated = Enumerable.Range(1, 50).TakeWhile(n => files.Contains($"flood.log.{n}")).Count();
        Assert.True(rotated >= 4, $"expected several rotations, got {rotated}");
        Assert.Equal(rotated + 1, files.Count);
        int expected = 0;
        foreach (var f in Enumerable.Range(1, rotated).Reverse().Select(n => $"{path}.{n}").Append(path))
        {
            Assert.True(new FileInfo(f).Length <= max, $"{f} is {new FileInfo(f).Length} bytes");
            foreach (var line in ReadLines(f))
            {
                Assert.Equal($"{expected:D7} {new string('x', expected % 40)}", line);
                expected++;
            }
        }
        Assert.Equal(count, expected);
    }

    [Fact]
    public async Task Rotation_keeps_only_keep_files_and_they_hold_the_newest_lines()
    {
        using var dir = new TempDir();
        var path = dir["k.log"];
        var w = new LogFiles().Open(path, 10_000, 2);
        for (int i = 0; i < 20_000; i++) AppendText(w, $"{i:D6}");
        await w.DisposeAsync();
        Assert.Equal(["k.log", "k.log.1", "k.log.2"], Directory.GetFiles(dir.Path).Select(f => System.IO.Path.GetFileName(f)).Order().ToArray());
        var lines = ReadLines(path + ".2").Concat(ReadLines(path + ".1")).Concat(ReadLines(path)).Select(int.Parse).ToList();
        Assert.Equal(19_999, lines[^1]);
        Assert.Equal(Enumerable.Range(lines[0], lines.Count), lines);
    }

    [Fact]
    public async Task A_line_longer_than_maxSize_goes_whole_into_a_file_of_its_own()
    {
        using var dir = new TempDir();
        var path = dir["big.log"];
        var w = new LogFiles().Open(path, 5000, 5);
        AppendText(w, "small 1");
        AppendText(w, new string('L', 12_000));
        AppendText(w, "small 2");
        await w.DisposeAsync();
        Assert.Equal(["small 1"], ReadLines(path + ".2"));
        Assert.Equal([new string('L', 12_000)], ReadLines(path + ".1"));
        Assert.Equal(["small 2"], ReadLines(path));
    }

    [Fact]
    public async Task Reopen_after_an_external_move_writes_to_the_new_file_and_loses_nothing()
    {
        using var dir = new TempDir();
        var path = dir["r.log"];
        var w = new LogFiles().Open(path, null, 5);
        for (int i = 0; i < 4000; i++) AppendText(w, $"{i}");
        await w.FlushAsync().WaitAsync(Wait); // the file exists
        for (int i = 4000; i < 5000; i++) AppendText(w, $"{i}"); // some may still be pending at the move
        File.Move(path, path + ".old"); // what logrotate does (without copytruncate)
        w.Reopen();
        await w.FlushAsync().WaitAsync(Wait);
        for (int i = 5000; i < 10_000; i++) AppendText(w, $"{i}");
        await w.DisposeAsync();
        var newLines = ReadLines(path).Select(int.Parse).ToList();
        Assert.True(newLines.Count >= 5000);
        Assert.Equal(9999, newLines[^1]);
        var all = ReadLines(path + ".old").Select(int.Parse).Concat(newLines);
        Assert.Equal(Enumerable.Range(0, 10_000), all);
    }

    [Fact]
    public async Task Unwritable_path_raises_Fault_counts_drops_and_resumes_when_fixed()
    {
        using var dir = new TempDir();
        var blocker = dir["notadir"];
        File.WriteAllText(blocker, "a regular file where a folder should be");
        var path = System.IO.Path.Combine(blocker, "app.log"); // open() fails with ENOTDIR
        var time = new FakeTimeProvider();
        var w = new LogFiles().Open(path, null, 5, time);
        var faults = new List<string>();
        var resumed = new List<long>();
        w.Fault += faults.Add;
        w.Resumed += resumed.Add;

        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 1000; i++) AppendText(w, $"lost {i}"); // never throws, never waits for the disk
        await w.FlushAsync().WaitAsync(Wait);
        for (int i = 0; i < 1000; i++) AppendText(w, $"lost again {i}"); // within the retry interval: dropped untried
        await w.FlushAsync().WaitAsync(Wait);
        output.WriteLine($"2000 appends to a failing path: {sw.Elapsed.TotalMilliseconds:0.0} ms");
        Assert.Equal(2000, w.DroppedLines);
        Assert.Equal(0, w.WrittenLines);
        var fault = Assert.Single(faults);
        Assert.Equal($"{blocker} is a file, not a folder (ENOTDIR)", fault);

        time.Advance(TimeSpan.FromSeconds(1)); // retry, still failing: same episode, no second event
        AppendText(w, "lost 3");
        await w.FlushAsync().WaitAsync(Wait);
        Assert.Single(faults);
        Assert.Equal(2001, w.DroppedLines);

        File.Delete(blocker);
        Directory.CreateDirectory(blocker);
        AppendText(w, "too early"); // the fix is in place but the next retry is not due yet
        await w.FlushAsync().WaitAsync(Wait);
        Assert.Empty(resumed);
        time.Advance(TimeSpan.FromSeconds(1));
        AppendText(w, "back");
        await w.FlushAsync().WaitAsync(Wait);
        Assert.Equal([2002L], resumed);
        Assert.Equal(1, w.WrittenLines);
        await w.DisposeAsync();
        Assert.Equal(["back"], ReadLines(path));
    }

    [Fact]
    public async Task Throughput_of_200MB_of_timestamped_lines()
    {
        using var dir = new TempDir();
        var path = dir["tp.log"];
        var w = new LogFiles().Open(path, null, 5);
        var spec = new LogSpec();
        var line = Encoding.UTF8.GetBytes(new string('x', 28));
        var buf = new byte[LogLineFormatter.MaxLength("bench", 64)];
        const long target = 200L * 1024 * 1024;
        long bytes = 0, lines = 0;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var time = TimeProvider.System;
        while (bytes < target)
        {
            // ~60 bytes formatted: 25 timestamp + 7 counter + 28 payload + newline.
            System.Buffers.Text.Utf8Formatter.TryFormat(lines % 1_000_000, line, out _, new System.Buffers.StandardFormat('D', 6));
            int n = LogLineFormatter.Format(buf, time.GetUtcNow(), "bench", StreamKind.Stdout, line, false, spec);
            w.Append(buf.AsSpan(0, n));
            bytes += n;
            lines++;
        }
        var appended = sw.Elapsed;
        await w.FlushAsync().WaitAsync(TimeSpan.FromMinutes(2));
        var total = sw.Elapsed;
        var cpuUsed = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        await w.DisposeAsync();
        output.WriteLine($"{lines:N0} lines, {bytes / 1e6:0} MB: format+append {appended.TotalSeconds:0.00}s, on disk after {total.TotalSeconds:0.00}s " +
                         $"({bytes / 1e6 / total.TotalSeconds:0} MB/s), CPU {cpuUsed.TotalSeconds:0.00}s ({cpuUsed.TotalMilliseconds / (bytes / 1e6):0.00} ms/MB), dropped {w.DroppedLines}");
        Assert.Equal(lines, w.WrittenLines + w.DroppedLines);
    }
}
