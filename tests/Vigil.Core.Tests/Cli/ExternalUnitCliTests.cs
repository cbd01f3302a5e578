using Vigil.Launching;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>The real <c>vigil run</c> with an external unit (<c>attach: { pidfile }</c>) watching processes the test
/// started: shown as attached, killed by its probe's action, waited for, followed, and left running at shutdown.</summary>
[Collection("processes")]
public sealed class ExternalUnitCliTests : HarnessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    [Trait("Category", VigilProcess.Smoke)]
    public async Task Vigil_run_watches_kills_waits_for_and_leaves_an_external_process()
    {
        using var first = OutsideProcess.Start("marker", "up", "hang", H.Token);
        using var second = OutsideProcess.Start("marker", "up", "hang", H.Token);
        await first.Marker("up");
        await second.Marker("up");
        H.Write("legacy.pid", $"{first.Pid}\n");
        var hang = H.Path("hang");
        H.Write("vigil.yaml", $$"""
            processes:
              - name: legacy
                attach: { pidfile: legacy.pid, poll: 200ms }
                health:
                  - { kind: exec, command: [sh, -c, "test ! -e '{{hang}}'"], period: 200ms, failureThreshold: 1, action: kill }
            """);
        var vigil = H.Start("run");
        await vigil.WaitLine(l => l.Contains($" legacy#{first.Pid} spawned: ") && l.Contains("(attached)"), "legacy attached", Wait);
        var units = await H.LsUntil(u => u[0].GetProperty("state").GetString() == "running", "legacy running", Wait);
        Assert.Equal(first.Pid, units[0].GetProperty("pid").GetInt32());
        Assert.True(units[0].GetProperty("attached").GetBoolean());
        var (_, status, _) = await H.Cli("status", "legacy");
        Assert.Contains("attached", status);

        // The probe fails: the process Vigil did not start is killed by PID; the unit waits for its manager.
        H.Write("hang", "");
        Assert.Equal(128 + Signals.SIGKILL, await first.Exited(Wait));
        await vigil.WaitLine(l => l.Contains(" legacy waiting: "), "legacy waiting", Wait);
        await H.LsUntil(u => u[0].GetProperty("state").GetString() == "waiting", "legacy waiting", Wait);

        // The manager starts a new one and writes its PID: followed.
        File.Delete(hang);
        H.Write("legacy.pid", $"{second.Pid}\n");
        await vigil.WaitLine(l => l.Contains($" legacy#{second.Pid} spawned: "), "legacy re-attached", Wait);

        // Vigil goes; the external process stays.
        vigil.Signal(Signals.SIGTERM);
        Assert.Equal(0, await vigil.WaitExit(Wait));
        Assert.True(Procs.Alive(second.Pid), "vigil stopped a process it only watched");
    }
}
