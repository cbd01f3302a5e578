using System.Diagnostics;
using System.Text;
using Vigil.Logs;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Logs;

/// <summary>
/// A log path someone else prepared: real symlinks, folders and files made by a real other user (nobody, 65534,
/// through setpriv), and Vigil's writer running as the test (root). Each refusal is a fault with the reason, and the
/// file the other user aimed at stays as it was.
/// </summary>
public sealed class LogPathSecurityTests : IDisposable
{
    private const int Nobody = 65534;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly TempDir _dir = new();

    public LogPathSecurityTests()
    {
        // nobody must be able to reach the shared folders: the temp folder itself is 0700.
        File.SetUnixFileMode(_dir.Path, (UnixFileMode)0b111_101_101);
        Directory.CreateDirectory(Pub);
        File.SetUnixFileMode(Pub, (UnixFileMode)0b1_111_111_111); // 1777, like /tmp
        File.WriteAllText(Victim, "secret\n");
    }

    public void Dispose() => _dir.Dispose();

    private string Pub => _dir["pub"];
    private string Victim => _dir["victim"];

    /// <summary>Runs a command as nobody (no groups) and checks that it worked.</summary>
    internal static void AsNobody(params string[] command)
    {
        var psi = new ProcessStartInfo("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", .. command]) { RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{string.Join(' ', command)} as nobody failed: {err}");
    }

    private static async Task<(LogFileWriter W, List<string> Faults)> WriteTen(string path)
    {
        var w = new LogFiles().Open(path, null, 5, new FakeTimeProvider());
        var faults = new List<string>();
        w.Fault += faults.Add;
        w.Prepare();
        for (int i = 0; i < 10; i++) w.Append(Encoding.UTF8.GetBytes($"line {i}\n"));
        await w.FlushAsync().WaitAsync(Wait);
        await w.DisposeAsync();
        return (w, faults);
    }

    private async Task AssertRefused(string path, string why)
    {
        var (w, faults) = await WriteTen(path);
        Assert.Equal([why], faults);
        Assert.Equal(10, w.DroppedLines);
        Assert.Equal(0, w.WrittenLines);
        Assert.Equal("secret\n", File.ReadAllText(Victim));
    }

    [Fact]
    public async Task A_symlink_another_user_planted_is_not_followed()
    {
        var path = Path.Combine(Pub, "app.log");
        AsNobody("ln", "-s", Victim, path);
        await AssertRefused(path, $"refusing to follow {path}: it is a symlink owned by uid {Nobody}, not by root or Vigil's user");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // root's link → nobody's link → a root folder: only resolving link by link sees nobody's link
    public async Task A_symlinked_folder_another_user_owns_is_not_followed(bool throughRootLink)
    {
        var real = _dir["real"];
        Directory.CreateDirectory(real);
        var theirs = Path.Combine(Pub, "logs");
        AsNobody("ln", "-s", real, theirs);
        var folder = theirs;
        if (throughRootLink) File.CreateSymbolicLink(folder = _dir["ours"], "pub/logs"); // relative, as links often are
        await AssertRefused(Path.Combine(folder, "app.log"), $"refusing to follow {theirs}: it is a symlink owned by uid {Nobody}, not by root or Vigil's user");
        Assert.Empty(Directory.GetFiles(real));
    }

    [Fact]
    public async Task A_folder_another_user_owns_is_refused()
    {
        var theirs = Path.Combine(Pub, "theirs");
        AsNobody("mkdir", "-m", "0755", theirs);
        await AssertRefused(Path.Combine(theirs, "app.log"),
            $"refusing to write in {theirs}: its owner, uid {Nobody}, can write there and could swap the file for a link to another one");
        Assert.Empty(Directory.GetFiles(theirs));
    }

    [Theory]
    [InlineData(0b111_111_111, "every user")]   // 0777, no sticky bit
    [InlineData(0b111_111_101, "group 65534")]  // 0775, group nogroup
    public async Task A_folder_other_users_can_write_to_is_refused(int mode, string who)
    {
        var open = _dir["open"];
        Directory.CreateDirectory(open);
        File.SetUnixFileMode(open, (UnixFileMode)mode);
        Process.Start("chgrp", [Nobody.ToString(), open])!.WaitForExit();
        await AssertRefused(Path.Combine(open, "app.log"), $"refusing to write in {open}: {who} can write there and could swap the file for a link to another one");
        Assert.Empty(Directory.GetFiles(open));
    }

    [Fact]
    public async Task In_a_sticky_shared_folder_only_a_file_of_Vigils_own_is_written()
    {
        var theirs = Path.Combine(Pub, "theirs.log");
        AsNobody("touch", theirs);
        await AssertRefused(theirs, $"refusing {theirs}: the file belongs to uid {Nobody}, and every user can write in {Pub}");
        Assert.Equal(0, new FileInfo(theirs).Length);

        var ours = Path.Combine(Pub, "ours.log"); // created by Vigil: accepted, as in /tmp
        var (w, faults) = await WriteTen(ours);
        Assert.Empty(faults);
        Assert.Equal(10, w.WrittenLines);
        Assert.Equal(10, File.ReadAllLines(ours).Length);
    }

    [Fact]
    public async Task A_symlink_owned_by_root_is_followed_and_not_taken_for_a_moved_file()
    {
        var target = _dir["target.log"];
        var link = _dir["link.log"];
        File.CreateSymbolicLink(link, target);
        var time = new FakeTimeProvider();
        var w = new LogFiles().Open(link, null, 5, time);
        var events = new List<string>();
        w.Fault += events.Add;
        w.Reopened += events.Add;
        w.Append("one\n"u8);
        await w.FlushAsync().WaitAsync(Wait);
        time.Advance(LogFileWriter.CheckInterval); // the check compares the path (followed) with the open file: same
        w.Append("two\n"u8);
        await w.DisposeAsync();
        Assert.Empty(events);
        Assert.Equal(["one", "two"], File.ReadAllLines(target));
        Assert.True(new FileInfo(link).LinkTarget is not null);
    }
}
