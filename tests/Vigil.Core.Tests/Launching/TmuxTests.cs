using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Launching;

/// <summary><c>tmux:</c> units against a real tmux server: what the window shows, what the log captures, stop,
/// restart and the server's end.</summary>
[Collection("processes")]
public sealed class TmuxTests : IDisposable
{
    // The runtime folder of these tests: private (0700) as Vigil's own, with a short path (a socket's is at most 107 bytes).
    private readonly string _dir = Directory.CreateTempSubdirectory("vtmux-").FullName;
    private readonly string _session = "t" + Random.Shared.Next(100_000, 999_999).ToString(System.Globalization.CultureInfo.InvariantCulture);
    private string Socket => Path.Combine(_dir, "tmux.sock");

    public void Dispose()
    {
        Tmux("kill-server"); // only if a test failed before its supervisor killed it
        Directory.Delete(_dir, recursive: true);
    }

    private (int Code, string Out) Tmux(params string[] args) => TmuxClient.Run(Socket, args);

    private Supervisor NewSupervisor() => new(new SupervisorOptions { TmuxSocket = Socket });

    [Fact]
    public async Task The_window_shows_what_the_log_captures_and_a_stop_ends_the_window_and_shutdown_the_server()
    {
        int serverPid;
        await using (var sup = NewSupervisor())
        {
            using var rec = new Recorder(sup);
            var unit = sup.Start(new ProcessSpec
            {
                Name = "tm", Command = ["sh", "-c", "for i in 1 2 3; do echo \"line $i\"; done; echo oops >&2; test -t 1 && echo READY; exec sleep 600"],
                Tmux = new TmuxSpec(_session),
            });
            await rec.Line(l => l.Text == "READY", "READY from the pane (a terminal)");
            var lines = rec.Lines.Where(l => l.UnitId == unit.Id).Select(l => l.Text).ToList();
            Assert.Equal(["line 1", "line 2", "line 3", "oops", "READY"], lines);

            var (code, pane) = Tmux("capture-pane", "-p", "-t", "=" + _session + ":=tm");
            Assert.Equal(0, code);
            var shown = pane.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();
            Assert.Equal(lines, shown);
            Assert.Equal(unit.Pid.ToString(), Tmux("display-message", "-p", "-t", "=" + _session + ":=tm", "#{pane_pid}").Out.Trim());
            serverPid = int.Parse(Tmux("display-message", "-p", "#{pid}").Out.Trim());

            var pid = unit.Pid!.Value;
            var stop = await unit.StopAndWaitAsync();
            Assert.True(stop.Clean);
            Assert.False(Procs.Alive(pid));
            // tmux reaped it, not Vigil: the status comes from the kernel (see ExitFromKernel).
            Assert.Equal(15, stop.Exit?.Signal);
            // Its window went with it, and with the session's only window the session.
            Assert.True(await Procs.Eventually(() => Tmux("has-session", "-t", "=" + _session).Code != 0, TimeSpan.FromSeconds(10)), "the session outlived its only unit");
            Assert.True(Procs.Alive(serverPid), "the server must stay up while Vigil runs");
        }
        // Vigil's end kills its server: no tmux process is left.
        // Not even a zombie: the server was Vigil's child (reparented to the subreaper), and Vigil reaped it.
        Assert.True(await Procs.Eventually(() => !Directory.Exists($"/proc/{serverPid}"), TimeSpan.FromSeconds(10)), "the tmux server outlived Vigil (or was left a zombie)");
        Assert.NotEqual(0, Tmux("list-sessions").Code);
    }

    [Fact]
    public async Task The_exit_code_comes_from_the_dead_pane_and_each_run_gets_a_new_window()
    {
        await using var sup = NewSupervisor();
        using var rec = new Recorder(sup);
        sup.Start(new ProcessSpec
        {
            Name = "crashy", Command = ["sh", "-c", "echo \"run $$\"; exit 3"], Tmux = new TmuxSpec(_session),
            Restart = RestartSpec.Default with { Schedule = [TimeSpan.FromMilliseconds(50)] },
        });
        // Six runs: every one's code, also when tmux 3.3 misses the pane's SIGCHLD and shows a dead pane with no status
        // (1 pane in 30 with tmux alone; 1 run in 8 of this test before the status came from the kernel).
        var exits = await rec.Count<Exited>(6, timeout: TimeSpan.FromSeconds(60));
        Assert.All(exits.Take(6), e => Assert.Equal(3, e.Status.Code));
        Assert.Equal(6, exits.Take(6).Select(e => e.Pid).Distinct().Count());
        var runs = await rec.WaitFor((_, lines) => lines.Count(l => l.Text.StartsWith("run ")) >= 2 ? lines : null, "two runs' lines");
        Assert.Equal($"run {exits[0].Pid}", runs.First(l => l.Text.StartsWith("run ")).Text);
    }

    [Fact]
    public async Task Two_units_share_a_session_each_in_its_own_window()
    {
        await using var sup = NewSupervisor();
        using var rec = new Recorder(sup);
        var a = sup.Start(new ProcessSpec { Name = "a", Command = ["sh", "-c", "echo A-UP; exec sleep 600"], Tmux = new TmuxSpec(_session) });
        var b = sup.Start(new ProcessSpec { Name = "b", Command = ["sh", "-c", "echo B-UP; exec sleep 600"], Tmux = new TmuxSpec(_session) });
        await rec.Line(l => l.Text == "A-UP", "A-UP");
        await rec.Line(l => l.Text == "B-UP", "B-UP");
        var windows = Tmux("list-windows", "-t", "=" + _session, "-F", "#{window_name} #{pane_pid}").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order().ToList();
        Assert.Equal([$"a {a.Pid}", $"b {b.Pid}"], windows);
        Assert.All(rec.Lines.Where(l => l.Text == "A-UP"), l => Assert.Equal(a.Id, l.UnitId));
    }

    [Fact]
    public async Task An_output_stall_probe_restarts_a_hung_tmux_unit_in_a_new_window()
    {
        await using var sup = NewSupervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(new ProcessSpec
        {
            Name = "hangs", Command = ["sh", "-c", "echo \"up $$\"; exec sleep 600"], Tmux = new TmuxSpec(_session),
            Restart = RestartSpec.Default with { Schedule = [TimeSpan.FromMilliseconds(50)] },
            Health = [new ProbeSpec(new OutputStallCheck()) { Timeout = TimeSpan.FromSeconds(1), Period = TimeSpan.FromMilliseconds(200) }],
        });
        var first = await rec.Line(l => l.Text.StartsWith("up "), "the first run's line");
        var bad = await rec.Event<Unhealthy>();
        Assert.Equal(first.Pid, bad.Pid);
        var exited = await rec.Event<Exited>(e => e.Pid == first.Pid);
        Assert.Equal(15, exited.Status.Signal); // the stop signal
        var second = await rec.Line(l => l.Text.StartsWith("up ") && l.Pid != first.Pid, "the second run's line");
        Assert.Equal($"up {second.Pid}", second.Text);
        Assert.False(Procs.Alive(first.Pid));
        Assert.Equal($"hangs {second.Pid}", Tmux("list-windows", "-t", "=" + _session, "-F", "#{window_name} #{pane_pid}").Out.Trim());
    }

    [Fact]
    public async Task Every_line_of_a_flood_reaches_the_log_through_pipe_pane()
    {
        await using var sup = NewSupervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(new ProcessSpec
        {
            Name = "flood", Command = ["sh", "-c", "seq 1 20000; echo DONE"], Tmux = new TmuxSpec(_session),
            Restart = RestartSpec.Default with { Schedule = [] },
        });
        await rec.Event<NotRestarting>();
        await unit.OutputClosed.WaitAsync(TimeSpan.FromSeconds(60));
        var lines = rec.Lines.Where(l => l.UnitId == unit.Id).Select(l => l.Text).ToList();
        Assert.Equal([.. Enumerable.Range(1, 20000).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), "DONE"], lines);
    }
}
