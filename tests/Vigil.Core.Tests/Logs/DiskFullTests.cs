using System.Diagnostics;
using System.Text;
using Vigil.Logs;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Logs;

/// <summary>A 256 KiB tmpfs, mounted for one test (needs root or CAP_SYS_ADMIN); <see cref="Mounted"/> is false when
/// the mount is refused (EPERM in an unprivileged container), and the test then checks only what the ENOTDIR case in
/// <see cref="LogFileWriterTests"/> cannot: nothing.</summary>
internal sealed class SmallTmpfs : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("vigil-full-").FullName;
    public bool Mounted { get; }
    public string Error { get; } = "";

    public SmallTmpfs(string options = "size=256k")
    {
        var psi = new ProcessStartInfo("mount", ["-t", "tmpfs", "-o", options, "tmpfs", Path]) { RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        Error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Mounted = p.ExitCode == 0;
    }

    public void Dispose()
    {
        if (Mounted) Process.Start("umount", ["-l", Path])!.WaitForExit();
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

public class DiskFullTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Full_disk_raises_Fault_counts_drops_and_Resumed_after_space_is_freed()
    {
        using var fs = new SmallTmpfs();
        if (!fs.Mounted)
        {
            // No privilege to mount (EPERM): the fault path is still covered by the ENOTDIR test.
            Assert.Contains("permission", fs.Error, StringComparison.OrdinalIgnoreCase);
            return;
        }
        var filler = System.IO.Path.Combine(fs.Path, "filler");
        var path = System.IO.Path.Combine(fs.Path, "app.log");
        var time = new FakeTimeProvider();
        var w = new LogFiles().Open(path, null, 5, time);
        var faults = new List<string>();
        var resumed = new List<long>();
        w.Fault += faults.Add;
        w.Resumed += resumed.Add;

        // Leave about 20 KB free, then log 100 KB.
        File.WriteAllBytes(filler, new byte[200 * 1024]);
        var line = new string('x', 90);
        for (int i = 0; i < 1000; i++) w.Append(Encoding.UTF8.GetBytes($"{i:D4} {line}\n"));
        await w.FlushAsync().WaitAsync(Wait);
        var fault = Assert.Single(faults);
        Assert.Equal("no space left on device (ENOSPC)", fault); // the errno by name; the path is the event's to give
        Assert.True(w.DroppedLines > 0);
        Assert.Equal(1000, w.WrittenLines + w.DroppedLines);
        long droppedBefore = w.DroppedLines;

        File.Delete(filler);
        time.Advance(TimeSpan.FromSeconds(1));
        w.Append("after the fix\n"u8);
        await w.FlushAsync().WaitAsync(Wait);
        Assert.Equal([droppedBefore], resumed);
        await w.DisposeAsync();

        // Only whole lines on disk: the write that hit ENOSPC part-way was cut back.
        var lines = File.ReadAllText(path).Split('\n')[..^1];
        Assert.Equal("after the fix", lines[^1]);
        Assert.All(lines[..^1], l => Assert.Matches(@"^\d{4} x{90}$", l));
        Assert.Equal(w.WrittenLines, lines.Length);
    }
}
