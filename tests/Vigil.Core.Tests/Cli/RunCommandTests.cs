using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>The real `vigil run` executable against real fixture children.</summary>
[Collection("processes")]
public sealed class RunCommandTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-cli-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Theory]
    [InlineData(15)] // SIGTERM
    [InlineData(2)]  // SIGINT (SIGHUP reloads: ReloadTests)
    public async Task Run_prints_lifecycle_events_and_stops_everything_on_a_signal(int signal)
    {
        var f = Fixture.Path;
        Write("vigil.yaml", $$"""
            processes:
              - name: steady
                command: ["{{f}}", grandchild, marker, up, hang]
              - name: stubborn
                command: ["{{f}}", ignore-term, marker, up, hang]
                stop: { timeout: 1s }
              - name: crasher
                command: ["{{f}}", exit, "3"]
                restart: { schedule: [200ms, 10s] }
            """);
        await using var vigil = VigilProcess.Start(_dir.FullName, "run"); // default file: vigil.yaml in the current folder
        var steady = await vigil.WaitLine(l => l.Contains(" steady#") && l.Contains(" spawned: "), "steady spawned");
        await vigil.WaitLine(l => l.Contains(" stubborn#") && l.Contains(" spawned: "), "stubborn spawned");
        await vigil.WaitLine(l => l.Contains(" crasher#") && l.Contains("exited: exited with code 3"), "crasher exit");
        await vigil.WaitLine(l => l.Contains(" crasher backoff: restarting in 200ms"), "first backoff");
        await vigil.WaitLine(l => l.Contains(" crasher backoff: restarting in 10s"), "second backoff");
        int steadyPid = Procs.ParsePid(steady, "steady#");
        // The grandchild of 'steady' is in its session: find it, it must be gone after the stop too.
        Assert.True(await Procs.Eventually(() => Vigil.Launching.ProcFs.All().Any(p => p.Session == steadyPid && p.Pid != steadyPid)));
        var tree = Vigil.Launching.ProcFs.All().Where(p => p.Session == steadyPid).Select(p => p.Pid).ToList();

        vigil.Signal(signal);
        Assert.Equal(0, await vigil.WaitExit());
        var output = string.Join('\n', vigil.Out);
        Assert.Contains("stop-escalated", output);          // stubborn needed SIGKILL
        Assert.Contains("killed by SIGKILL", output);
        Assert.Contains("vigil: all stopped", output);
        Assert.Contains(vigil.Out, l => l.Contains(" crasher stopped: "));
        Assert.All(tree, pid => Assert.False(Procs.Alive(pid), $"pid {pid} of steady's tree survived"));
        Assert.Empty(vigil.Err);
    }

    [Fact]
    [Trait("Category", VigilProcess.Smoke)]
    public async Task Invalid_config_exits_2_with_positions_and_starts_nothing()
    {
        var marker = Path.Combine(_dir.FullName, "started");
        var path = Write("bad.yaml", $"""
            processes:
              - name: fine
                command: [sh, -c, "touch {marker}; sleep 30"]
              - name: broken
                comand: [sleep, "1"]
                restart:
                  policy: sometimes
                  resetAfter: soon
            """);
        await using var vigil = VigilProcess.Start(_dir.FullName, "run", "-c", "bad.yaml");
        Assert.Equal(2, await vigil.WaitExit());
        var err = string.Join('\n', vigil.Err);
        Assert.Contains("bad.yaml:5:5: processes[1].comand: unknown key; did you mean 'command'?", err);
        Assert.Contains("bad.yaml:7:7: processes[1].restart.policy: expected always, on-failure or never, got 'sometimes'", err);
        Assert.Contains("bad.yaml:8:7: processes[1].restart.resetAfter:", err);
        Assert.Contains("nothing was started", err);
        Assert.False(File.Exists(marker), "a process was started from an invalid config");
        Assert.DoesNotContain(vigil.Out, l => l.Contains("spawned"));
    }

    [Fact]
    [Trait("Category", VigilProcess.Smoke)]
    public async Task Missing_config_file_and_bad_usage_exit_2()
    {
        await using (var vigil = VigilProcess.Start(_dir.FullName, "run", "-c", "nope.yaml"))
        {
            Assert.Equal(2, await vigil.WaitExit());
            Assert.Contains(vigil.Err, l => l.Contains("nope.yaml") && l.Contains("does not exist"));
        }
        await using (var vigil = VigilProcess.Start(_dir.FullName, "run", "--confg", "x"))
        {
            Assert.Equal(2, await vigil.WaitExit());
            Assert.Contains(vigil.Err, l => l.Contains("unknown option '--confg'; did you mean '--config'?"));
        }
    }

    [Theory]
    [InlineData("run", "--help", "vigil run [<FILE>] [options]")]
    [InlineData("demo", "-h", "vigil demo [options]")]
    [InlineData("ls", "--help", "vigil ls [options]")]
    public async Task A_command_s_help_prints_its_own_usage_and_starts_nothing(string command, string flag, string usage)
    {
        Write("vigil.yaml", "processes:\n  - { name: x, command: [sleep, \"30\"] }\n");
        await using var vigil = VigilProcess.Start(_dir.FullName, command, flag);
        Assert.Equal(0, await vigil.WaitExit());
        Assert.Contains(vigil.Out, l => l.Contains(usage));
        Assert.DoesNotContain(vigil.Out, l => l.Contains("spawned"));
    }

    [Fact]
    public async Task Detached_child_survives_vigil_exit_and_others_do_not()
    {
        var f = Fixture.Path;
        Write("vigil.yaml", $"""
            processes:
              - name: keeper
                command: ["{f}", hang]
                detach: true
              - name: normal
                command: ["{f}", hang]
            """);
        await using var vigil = VigilProcess.Start(_dir.FullName, "run");
        var keeper = Procs.ParsePid(await vigil.WaitLine(l => l.Contains(" keeper#") && l.Contains("spawned"), "keeper"), "keeper#");
        var normal = Procs.ParsePid(await vigil.WaitLine(l => l.Contains(" normal#") && l.Contains("spawned"), "normal"), "normal#");
        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit());
        Assert.Contains(vigil.Out, l => l.Contains($"keeper#{keeper} is detached and keeps running"));
        try
        {
            Assert.True(Procs.Alive(keeper), "detached child died with vigil");
            Assert.False(Procs.Alive(normal));
        }
        finally
        {
            Vigil.Launching.ProcessIdentity.Of(keeper)?.Signal(9);
        }
    }

    [Fact]
    [Trait("Category", VigilProcess.Smoke)]
    public async Task Demo_runs_a_healthy_process_shows_the_crasher_backoff_and_restarts_the_hung_process()
    {
        await using var vigil = VigilProcess.Start(_dir.FullName, "demo", "--for", "7s", "--status-every", "1s");
        Assert.Equal(0, await vigil.WaitExit(TimeSpan.FromSeconds(60)));
        var output = string.Join('\n', vigil.Out);
        Assert.Contains("healthy | tick 2", output);
        Assert.Contains("crasher backoff: restarting in 100ms", output);
        Assert.Contains("crasher backoff: restarting in 500ms", output);
        Assert.Contains("exited with code 3", output);
        Assert.Contains("NAME", output);
        Assert.Contains("vigil: all stopped", output);
        // The hanger works for 3 s, goes silent, and is found by its output-stall probe and restarted.
        Assert.Contains("hanger | now hung (alive, but silent)", output);
        Assert.Matches(@"hanger#\d+ unhealthy: hung: no output for 2(\.\d+)?s \(output-stall probe", output);
        Assert.Matches(@"hanger#\d+ killed: killed by SIGTERM after .* \(unhealthy: hung: no output", output);
        Assert.Contains("hanger backoff: restarting in 1s", output);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task On_a_terminal_each_unit_s_output_prefix_has_its_own_colour_unless_NO_COLOR(bool noColor)
    {
        // util-linux `script` gives vigil a real pseudo-terminal as its stdout.
        var f = Fixture.Path;
        Write("vigil.yaml", $$"""
            processes:
              - { name: alpha, command: ["{{f}}", print, alpha-line, marker, a, hang] }
              - { name: beta, command: ["{{f}}", print, beta-line, marker, b, hang] }
            """);
        var env = new Dictionary<string, string?> { ["NO_COLOR"] = noColor ? "1" : null };
        await using var vigil = VigilProcess.StartOnTerminal(_dir.FullName, env, "run", "--attach-output");
        // A terminal turns \n into \r\n; the spawned lines also name alpha-line, but do not end with it. .NET's console
        // puts the terminal in keypad-transmit mode (ESC[?1h ESC=) before its first write: on whichever line comes first.
        static string Clean(string l) => l.TrimEnd('\r').Replace("\e[?1h\e=", "");
        var alpha = Clean(await vigil.WaitLine(l => l.TrimEnd('\r').EndsWith("alpha-line"), "alpha's line"));
        var beta = Clean(await vigil.WaitLine(l => l.TrimEnd('\r').EndsWith("beta-line"), "beta's line"));
        if (noColor)
        {
            Assert.Equal("alpha | alpha-line", alpha);
        }
        else
        {
            var a = System.Text.RegularExpressions.Regex.Match(alpha, @"(\e\[\d+m)alpha \|\e\[0m alpha-line");
            var b = System.Text.RegularExpressions.Regex.Match(beta, @"(\e\[\d+m)beta \|\e\[0m beta-line");
            Assert.True(a.Success, alpha);
            Assert.True(b.Success, beta);
            Assert.NotEqual(a.Groups[1].Value, b.Groups[1].Value);
        }
        // Stop vigil itself (the child of `script`), the way Ctrl-C would.
        var inner = Vigil.Launching.ProcFs.All().First(p => p.ParentPid == vigil.Pid);
        Assert.Equal(0, Kill(inner.Pid, 15));
        Assert.Equal(0, await vigil.WaitExit());
        Assert.Contains(vigil.Out, l => l.Contains("vigil: all stopped"));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int sig);

    [Fact]
    [Trait("Category", VigilProcess.Smoke)]
    public async Task As_PID_1_exit_statuses_stay_exact()
    {
        // In a new PID namespace vigil is PID 1, where the .NET runtime reaps every child and would race Vigil
        // for the exit status; the init shim keeps PID 1 minimal and runs the real vigil as its child.
        Write("vigil.yaml", "processes:\n  - name: c\n    command: [sh, -c, \"exit 3\"]\n    restart: { schedule: [50ms, 50ms, 50ms, 10s] }\n");
        await using var vigil = VigilProcess.StartWrapped(_dir.FullName, ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child=SIGTERM"], "run");
        await vigil.WaitLine(l => l.Contains(" c backoff: restarting in 10s"), "fourth exit");
        var exits = vigil.Out.Where(l => l.Contains(" c#") && l.Contains(" exited: ")).ToList();
        Assert.Equal(4, exits.Count);
        Assert.All(exits, l => Assert.Contains("exited with code 3", l));
        // Its own PID namespace: numbering starts again at 1 (the runtime's threads take the first few dozen).
        Assert.True(Procs.ParsePid(exits[0], " c#") < 200, exits[0]);
        // unshare ignores SIGTERM while it waits: signal its child, the shim (PID 1 inside), which forwards it.
        var shim = Vigil.Launching.ProcFs.All().Single(p => p.ParentPid == vigil.Pid).Pid;
        Assert.True(Vigil.Launching.ProcessIdentity.Of(shim)!.Value.Signal(15));
        await vigil.WaitLine(l => l == "vigil: all stopped", "clean stop");
        Assert.Equal(0, await vigil.WaitExit()); // the inner vigil's 0, passed on by the shim and by unshare
    }
}
