using Vigil.Launching;
using Vigil.Logs;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Launching;

/// <summary>Real spawns on a pseudo-terminal (<c>tty:</c>): what the child sees, and what reaches its log.</summary>
[Collection("processes")]
public sealed class TtyTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-tty-");
    public void Dispose() => _dir.Delete(recursive: true);

    private static ProcessSpec Sh(string name, string script, TerminalSpec? tty) =>
        new() { Name = name, Command = ["sh", "-c", script], Tty = tty, Restart = RestartSpec.Default with { Schedule = [] } };

    /// <summary>Runs the spec until it exits and its output is read to the end; returns its lines.</summary>
    private static async Task<(List<OutputLine> Lines, Exited Exit)> RunToExit(ProcessSpec spec)
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(spec);
        var exit = await rec.Event<Exited>();
        await rec.Event<NotRestarting>();
        await unit.OutputClosed.WaitAsync(TimeSpan.FromSeconds(20));
        await Procs.Eventually(() => rec.Lines.Count > 0, TimeSpan.FromSeconds(5));
        return (rec.Lines.ToList(), exit);
    }

    private static int PtyMasters() =>
        Directory.GetFiles("/proc/self/fd").Count(fd => { try { return File.ResolveLinkTarget(fd, false)?.FullName.EndsWith("/ptmx", StringComparison.Ordinal) == true; } catch (IOException) { return false; } });

    [Fact]
    public async Task A_tty_unit_has_the_terminal_on_every_stream_and_as_its_controlling_terminal()
    {
        // /dev/tty opens only for a process with a controlling terminal; tty_nr (field 7 of /proc/PID/stat) is 0 without one.
        // TERM removed from the environment: the unit gets the default one.
        var (lines, exit) = await RunToExit(Sh("tty", """
            test -t 0 && test -t 1 && test -t 2 && echo ALL-TTY
            echo via-dev-tty > /dev/tty
            echo "tty_nr=$(cut -d' ' -f7 /proc/$$/stat)"
            echo "session=$(cut -d' ' -f6 /proc/$$/stat) pid=$$"
            echo "size=$(stty size)"
            echo "term=$TERM"
            """, TerminalSpec.Default) with { Env = System.Collections.Immutable.ImmutableDictionary<string, string?>.Empty.Add("TERM", null) });
        Assert.Equal(0, exit.Status.Code);
        var text = lines.Select(l => l.Text).ToList();
        Assert.Contains("ALL-TTY", text);
        Assert.Contains("via-dev-tty", text);
        Assert.NotEqual("tty_nr=0", Assert.Single(text, t => t.StartsWith("tty_nr=")));
        var session = Assert.Single(text, t => t.StartsWith("session="));
        Assert.Equal(session.Split(' ')[0]["session=".Length..], session.Split(' ')[1]["pid=".Length..]); // the session leader
        Assert.Contains("size=24 80", text);
        Assert.Contains("term=" + Pty.DefaultTerm, text);
    }

    [Fact]
    public async Task Stderr_arrives_merged_as_stdout_lines_without_carriage_returns()
    {
        var (lines, _) = await RunToExit(Sh("merged", "echo one; echo two >&2; printf 'three\\r\\n'; printf 'four'", TerminalSpec.Default));
        Assert.Equal(["one", "two", "three", "four"], lines.Select(l => l.Text));
        Assert.All(lines, l => Assert.Equal(StreamKind.Stdout, l.Stream));
    }

    [Fact]
    public async Task The_terminal_size_is_the_one_configured_and_the_environment_term_wins()
    {
        var spec = Sh("size", "echo \"size=$(stty size) term=$TERM\"", new TerminalSpec { Columns = 132, Rows = 50 }) with
        {
            Env = System.Collections.Immutable.ImmutableDictionary<string, string?>.Empty.Add("TERM", "vt100"),
        };
        var (lines, _) = await RunToExit(spec);
        Assert.Contains("size=50 132 term=vt100", lines.Select(l => l.Text));
    }

    [Fact]
    public async Task Ls_colours_on_the_terminal_and_not_on_a_pipe()
    {
        Directory.CreateDirectory(Path.Combine(_dir.FullName, "subfolder"));
        var script = $"ls --color=auto {_dir.FullName}";
        var (onTty, _) = await RunToExit(Sh("ls-tty", script, TerminalSpec.Default) with { Env = System.Collections.Immutable.ImmutableDictionary<string, string?>.Empty.Add("TERM", "xterm") });
        var (onPipe, _) = await RunToExit(Sh("ls-pipe", script, null) with { Env = System.Collections.Immutable.ImmutableDictionary<string, string?>.Empty.Add("TERM", "xterm") });
        Assert.Contains(onTty, l => l.Text.Contains("\u001b[") && l.Text.Contains("subfolder"));
        Assert.Equal(["subfolder"], onPipe.Select(l => l.Text));
    }

    [Fact]
    public async Task Python_line_buffers_on_the_terminal_so_a_line_arrives_while_it_runs_and_stop_closes_the_master()
    {
        int mastersBefore = PtyMasters();
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // On a pipe python buffers its stdout by block: "started" would only come at exit.
        var unit = sup.Start(new ProcessSpec { Name = "py", Command = ["python3", "-c", "import time\nprint('started')\ntime.sleep(600)"], Tty = TerminalSpec.Default });
        await rec.Line(l => l.Text == "started", "python's first line while it runs");
        Assert.Equal(UnitState.Running, unit.State);
        Assert.Equal(mastersBefore + 1, PtyMasters());
        var pid = unit.Pid!.Value;
        var stop = await unit.StopAndWaitAsync();
        Assert.True(stop.Clean);
        Assert.False(Procs.Alive(pid));
        await unit.OutputClosed.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(await Procs.Eventually(() => PtyMasters() == mastersBefore, TimeSpan.FromSeconds(10)), "the terminal's master is still open after the stop");
    }

    [Fact]
    public async Task A_tty_unit_is_restarted_on_a_fresh_terminal()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        sup.Start(new ProcessSpec
        {
            Name = "again", Command = ["sh", "-c", "echo \"run on $(tty)\"; exit 3"], Tty = TerminalSpec.Default,
            Restart = RestartSpec.Default with { Schedule = [TimeSpan.FromMilliseconds(50)] },
        });
        await rec.Count<Spawned>(3);
        var runs = await rec.WaitFor((_, lines) => lines.Count(l => l.Text.StartsWith("run on /dev/pts/")) >= 2 ? lines : null, "two runs' lines");
        Assert.All(runs.Where(l => l.Text.StartsWith("run on")), l => Assert.StartsWith("run on /dev/pts/", l.Text));
        var exits = rec.Events.OfType<Exited>().ToList();
        Assert.All(exits, e => Assert.Equal(3, e.Status.Code));
    }
}
