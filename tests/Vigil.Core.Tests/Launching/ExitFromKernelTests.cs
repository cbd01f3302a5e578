using System.Diagnostics;
using Vigil.Launching;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Launching;

/// <summary>Real processes that are not ours: the exit status of a zombie from /proc, and of a process its own parent
/// reaped from the pidfd we hold (PIDFD_INFO_EXIT; this machine's kernel has it).</summary>
public sealed class ExitFromKernelTests
{
    /// <summary>Starts <c>sh -c SCRIPT</c>, which prints the PID of the child it backgrounds first.</summary>
    private static (Process Shell, int Child) StartWithChild(string script)
    {
        var shell = Process.Start(new ProcessStartInfo("sh", ["-c", script]) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var line = shell.StandardOutput.ReadLine();
        Assert.NotNull(line);
        return (shell, int.Parse(line));
    }

    [Fact]
    public async Task A_zombie_whose_parent_never_reaps_it_gives_its_status_from_proc()
    {
        // The shell execs sleep, which never waits: the child stays a zombie after "exit 7". It exits only once the
        // shell is sleep (a shell still there may reap it).
        var go = Path.Combine(Path.GetTempPath(), $"vigil-zombie-{Guid.NewGuid():N}");
        // setsid: in a session of its own, so once its parent is killed the test host's orphan reaper (which spares its
        // own session, where System.Diagnostics.Process's children are) or init reaps it: no zombie outlives the test.
        var (shell, child) = StartWithChild($"setsid sh -c 'while [ ! -e {go} ]; do sleep 0.01; done; exit 7' & echo $!; exec sleep 300");
        try
        {
            Assert.True(ProcFs.TryReadStat(child, out var st));
            var identity = new ProcessIdentity(child, st.StartTime);
            Assert.True(await Procs.Eventually(() => File.Exists($"/proc/{shell.Id}/comm") && File.ReadAllText($"/proc/{shell.Id}/comm").Trim() == "sleep"), "the shell did not exec sleep");
            File.WriteAllText(go, "");
            Assert.True(await Procs.Eventually(() => ProcFs.TryReadStat(child, out var z) && z.State == OsState.Zombie), "the child did not become a zombie");
            Assert.Equal(7 << 8, ExitFromKernel.ZombieWaitStatus(identity));
            Assert.Equal(ExitStatus.Exited(7), ExitFromKernel.Read(identity, -1));
            // Another process under the same PID (a start time that differs) is not read as ours.
            Assert.Null(ExitFromKernel.ZombieWaitStatus(identity with { StartTime = identity.StartTime + 1 }));
        }
        finally
        {
            File.Delete(go);
            shell.Kill();
            await shell.WaitForExitAsync();
        }
        Assert.True(await Procs.Eventually(() => !File.Exists($"/proc/{child}/stat"), TimeSpan.FromSeconds(10)), $"the zombie {child} was never reaped");
    }

    [Fact]
    public async Task A_process_its_parent_reaped_gives_its_status_from_the_pidfd_we_hold()
    {
        var go = Path.Combine(Path.GetTempPath(), $"vigil-exitinfo-{Guid.NewGuid():N}");
        // The child is killed by SIGTERM once the test has its pidfd; the shell waits for (reaps) it.
        var (shell, child) = StartWithChild($"sh -c 'while [ ! -e {go} ]; do sleep 0.01; done; kill -TERM $$' & echo $!; wait; exec sleep 300");
        int pidfd = Native.PidfdOpen(child);
        try
        {
            Assert.True(pidfd >= 0, "pidfd_open failed");
            Assert.True(ProcFs.TryReadStat(child, out var st));
            var identity = new ProcessIdentity(child, st.StartTime);
            Assert.Null(ExitFromKernel.Read(identity, pidfd)); // still running
            File.WriteAllText(go, "");
            Assert.True(await Procs.Eventually(() => !File.Exists($"/proc/{child}/stat")), "the shell did not reap its child");
            Assert.Null(ExitFromKernel.ZombieWaitStatus(identity));
            Assert.Equal(15, ExitFromKernel.PidfdWaitStatus(pidfd));
            Assert.Equal(ExitStatus.Killed(15), ExitFromKernel.Read(identity, pidfd));
        }
        finally
        {
            if (pidfd >= 0) Native.close(pidfd);
            File.Delete(go);
            shell.Kill();
            await shell.WaitForExitAsync();
        }
    }

    [Theory]
    [InlineData(0, 0, null, false)]
    [InlineData(3 << 8, 3, null, false)]
    [InlineData(9, null, 9, false)]
    [InlineData(11 | 0x80, null, 11, true)]
    public void A_wait_status_decodes_as_waitpid_reports_it(int status, int? code, int? signal, bool core)
    {
        var e = ExitFromKernel.Decode(status);
        Assert.Equal(code, e.Code);
        Assert.Equal(signal, e.Signal);
        Assert.Equal(core, e.CoreDumped);
    }
}
