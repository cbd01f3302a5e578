using Vigil.Launching;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>The real `vigil run`: its own death loses and duplicates nothing, one instance per config, no signal
/// kills it without stopping its children, no litter, and running out of file descriptors degrades instead of crashing.</summary>
[Collection("processes")]
public sealed class SurvivalTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-survive-");
    private readonly string _token = "7781" + Random.Shared.Next(100, 999);

    public void Dispose()
    {
        foreach (var pid in Procs.WithArg(_token)) Kill(pid);
        _dir.Delete(recursive: true);
    }

    private static void Kill(int pid) => ProcessIdentity.Of(pid)?.Signal(Signals.SIGKILL);

    private string Write(string text)
    {
        var path = Path.Combine(_dir.FullName, "vigil.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    private string TwoUnits() => Write($$"""
        processes:
          - name: web
            command: [sh, -c, "setsid -f sleep {{_token}}; exec sleep {{_token}}"]
          - name: worker
            command: [sleep, "{{_token}}"]
        """);

    [Fact]
    public async Task A_SIGKILLed_vigil_leaves_nothing_duplicated_the_next_one_stops_its_leftovers_first()
    {
        TwoUnits();
        var first = VigilProcess.Start(_dir.FullName, "run");
        await first.WaitLine(l => l.Contains(" web#") && l.Contains(" spawned: "), "web spawned");
        await first.WaitLine(l => l.Contains(" worker#") && l.Contains(" spawned: "), "worker spawned");
        Assert.True(await Procs.Eventually(() => Procs.WithArg(_token).Count == 3));
        var orphans = Procs.WithArg(_token);
        int firstPid = first.Pid;
        first.Signal(Signals.SIGKILL);
        await first.WaitExit();
        await first.DisposeAsync();
        Assert.Equal(orphans.Order(), Procs.WithArg(_token).Order()); // a killed Vigil cannot stop its children

        await using var second = VigilProcess.Start(_dir.FullName, "run");
        var web = await second.WaitLine(l => l.Contains(" web previous-run-leftovers: "), "web leftovers event");
        var worker = await second.WaitLine(l => l.Contains(" worker previous-run-leftovers: "), "worker leftovers event");
        Assert.Contains($"left by vigil#{firstPid}", web);
        Assert.Contains("stopped 2 process(es)", web);
        Assert.Contains("stopped 1 process(es)", worker);
        await second.WaitLine(l => l.Contains(" web#") && l.Contains(" spawned: "), "web spawned again");
        await second.WaitLine(l => l.Contains(" worker#") && l.Contains(" spawned: "), "worker spawned again");
        // The leftovers event comes before anything starts; the old processes are gone, and exactly one new set runs.
        var lines = second.Out.ToList();
        Assert.True(lines.FindIndex(l => l.Contains("previous-run-leftovers")) < lines.FindIndex(l => l.Contains(" spawned: ")));
        Assert.All(orphans, pid => Assert.False(Procs.Alive(pid), $"{pid} of the killed vigil still runs"));
        Assert.True(await Procs.Eventually(() => Procs.WithArg(_token).Count == 3));
        await Task.Delay(TimeSpan.FromMilliseconds(300), TimeProvider.System); // would a duplicate set appear?
        Assert.Equal(3, Procs.WithArg(_token).Count);

        second.Signal(Signals.SIGTERM);
        Assert.Equal(0, await second.WaitExit());
        Assert.Empty(await Procs.LeftWithArg(_token));
    }

    [Fact]
    public async Task A_second_vigil_of_the_same_config_exits_2_at_once_and_the_first_is_not_disturbed()
    {
        var config = TwoUnits();
        await using var first = VigilProcess.Start(_dir.FullName, "run");
        var spawned = await first.WaitLine(l => l.Contains(" worker#") && l.Contains(" spawned: "), "worker spawned");
        int workerPid = Procs.ParsePid(spawned, "worker#");

        await using var second = VigilProcess.Start(_dir.FullName, "run", "-c", config);
        Assert.Equal(2, await second.WaitExit(TimeSpan.FromSeconds(20)));
        var err = string.Join('\n', second.Err);
        Assert.Contains($"vigil: already running for {config} as PID {first.Pid} (lock ", err);
        Assert.DoesNotContain(second.Out, l => l.Contains("spawned"));
        Assert.True(Procs.Alive(workerPid), "the first vigil's child was disturbed");
        Assert.DoesNotContain(first.Out, l => l.Contains("stop-requested"));

        first.Signal(Signals.SIGTERM);
        Assert.Equal(0, await first.WaitExit());
        Assert.Empty(await Procs.LeftWithArg(_token));
    }

    [Fact]
    public async Task No_signal_with_a_terminating_default_kills_vigil_and_it_leaves_no_litter_in_tmp()
    {
        Write($$"""
            processes:
              - name: worker
                command: [sleep, "{{_token}}"]
            """);
        var tmp = Directory.CreateDirectory(Path.Combine(_dir.FullName, "tmp")).FullName;
        await using var vigil = VigilProcess.StartWith(_dir.FullName, new Dictionary<string, string?> { ["TMPDIR"] = tmp }, "run");
        var spawned = await vigil.WaitLine(l => l.Contains(" worker#") && l.Contains(" spawned: "), "worker spawned");
        int pid = Procs.ParsePid(spawned, "worker#");
        // The runtime's diagnostic socket and debugger FIFOs are gone by the time the first child runs.
        Assert.Empty(Directory.GetFileSystemEntries(tmp));
        int[] signals = [10, 12, 13, 14, 26, 27, 29, 30, 24, 25, 5]; // USR1 USR2 PIPE ALRM VTALRM PROF IO PWR XCPU XFSZ TRAP
        foreach (var sig in signals)
        {
            vigil.Signal(sig);
            if (sig == 10) await vigil.WaitLine(l => l.StartsWith("NAME ") && l.Contains("STATE"), "the status table on SIGUSR1");
        }
        // Vigil is a live process still supervising the same child (a signal that killed it would have ended it).
        vigil.Signal(10);
        await vigil.WaitLine(l => l.StartsWith("worker ") && l.Contains("running") && l.Contains(pid.ToString()), "a second status table");
        Assert.True(Procs.Alive(pid));
        Assert.True(Procs.Alive(vigil.Pid));
        vigil.Signal(Signals.SIGKILL);
        await vigil.WaitExit();
        Assert.Empty(Directory.GetFileSystemEntries(tmp)); // even killed, nothing left in its TMPDIR
        foreach (var p in Procs.WithArg(_token)) Kill(p);
    }

    [Fact]
    public async Task Out_of_file_descriptors_spawns_fail_with_the_cause_vigil_keeps_running_and_stops_cleanly()
    {
        var units = string.Join('\n', Enumerable.Range(0, 100).Select(i =>
            $"  - {{ name: u{i}, command: [sleep, \"{_token}\"], restart: {{ schedule: [300ms] }} }}"));
        Write("processes:\n" + units + "\n");
        // Both limits at 256 (what `ulimit -n 256` does): Vigil cannot raise its own, and 100 units need more.
        await using var vigil = VigilProcess.StartWrapped(_dir.FullName, ["sh", "-c", "ulimit -n 256 && exec \"$@\"", "sh"], "run");
        var failed = await vigil.WaitLine(l => l.Contains(" spawn-failed: "), "a spawn failure");
        Assert.Contains("too many open files (limit 256)", failed);
        await vigil.WaitLine(l => l.Contains(" backoff: restarting in 300ms"), "the restart policy retrying");
        var running = Procs.WithArg(_token).Count;
        Assert.InRange(running, 1, 99);
        Assert.True(Procs.Alive(vigil.Pid));
        vigil.Signal(Signals.SIGTERM);
        Assert.Equal(0, await vigil.WaitExit());
        Assert.Contains(vigil.Out, l => l == "vigil: all stopped");
        Assert.DoesNotContain(vigil.Err, l => l.Contains("Unhandled exception"));
        Assert.Empty(await Procs.LeftWithArg(_token));
    }

    [Fact]
    public async Task Vigil_raises_its_own_open_file_limit_and_gives_children_systemds_1024()
    {
        Write($$"""
            processes:
              - name: limits
                command: [sh, -c, "echo soft=$(ulimit -Sn); exec sleep {{_token}}"]
            """);
        await using var vigil = VigilProcess.StartWrapped(_dir.FullName, ["sh", "-c", "ulimit -Sn 1000 && ulimit -Hn 4096 && exec \"$@\"", "sh"], "run");
        await vigil.WaitLine(l => l.Contains(" limits#") && l.Contains(" spawned: "), "spawned");
        var log = await Procs.Eventually(() => Procs.WithArg(_token).Count == 1);
        Assert.True(log);
        var own = File.ReadLines($"/proc/{vigil.Pid}/limits").First(l => l.StartsWith("Max open files"));
        Assert.Matches(@"Max open files\s+4096\s+4096", own);
        var child = Procs.WithArg(_token)[0];
        var theirs = File.ReadLines($"/proc/{child}/limits").First(l => l.StartsWith("Max open files"));
        Assert.Matches(@"Max open files\s+1024\s+4096", theirs);
        vigil.Signal(Signals.SIGTERM);
        Assert.Equal(0, await vigil.WaitExit());
    }

    [Fact]
    public async Task A_60_day_restart_delay_is_accepted_and_shutdown_still_ends()
    {
        Write("""
            processes:
              - name: once
                command: [sh, -c, "exit 1"]
                restart: { schedule: [1440h] }
                stop: { timeout: 1s, killWait: 1s }
            """);
        await using var vigil = VigilProcess.Start(_dir.FullName, "run");
        await vigil.WaitLine(l => l.Contains(" once backoff: restarting in "), "the 60-day backoff");
        vigil.Signal(Signals.SIGTERM);
        Assert.Equal(0, await vigil.WaitExit(TimeSpan.FromSeconds(20)));
        Assert.DoesNotContain(vigil.Err, l => l.Contains("Exception") || l.Contains("not in the table"));
    }
}
