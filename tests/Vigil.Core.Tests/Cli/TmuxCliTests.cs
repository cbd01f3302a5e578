using Vigil.Launching;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>The real <c>vigil run</c> with a <c>tmux:</c> unit: <c>vigil attach</c>, and what a SIGKILL of Vigil leaves
/// (the next Vigil of the config stops it).</summary>
[Collection("processes")]
public sealed class TmuxCliTests : HarnessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private static (int Code, string Out) Tmux(string socket, params string[] args) => TmuxClient.Run(socket, args);

    [Fact]
    public async Task Attach_names_the_window_and_a_killed_vigils_tmux_server_and_panes_are_stopped_by_the_next()
    {
        H.Write("vigil.yaml", $$"""
            processes:
              - { name: tm, command: [sh, -c, "echo IN-TMUX; exec sleep {{H.Token}}"], tmux: { session: ops } }
            """);
        var first = H.Start("run");
        await first.WaitLine(l => l.Contains(" tm#") && l.Contains(" spawned: "), "tm spawned", Wait);
        var (code, printed, err) = await H.Cli("attach", "tm", "--print");
        Assert.True(code == 0, err);
        var argv = printed.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("tmux", argv[0]);
        Assert.Equal(["attach-session", "-t", "=ops:=tm"], argv[3..]);
        var socket = argv[2];
        Assert.StartsWith(H.Path("vigil") + "/", socket); // in Vigil's runtime folder ($XDG_RUNTIME_DIR/vigil)
        // What `vigil attach` would show: the unit's window, live.
        Assert.True(await Procs.Eventually(() => Tmux(socket, "capture-pane", "-p", "-t", "=ops:=tm").Out.Contains("IN-TMUX"), Wait), "the window does not show the unit");
        // Without TERM (CI runs with none) tmux could not draw: vigil says so instead of running it.
        var (noTermCode, _, noTermErr) = await H.CliWith(new Dictionary<string, string?> { ["TERM"] = null }, "attach", "tm");
        Assert.Equal(1, noTermCode);
        Assert.Contains("attach needs a terminal, and TERM is not set", noTermErr);
        // The real thing, on a terminal (which sets TERM): vigil becomes a tmux client of the unit's session, on its window.
        await using (var attach = VigilProcess.StartOnTerminal(H.Dir.FullName, new Dictionary<string, string?> { ["TERM"] = "xterm-256color" }, "attach", "tm"))
        {
            Assert.True(await Procs.Eventually(() => Tmux(socket, "list-clients", "-F", "#{session_name} #{window_name}").Out.Trim() == "ops tm", Wait),
                "vigil attach did not become a tmux client on the unit's window");
        }
        Assert.True(await Procs.Eventually(() => Tmux(socket, "list-clients").Out.Trim().Length == 0, Wait), "the client stayed after its terminal closed");
        var (noTmuxCode, _, noTmuxErr) = await H.Cli("attach", "nope");
        Assert.Equal(4, noTmuxCode);
        Assert.Contains("nope", noTmuxErr);

        var unitPid = (await H.Pids())["tm"]!.Value;
        var serverPid = int.Parse(Tmux(socket, "display-message", "-p", "#{pid}").Out.Trim());

        // Vigil dies without a word: its tmux server and the unit in it are left running...
        first.Signal(Signals.SIGKILL);
        await first.WaitExit(Wait);
        Assert.True(Procs.Alive(unitPid) && Procs.Alive(serverPid));

        // ...and the next Vigil of the config stops them before it starts the unit again (in a new server).
        var second = H.Start("run");
        await second.WaitLine(l => l.Contains(" tm#") && l.Contains(" spawned: "), "tm spawned again", Wait);
        Assert.True(await Procs.Eventually(() => !Procs.Alive(unitPid) && !Procs.Alive(serverPid), Wait), "the previous Vigil's tmux server or unit still runs");
        Assert.Single(Procs.WithArgv("sleep", H.Token));

        second.Signal(Signals.SIGTERM);
        Assert.Equal(0, await second.WaitExit(Wait));
        Assert.True(await Procs.Eventually(() => Procs.WithArgv("sleep", H.Token).Count == 0, Wait), "the unit outlived Vigil");
        Assert.NotEqual(0, Tmux(socket, "list-sessions").Code); // no server left on the socket
    }
}
