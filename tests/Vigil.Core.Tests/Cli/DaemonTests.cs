using System.Net.Sockets;
using System.Text;
using Vigil.Launching;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>The real vigil as a daemon: <c>run -d</c> and <c>shutdown</c>, SIGUSR2 after logrotate's rename, its own
/// sd_notify messages to a manager, and the systemd unit it writes.</summary>
[Collection("processes")]
public sealed class DaemonTests : HarnessTests
{
    private int? _daemon;

    public override async Task DisposeAsync()
    {
        if (_daemon is { } pid) ProcessIdentity.Of(pid)?.Signal(Signals.SIGKILL); // a daemon the test did not get to shut down
        await base.DisposeAsync();
    }

    private string TwoSleeps() => H.Write("vigil.yaml", $$"""
        processes:
          - { name: a, command: [sleep, "{{H.Token}}"], stop: { timeout: 2s } }
          - { name: b, command: [sleep, "{{H.Token}}"], stop: { timeout: 2s } }
        """);

    [Fact]
    [Trait("Category", VigilProcess.Smoke)]
    public async Task Run_d_returns_once_the_socket_answers_and_shutdown_leaves_nothing_running()
    {
        TwoSleeps();
        var (code, output, err) = await H.Cli("run", "-d");
        Assert.True(code == 0, err);
        var log = Path.ChangeExtension(H.Socket(), ".log");
        var match = System.Text.RegularExpressions.Regex.Match(output, @"^vigil: running as PID (\d+) \(socket (.+), log (.+)\)$");
        Assert.True(match.Success, output);
        int pid = int.Parse(match.Groups[1].Value);
        _daemon = pid;
        Assert.Equal(H.Socket(), match.Groups[2].Value);
        Assert.Equal(log, match.Groups[3].Value);

        // In a session of its own, reading nothing, writing to its log.
        Assert.True(ProcFs.TryReadStat(pid, out var stat));
        Assert.Equal(pid, stat.Session);
        Assert.Equal("/dev/null", new FileInfo($"/proc/{pid}/fd/0").LinkTarget);
        Assert.Equal(log, new FileInfo($"/proc/{pid}/fd/1").LinkTarget);
        Assert.Equal(log, new FileInfo($"/proc/{pid}/fd/2").LinkTarget);
        Assert.True(await CliHarness.Until(() => Task.FromResult(Procs.WithArg(H.Token).Count == 2)));
        Assert.True(await CliHarness.Until(() => Task.FromResult(File.ReadAllText(log).Contains(" spawned: "))), File.ReadAllText(log));
        var info = await H.Json("ls");
        Assert.Equal(2, info.GetArrayLength());

        // A second one for the same config is refused, with the first one's error, and the first is untouched.
        var (again, _, againErr) = await H.Cli("run", "-d");
        Assert.Equal(2, again);
        Assert.Contains("already running", againErr);
        Assert.True(Procs.Alive(pid));

        var (down, _, downErr) = await H.Cli("shutdown");
        Assert.True(down == 0, downErr);
        Assert.False(Procs.Alive(pid), "the daemon outlived its shutdown");
        Assert.Empty(await Procs.LeftWithArg(H.Token));
        Assert.False(File.Exists(H.Socket()));
        Assert.Contains("vigil: all stopped", File.ReadAllText(log));
    }

    [Fact]
    public async Task Engine_messages_reach_stderr_before_run_d_detaches_and_the_daemon_s_log_after()
    {
        // A runtime folder open to the group is refused (RuntimeDir) by the command, on its stderr, and then by the
        // daemon's sd-notify probe (NotifyFolder), in its log: both through the logger the CLI gives the libraries.
        var name = "logged-" + H.Token;
        H.Write("vigil.yaml", $$"""
            name: {{name}}
            processes:
              - name: notifier
                command: ["{{Fixture.Path}}", notify, "READY=1", marker, up, hang]
                health: [ { kind: sd-notify } ]
            """);
        var shared = H.Path("vigil");
        Directory.CreateDirectory(shared);
        File.SetUnixFileMode(shared, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        var env = new Dictionary<string, string?> { ["XDG_RUNTIME_DIR"] = H.Dir.FullName };
        var (code, output, err) = await H.CliWith(env, "run", "-d");
        Assert.True(code == 0, err);
        Assert.Contains($"vigil: refusing to use {shared}: its mode is 750, not 700; using ", err);
        var match = System.Text.RegularExpressions.Regex.Match(output, @"^vigil: running as PID (\d+) \(socket (.+), log (.+)\)$");
        Assert.True(match.Success, output);
        int pid = int.Parse(match.Groups[1].Value);
        _daemon = pid;
        var log = match.Groups[3].Value;
        try
        {
            var expected = $"vigil: notifier: sd-notify: not using {shared}: its mode is 750, not 700; using the new private folder ";
            Assert.True(await CliHarness.Until(() => Task.FromResult(File.ReadAllText(log).Contains(expected))), File.ReadAllText(log));
            var (down, _, downErr) = await H.CliWith(env, "shutdown");
            Assert.True(down == 0, downErr);
            Assert.False(Procs.Alive(pid), "the daemon outlived its shutdown");
        }
        finally { File.Delete(log); } // in the shared /tmp/vigil-UID, not in the test's folder
    }

    [Fact]
    public async Task A_client_of_another_uid_is_refused_the_attempt_is_an_event_and_nothing_changes()
    {
        TwoSleeps();
        var (code, output, err) = await H.Cli("run", "-d");
        Assert.True(code == 0, err);
        _daemon = int.Parse(System.Text.RegularExpressions.Regex.Match(output, @"PID (\d+)").Groups[1].Value);
        var before = await H.Pids();
        string[] asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];

        // As Vigil made it, the socket cannot even be reached by another user: its folder is 0700.
        await using (var p = VigilProcess.StartWrapped(H.Dir.FullName, asNobody, "stop", "a", "--socket", H.Socket()))
        {
            Assert.Equal(1, await p.WaitExit(TimeSpan.FromSeconds(60)));
            Assert.Contains("permission denied", string.Join('\n', p.Err));
        }

        // Opened up by mistake (a careless chmod), the peer check still refuses: one line naming the uid, exit 1.
        File.SetUnixFileMode(H.Dir.FullName, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(Path.GetDirectoryName(H.Socket())!, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(H.Socket(), (UnixFileMode)0b110_110_110);
        await using (var p = VigilProcess.StartWrapped(H.Dir.FullName, asNobody, "stop", "a", "--socket", H.Socket()))
        {
            Assert.Equal(1, await p.WaitExit(TimeSpan.FromSeconds(60)));
            var said = Assert.Single(p.Err);
            Assert.Contains("uid 65534", said);
            Assert.Contains("may not control this vigil", said);
        }
        // Closed again: the owner's own clients refuse a folder others can enter, as Vigil does.
        File.SetUnixFileMode(Path.GetDirectoryName(H.Socket())!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Assert.Equal(before, await H.Pids()); // nothing was stopped
        var refused = (await H.Json("events")).EnumerateArray().Where(e => e.GetProperty("kind").GetString() == "control-refused").ToList();
        Assert.Single(refused);
        Assert.Contains("uid 65534", refused[0].GetProperty("reason").GetString());

        Assert.Equal(0, (await H.Cli("shutdown")).Code);
        Assert.Empty(await Procs.LeftWithArg(H.Token));
    }

    [Fact]
    [Trait("Category", VigilProcess.Smoke)]
    public async Task Run_d_with_a_bad_config_prints_its_errors_and_exits_2()
    {
        H.Write("vigil.yaml", "processes:\n  - name: x\n    comand: [sleep, \"1\"]\n");
        var (code, output, err) = await H.Cli("run", "-d");
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("vigil.yaml:3:5: processes[0].comand: unknown key", err);
        Assert.False(File.Exists(H.Socket()));
    }

    [Fact]
    public async Task SIGUSR2_reopens_vigil_s_own_log_and_the_units_logs_after_a_rename()
    {
        H.Write("vigil.yaml", $$"""
            processes:
              - name: t
                command: ["{{Fixture.Path}}", tick, "50", "0"]
                log: { file: logs/t.log }
                stop: { timeout: 2s }
            """);
        var own = H.Path("vigil.log");
        var vigil = H.Start("run", "--log", own);
        var unitLog = H.Path("logs/t.log");
        Assert.True(await CliHarness.Until(() => Task.FromResult(File.Exists(unitLog) && File.ReadAllText(unitLog).Contains("tick 3"))));
        Assert.Contains(" spawned: ", File.ReadAllText(own));
        Assert.Empty(vigil.Out); // everything went to the log

        // logrotate without copytruncate: rename, then postrotate sends SIGUSR2.
        File.Move(own, own + ".1");
        File.Move(unitLog, unitLog + ".1");
        vigil.Signal(Signals.SIGUSR2);
        Assert.True(await CliHarness.Until(() => Task.FromResult(File.Exists(unitLog) && File.ReadAllText(unitLog).Contains("tick"))), "no new unit log");
        var (code, restarted, _) = await H.Cli("restart", "t");
        Assert.Equal(0, code);
        var spawned = $" t#{Procs.ParsePid(restarted, "t#")} spawned: ";
        Assert.True(await CliHarness.Until(() => Task.FromResult(File.Exists(own) && File.ReadAllText(own).Contains(spawned))), "no new vigil log");
        Assert.DoesNotContain(spawned, File.ReadAllText(own + ".1"));
        vigil.Signal(Signals.SIGTERM);
        Assert.Equal(0, await vigil.WaitExit());
        Assert.Contains("vigil: all stopped", File.ReadAllText(own));
    }

    /// <summary>Reads every datagram sent to a NOTIFY_SOCKET the test owns.</summary>
    private sealed class Manager : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        private readonly List<string> _messages = [];
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _reader;

        public Manager(string path)
        {
            _socket.Bind(new UnixDomainSocketEndPoint(path));
            _reader = Task.Run(async () =>
            {
                var buf = new byte[4096];
                try
                {
                    while (true)
                    {
                        int n = await _socket.ReceiveAsync(buf, SocketFlags.None, _stop.Token);
                        lock (_messages) _messages.Add(Encoding.UTF8.GetString(buf, 0, n));
                    }
                }
                catch (OperationCanceledException) { }
            });
        }

        public List<string> Messages { get { lock (_messages) return [.. _messages]; } }

        /// <summary>The messages other than WATCHDOG=1, in order.</summary>
        public List<string> States => [.. Messages.Where(m => m != "WATCHDOG=1")];

        public void Dispose()
        {
            _stop.Cancel();
            _reader.Wait(TimeSpan.FromSeconds(5));
            _socket.Dispose();
        }
    }

    [Fact]
    public async Task Vigil_tells_its_manager_ready_status_reloading_and_stopping_and_feeds_the_watchdog()
    {
        H.Write("vigil.yaml", $$"""
            processes:
              - { name: a, command: ["{{Fixture.Path}}", env, NOTIFY_SOCKET, env, WATCHDOG_USEC, hang], stop: { timeout: 2s } }
              - { name: b, command: [sleep, "{{H.Token}}"], stop: { timeout: 2s } }
            """);
        var path = H.Path("notify");
        using var manager = new Manager(path);
        var vigil = H.StartWith(new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = path, ["WATCHDOG_USEC"] = "300000" }, "run", "--attach-output");
        Assert.True(await CliHarness.Until(() => Task.FromResult(manager.States.Contains("READY=1"))), string.Join(" | ", manager.Messages));
        Assert.True(await CliHarness.Until(() => Task.FromResult(manager.States.Contains("STATUS=2 running"))), string.Join(" | ", manager.Messages));
        Assert.True(await CliHarness.Until(() => Task.FromResult(manager.Messages.Count(m => m == "WATCHDOG=1") >= 3)), "the watchdog was not fed");
        // The variables were Vigil's: its children do not inherit them.
        await vigil.WaitLine(l => l == "a | ENV NOTIFY_SOCKET unset", "a's NOTIFY_SOCKET");
        await vigil.WaitLine(l => l == "a | ENV WATCHDOG_USEC unset", "a's WATCHDOG_USEC");

        vigil.Signal(Signals.SIGHUP);
        await vigil.WaitLine(l => l.Contains(" vigil reloaded: "), "the reload");
        Assert.True(await CliHarness.Until(() => Task.FromResult(manager.States.Count(m => m == "READY=1") == 2)), string.Join(" | ", manager.States));
        vigil.Signal(Signals.SIGTERM);
        Assert.Equal(0, await vigil.WaitExit());
        var states = manager.States;
        int reloading = states.FindIndex(m => m.StartsWith("RELOADING=1\nMONOTONIC_USEC="));
        Assert.True(reloading > states.IndexOf("READY=1"), string.Join(" | ", states));
        Assert.Equal("READY=1", states.Skip(reloading + 1).First(m => !m.StartsWith("STATUS=")));
        Assert.Equal("STOPPING=1", states.Last(m => !m.StartsWith("STATUS=")));
    }

    [Fact]
    public async Task Startup_systemd_prints_the_unit_and_installs_a_user_unit()
    {
        var config = H.Write("shop.yaml", $$"""
            name: shop
            processes:
              - { name: a, command: [sleep, "1"], stop: { timeout: 20s, killWait: 5s } }
            """);
        var (code, unit, err) = await H.Cli("startup", "systemd", "-c", "shop.yaml");
        Assert.True(code == 0, err);
        var lines = unit.Split('\n');
        Assert.Contains($"ExecStart={VigilProcess.Path} run -c {config}", lines);
        Assert.Contains("Type=notify", lines);
        Assert.Contains("ExecReload=/bin/kill -HUP $MAINPID", lines);
        Assert.Contains("KillMode=mixed", lines);
        Assert.Contains("TimeoutStopSec=35", lines);
        Assert.Contains("Restart=on-failure", lines);

        var home = H.Path("config-home");
        var (installed, said, _) = await H.CliWith(new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = home },
            "startup", "systemd", "--user", "-c", "shop.yaml", "--install");
        Assert.Equal(0, installed);
        var file = Path.Combine(home, "systemd", "user", "vigil-shop.service");
        Assert.Contains($"vigil: wrote {file}", said);
        Assert.Contains("systemctl --user enable --now vigil-shop.service", said);
        var text = File.ReadAllText(file);
        Assert.Contains("WantedBy=default.target", text);
        Assert.Contains($"ExecStart={VigilProcess.Path} run -c {config}", text);
    }
}
