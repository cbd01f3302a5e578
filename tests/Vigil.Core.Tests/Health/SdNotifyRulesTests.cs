using System.Diagnostics;
using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Health;

/// <summary>The rules behind the sd-notify socket, each on its own: which folder is fit, who may send, the rate limit.</summary>
[Collection("processes")]
public sealed class SdNotifyRulesTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-notify-rules-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Folder(string name, UnixFileMode mode)
    {
        var path = Path.Combine(_dir.FullName, name);
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, mode);
        return path;
    }

    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    [Fact]
    public void Only_a_real_folder_of_ours_with_mode_700_is_fit_for_the_sockets()
    {
        Assert.Null(NotifyFolder.Refusal(Folder("ours", Private)));
        Assert.Equal("its mode is 755, not 700",
            NotifyFolder.Refusal(Folder("open", Private | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute)));
        var link = Path.Combine(_dir.FullName, "link");
        File.CreateSymbolicLink(link, Folder("target", Private));
        Assert.Equal("it is a symbolic link", NotifyFolder.Refusal(link)); // lstat: the link itself, not the fit folder behind it
        var file = Path.Combine(_dir.FullName, "file");
        File.WriteAllText(file, "");
        Assert.Equal("it is not a folder", NotifyFolder.Refusal(file));
        Assert.StartsWith("cannot lstat it: ", NotifyFolder.Refusal(Path.Combine(_dir.FullName, "missing")));
    }

    [Fact]
    public void A_folder_of_another_owner_is_refused()
    {
        // chown to another user needs root, as the tests run (CI); the CLI test has a real other user make the folder.
        var theirs = Folder("theirs", Private);
        Assert.Equal(0, Chown(theirs, 65534, 65534));
        Assert.Equal($"it belongs to uid 65534, not to Vigil's euid 0", NotifyFolder.Refusal(theirs));
    }

    [Fact]
    public void The_token_bucket_admits_the_burst_then_the_rate_on_the_injected_clock()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(time, burst: 5, perSecond: 10);
        Assert.Equal(5, Enumerable.Range(0, 20).Count(_ => bucket.TryTake()));
        time.Advance(TimeSpan.FromMilliseconds(99));
        Assert.False(bucket.TryTake()); // 0.99 of a token
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(bucket.TryTake());
        Assert.False(bucket.TryTake());
        time.Advance(TimeSpan.FromMinutes(1)); // refills to the burst, never past it
        Assert.Equal(5, Enumerable.Range(0, 20).Count(_ => bucket.TryTake()));
    }

    [Theory]
    [InlineData("WATCHDOG=1", true)]
    [InlineData("STATUS=x\nWATCHDOG=1", true)]
    [InlineData("WATCHDOG=1\nSTATUS=x", true)]
    [InlineData("STATUS=WATCHDOG=1", false)]
    [InlineData("WATCHDOG=10", false)]
    [InlineData("WATCHDOG=trigger", false)]
    [InlineData("", false)]
    public void A_dropped_datagram_is_a_ping_only_when_one_line_is_exactly_WATCHDOG_1(string datagram, bool ping) =>
        Assert.Equal(ping, SdNotifyProbe.IsPing(System.Text.Encoding.UTF8.GetBytes(datagram)));

    [Fact]
    public async Task Senders_are_the_main_process_or_with_all_its_descendants_even_out_of_its_session()
    {
        // sh is the "main process" (in the test's session); its child calls setsid, so only the parent link ties it to sh.
        var n = Procs.UniqueSleep();
        using var launcher = new OsLauncher(subreaper: false);
        using var sh = Process.Start(new ProcessStartInfo("sh", ["-c", $"setsid sleep {n}; true"]))!;
        try
        {
            Assert.True(await Procs.Eventually(() => Procs.WithArgv("sleep", n).Count == 1), "the setsid'd sleep never started");
            int child = Procs.WithArgv("sleep", n)[0];
            ProcFs.TryReadStat(sh.Id, out var main);
            ProcFs.TryReadStat(child, out var grandchild);
            Assert.NotEqual(main.Session, grandchild.Session);
            ProbeTarget Target() => new()
            {
                UnitName = "u", Pid = sh.Id, Session = sh.Id, // not sh's real session: only the parent link can admit the child
                Spec = new ProbeSpec(new SdNotifyCheck(null)), Time = TimeProvider.System, StartedAt = 0, WorkingDirectory = "/",
                LastOutputAt = static () => null, Launcher = launcher,
            };
            var main_ = new NotifySenders(Target(), NotifyAccess.Main);
            var all = new NotifySenders(Target(), NotifyAccess.All);
            Assert.True(main_.Admits(sh.Id));
            Assert.True(all.Admits(sh.Id));
            Assert.False(main_.Admits(child));
            Assert.True(all.Admits(child));
            Assert.True(all.AdmitsKnown(child)); // admitted once: known without /proc over the rate limit
            Assert.False(all.Admits(Environment.ProcessId)); // the parent of the main process is not of the unit
            Assert.False(all.Admits(0)); // no credentials, or the sender is gone
            Assert.False(all.AdmitsKnown(Environment.ProcessId));
        }
        finally
        {
            Procs.KillAll(Procs.WithArgv("sleep", n));
            await sh.WaitForExitAsync();
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int Chown(string path, uint uid, uint gid);
}
