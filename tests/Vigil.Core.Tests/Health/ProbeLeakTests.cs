using System.Collections.Immutable;
using Vigil.Health;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Health;

/// <summary>Integration: the processes of an exec probe, a progress exec source and a probe's exec action never
/// outlive their check (stop, unhealthy restart) or Vigil (shutdown), searched for in the whole system's /proc,
/// also among processes reparented to PID 1. Each test's <c>sleep</c> has a number no one else uses.</summary>
[Collection("processes")]
public sealed class ProbeLeakTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-leak-");
    private readonly List<string[]> _argvs = [];

    public void Dispose()
    {
        // A failed test must not leave its sleeps running for days.
        Procs.KillAll(_argvs.SelectMany(a => Procs.WithArgv(a)));
        _dir.Delete(recursive: true);
    }

    /// <summary>Four <c>sleep</c> argvs no one else runs: the exec probe's, the setsid'd grandchild's, the probe
    /// command's own, and one more (a progress source's or an action's).</summary>
    private (string[] Exec, string[] Escaped, string[] Waiting, string[] Other) Sleeps()
    {
        var four = Enumerable.Range(0, 4).Select(_ => new[] { "sleep", Procs.UniqueSleep() }).ToArray();
        _argvs.AddRange(four);
        return (four[0], four[1], four[2], four[3]);
    }

    private static ProbeSpec Exec(params string[] argv) =>
        new(new ExecCheck([.. argv])) { Period = TimeSpan.FromMilliseconds(100), Timeout = TimeSpan.FromSeconds(60), FailureThreshold = 1 };

    /// <summary>A probe command whose grandchild leaves the probe's session and group with setsid.</summary>
    private static ProbeSpec ExecWithSetsidGrandchild(string escaped, string waiting) =>
        Exec("sh", "-c", $"setsid sleep {escaped} & sleep {waiting}") with { Name = "setsid" };

    private async Task AllRunning(params string[][] argvs)
    {
        foreach (var argv in argvs)
        {
            Assert.True(await Procs.Eventually(() => Procs.WithArgv(argv).Count > 0, TimeSpan.FromSeconds(15)),
                $"'{string.Join(' ', argv)}' never started");
            output.WriteLine($"{string.Join(' ', argv)}: {string.Join(", ", Procs.WithArgv(argv))}");
        }
    }

    private static void NoneLeft(params string[][] argvs)
    {
        foreach (var argv in argvs)
            Assert.True(Procs.WithArgv(argv).Count == 0, $"'{string.Join(' ', argv)}' outlived its check: PIDs {string.Join(',', Procs.WithArgv(argv))}");
    }

    private static async Task NoneLeftSoon(params string[][] argvs)
    {
        foreach (var argv in argvs)
            Assert.True(await Procs.Eventually(() => Procs.WithArgv(argv).Count == 0, TimeSpan.FromSeconds(5)),
                $"'{string.Join(' ', argv)}' outlived its check: PIDs {string.Join(',', Procs.WithArgv(argv))}");
        await NoZombies();
    }

    /// <summary>What was killed was reaped too (Vigil runs in this process and is its children's subreaper).</summary>
    private static async Task NoZombies()
    {
        Assert.True(await Procs.Eventually(() => Procs.OurZombies().Count == 0),
            "zombies: " + string.Join(", ", Procs.OurZombies().Select(z => File.ReadAllText($"/proc/{z}/stat").Split(' ')[..8])
                .Select(f => string.Join(' ', f))));
    }

    [Fact]
    public async Task Stopping_the_unit_kills_the_exec_and_progress_probes_in_flight_with_their_setsid_grandchildren()
    {
        var (exec, escaped, waiting, progress) = Sleeps();
        await using var sup = new Supervisor();
        var unit = sup.Start(Fixture.Spec("leaky", "hang").WithProbes(
            Exec(exec),
            ExecWithSetsidGrandchild(escaped[1], waiting[1]),
            new ProbeSpec(new ProgressCheck(new ProgressSource.Exec([.. progress]))) { Timeout = TimeSpan.FromMinutes(5), Period = TimeSpan.FromMinutes(2) }));
        await AllRunning(exec, escaped, waiting, progress);

        await unit.StopAndWaitAsync();
        await NoneLeftSoon(exec, escaped, waiting, progress);
    }

    [Fact]
    public async Task A_check_that_times_out_is_killed_with_its_setsid_grandchild()
    {
        var (_, escaped, waiting, _) = Sleeps();
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        sup.Start(Fixture.Spec("slow", "hang").WithProbes(
            ExecWithSetsidGrandchild(escaped[1], waiting[1]) with { Timeout = TimeSpan.FromSeconds(2), Period = TimeSpan.FromMinutes(10), Action = ProbeAction.Notify }));
        await AllRunning(escaped, waiting);
        var bad = await rec.Event<Unhealthy>();
        Assert.StartsWith("exec check timed out after 2s (killed)", bad.Why);
        await NoneLeftSoon(escaped, waiting);
    }

    [Fact]
    public async Task A_unit_stopped_for_being_unhealthy_leaves_no_probe_running()
    {
        var (exec, escaped, waiting, _) = Sleeps();
        var flag = Path.Combine(_dir.FullName, "fail");
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        sup.Start(Fixture.Spec("unhealthy", "hang").WithProbes(
            Exec(exec),
            ExecWithSetsidGrandchild(escaped[1], waiting[1]),
            Exec("sh", "-c", $"! test -e '{flag}'") with { Name = "flag" })
            with { Restart = RestartSpec.Default with { Policy = RestartPolicyKind.Never } });
        await AllRunning(exec, escaped, waiting);

        File.WriteAllText(flag, ""); // the flag probe fails now; its action (restart) stops the tree, and no restart follows
        var bad = await rec.Event<Unhealthy>();
        Assert.Equal("flag", bad.Probe);
        await rec.Event<Exited>();
        await NoneLeftSoon(exec, escaped, waiting);
    }

    [Fact]
    public async Task Disposing_the_supervisor_kills_probes_and_exec_actions_before_it_returns()
    {
        var (exec, escaped, waiting, action) = Sleeps();
        var sup = new Supervisor();
        await using (sup)
        {
            using var rec = new Recorder(sup);
            sup.Start(Fixture.Spec("shutdown", "hang").WithProbes(
                Exec(exec),
                ExecWithSetsidGrandchild(escaped[1], waiting[1]),
                Exec("false") with { Name = "failing", Action = ProbeAction.Exec, ActionCommand = [.. action], Period = TimeSpan.FromMinutes(10) }));
            await rec.Event<Unhealthy>(u => u.Probe == "failing");
            await AllRunning(exec, escaped, waiting, action);
        }
        // No waiting here: the supervisor's disposal returns only once what its probes and actions started is gone.
        NoneLeft(exec, escaped, waiting, action);
        await NoZombies();
    }

    [Fact]
    public async Task Sigterm_to_the_vigil_executable_mid_check_leaves_no_probe_or_action_process_anywhere()
    {
        var (exec, escaped, waiting, action) = Sleeps();
        File.WriteAllText(Path.Combine(_dir.FullName, "vigil.yaml"), $$"""
            processes:
              - name: probed
                command: ["{{Fixture.Path}}", hang]
                health:
                  - { kind: exec, command: [sleep, "{{exec[1]}}"], period: 100ms, timeout: 60s }
                  - { kind: exec, command: [sh, -c, "setsid sleep {{escaped[1]}} & sleep {{waiting[1]}}"], period: 100ms, timeout: 60s }
                  - { kind: exec, command: ["false"], period: 10m, action: { exec: [sleep, "{{action[1]}}"] }, failureThreshold: 1 }
            """);
        await using var vigil = VigilProcess.Start(_dir.FullName, "run");
        await vigil.WaitLine(l => l.Contains(" probed#") && l.Contains(" spawned: "), "probed spawned");
        await AllRunning(exec, escaped, waiting, action);

        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit());
        NoneLeft(exec, escaped, waiting, action);
        // Nor as zombies: what Vigil killed last it also reaped, instead of leaving its zombies to the next subreaper
        // up (this test process).
        await NoZombies();
    }
}
