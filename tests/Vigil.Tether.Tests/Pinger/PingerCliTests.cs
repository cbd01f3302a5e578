using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Vigil.Tests.Support;
using Vigil.Tether.Tests.Support;
using Xunit;

namespace Vigil.Tether.Tests.Pinger;

/// <summary>The real `vigil pinger` executable against mosquitto, tether-agent 3.2.1 targets, a DogStatsD listener and a real PM2.</summary>
[Collection("pinger-cli")]
public sealed class PingerCliTests : IDisposable
{
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    const string Tags = "|#app:TetherProcessPinger,targetApp:kiosk";
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-pinger-cli-");
    readonly DogStatsDListener _statsd = new();

    public void Dispose()
    {
        _statsd.Dispose();
        _dir.Delete(recursive: true);
    }

    string Pm2Home => Path.Combine(_dir.FullName, "pm2");
    static string Pm2Bin => Path.Combine(NodeFixture.NodeModules, ".bin", "pm2");

    /// <summary>vigil pinger with HOME (no rc files of the machine's user), DogStatsD and PM2_HOME pointing into the test's folder.</summary>
    VigilProcess Start(Mosquitto? broker, params string[] args)
    {
        var env = _statsd.Environment;
        env["HOME"] = _dir.FullName;
        env["PM2_HOME"] = Pm2Home;
        string[] brokerArgs = broker is null ? [] : ["--tether.host=" + broker.Host, "--tether.port=" + broker.Port];
        return VigilProcess.StartWith(_dir.FullName, env, ["pinger", "--targetAppName=kiosk", .. brokerArgs, .. args]);
    }

    /// <summary>Runs the npm pm2 against the test's private PM2_HOME.</summary>
    async Task<string> Pm2(params string[] args)
    {
        var psi = new ProcessStartInfo(Pm2Bin, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = NodeFixture.Folder };
        psi.Environment["PM2_HOME"] = Pm2Home;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(Wait);
        if (p.ExitCode != 0) throw new InvalidOperationException($"pm2 {string.Join(' ', args)} failed: {await stderr}");
        return await stdout;
    }

    async Task<JsonElement> Pm2Process(string name)
    {
        var json = (await Pm2("jlist")).Split('\n').Last(l => l.TrimStart().StartsWith('['));
        return JsonDocument.Parse(json).RootElement.EnumerateArray().Single(p => p.GetProperty("name").GetString() == name);
    }

    /// <summary>Stops the PM2 daemon and its apps; afterwards no process may still use the private PM2_HOME.</summary>
    async Task KillPm2()
    {
        if (!Directory.Exists(Pm2Home)) return;
        await Pm2("kill");
        // `pm2 kill` returns while the daemon is still on its way out: wait (bounded) for it to be gone.
        List<int> Left() => Vigil.Launching.ProcFs.All()
            .Where(p => p.State is not (Vigil.Launching.OsState.Zombie or Vigil.Launching.OsState.Dead) && Environ(p.Pid).Contains("PM2_HOME=" + Pm2Home))
            .Select(p => p.Pid).ToList();
        await Vigil.Tests.Support.Procs.Eventually(() => Left().Count == 0, TimeSpan.FromSeconds(10));
        var left = Left();
        Assert.True(left.Count == 0, $"processes of the test's PM2 left: {string.Join(", ", left)}");
    }

    static string Environ(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/environ").Replace('\0', '\n'); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
    }

    [Fact]
    public async Task Healthy_target_gives_heartbeat_counts_ping_gauges_and_field_gauges_with_the_tags()
    {
        await using var broker = await PingPongTests.StartBrokerAsync();
        await using var target = await PingPongTests.StartTargetAsync(broker, "screen1");
        await using var pinger = Start(broker, "--pm2.enabled=false", "--ping.interval=200", "--ping.timeout=2000", "--loglevel=debug");
        await _statsd.WaitAsync(d => d == "heartbeat:1|c" + Tags, "heartbeat counts", Wait, count: 3);
        var ping = await _statsd.WaitAsync(d => d.StartsWith("ping:", StringComparison.Ordinal), "a ping gauge", Wait);
        Assert.Matches(@"^ping:\d+(\.\d+)?\|g\|#app:TetherProcessPinger,targetApp:kiosk$", ping);
        await _statsd.WaitAsync(d => d == "fps:60|g" + Tags, "the fps gauge", Wait);
        await _statsd.WaitAsync(d => d == "sessions:2|g" + Tags, "the sessions gauge", Wait);
        await pinger.WaitLine(l => l.Contains("[DEBUG] TetherProcessPinger - pong from kiosk/screen1 in "), "a pong log line");
        Assert.DoesNotContain(_statsd.All, d => d.StartsWith("_e", StringComparison.Ordinal));

        pinger.Signal(15);
        Assert.Equal(0, await pinger.WaitExit());
    }

    [Fact]
    public async Task Hung_target_gets_a_timeout_event_and_is_restarted_by_a_real_pm2()
    {
        await using var broker = await PingPongTests.StartBrokerAsync();
        try
        {
            await Pm2("start", "tether-target.cjs", "--name", "kiosk", "--", broker.Host, broker.Port.ToString(), "kiosk", "screen1", "--hang-after", "3");
            var before = await Pm2Process("kiosk");
            await using var pinger = Start(broker, "--pm2.processName=kiosk", "--pm2.bin=" + Pm2Bin, "--ping.interval=300", "--ping.timeout=700", "--ping.grace=4000", "--ping.tetherAgentId=screen1");
            await _statsd.WaitAsync(d => d == "heartbeat:1|c" + Tags, "heartbeats before the hang", Wait, count: 3);
            var timeout = await _statsd.WaitAsync(d => d.StartsWith("_e{7,", StringComparison.Ordinal), "the timeout event", Wait);
            Assert.StartsWith("_e{7,", timeout);
            Assert.Contains(":timeout|TetherProcessPinger timed out waiting for response", timeout);
            Assert.EndsWith("|t:error" + Tags, timeout);
            await _statsd.WaitAsync(d => d == "restartProcess:1|c" + Tags, "restartProcess", Wait);
            await pinger.WaitLine(l => l.Contains("restarted PM2 process \"kiosk\""), "the restart log line");
            var after = await Pm2Process("kiosk");
            Assert.True(after.GetProperty("pm2_env").GetProperty("restart_time").GetInt32() >= 1);
            Assert.NotEqual(before.GetProperty("pid").GetInt32(), after.GetProperty("pid").GetInt32());
            // The restarted target answers again (3 more pongs before it hangs again).
            int heartbeats = _statsd.All.Count(d => d.StartsWith("heartbeat:", StringComparison.Ordinal));
            await _statsd.WaitAsync(d => d.StartsWith("heartbeat:", StringComparison.Ordinal), "heartbeats after the restart", Wait, count: heartbeats + 1);
            pinger.Signal(15);
            Assert.Equal(0, await pinger.WaitExit());
        }
        finally { await KillPm2(); }
    }

    [Fact]
    public async Task Unknown_pm2_process_exits_1_after_exitPause_with_a_pm2_integration_failure_event()
    {
        try
        {
            await using var pinger = Start(null, "--pm2.processName=ghost", "--pm2.bin=" + Pm2Bin, "--exitPause=1500");
            var line = await pinger.WaitLine(l => l.Contains("PM2 integration failure"), "the PM2 failure", Wait);
            Assert.Contains("PM2 has no process named \"ghost\"", line);
            Assert.Equal(1, await pinger.WaitExit());
            var exited = DateTime.Now;
            // When the failure was logged, by the pinger's own stamp (local time, ms): the moment this test read the
            // line can come late on a busy machine, which made the pause look short.
            var logged = DateTime.ParseExact(line[..23], "yyyy-MM-ddTHH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(exited - logged >= TimeSpan.FromMilliseconds(1400), $"exited {exited - logged} after the failure was logged, before exitPause");
            var e = await _statsd.WaitAsync(d => d.StartsWith("_e{23,", StringComparison.Ordinal), "the PM2 integration failure event", Wait);
            Assert.Contains(":PM2 integration failure|", e);
            Assert.EndsWith("|t:error" + Tags, e);
        }
        finally { await KillPm2(); }
    }

    [Fact]
    public async Task Broker_restart_mid_run_reconnects_and_resumes_without_a_false_restart()
    {
        await using var broker = await PingPongTests.StartBrokerAsync();
        await using var target = await PingPongTests.StartTargetAsync(broker, "screen1");
        var marker = Path.Combine(_dir.FullName, "restarted");
        await using var pinger = Start(broker, "--pm2.enabled=false", "--ping.interval=200", "--ping.timeout=1000", $"--restart.exec=touch {marker}");
        await _statsd.WaitAsync(d => d.StartsWith("heartbeat:", StringComparison.Ordinal), "heartbeats", Wait, count: 3);

        await broker.StopAsync();
        await pinger.WaitLine(l => l.Contains("[WARN]") && l.Contains("no verdict for this ping"), "a skipped ping while the broker is down");
        int heartbeats = _statsd.All.Count(d => d.StartsWith("heartbeat:", StringComparison.Ordinal));
        await broker.StartAsync();
        await _statsd.WaitAsync(d => d.StartsWith("heartbeat:", StringComparison.Ordinal), "heartbeats after the broker came back", Wait, count: heartbeats + 3);

        Assert.DoesNotContain(_statsd.All, d => d.StartsWith("_e", StringComparison.Ordinal) || d.StartsWith("restartProcess", StringComparison.Ordinal));
        Assert.False(File.Exists(marker), "restart.exec ran: a false restart");
        Assert.DoesNotContain(pinger.Out, l => l.Contains("[ERROR]"));
        pinger.Signal(2);
        Assert.Equal(0, await pinger.WaitExit());
    }

    [Fact]
    public async Task Hung_target_without_pm2_runs_restart_exec()
    {
        await using var broker = await PingPongTests.StartBrokerAsync();
        await using var target = await PingPongTests.StartTargetAsync(broker, "screen1", "--hang-after", "1");
        var marker = Path.Combine(_dir.FullName, "restarted");
        await using var pinger = Start(broker, "--pm2.enabled=false", "--ping.interval=200", "--ping.timeout=500", "--ping.grace=0", $"--restart.exec=echo restart >> {marker}");
        await _statsd.WaitAsync(d => d == "restartProcess:1|c" + Tags, "restartProcess", Wait);
        Assert.Contains("restart", await File.ReadAllTextAsync(marker));
        await pinger.WaitLine(l => l.Contains("[ERROR]") && l.Contains("timeout: no pong from any agent within 500 ms of the ping"), "the timeout log line");
    }

    [Fact]
    public async Task A_broker_sending_garbage_is_a_clean_error_and_exit_1()
    {
        using var fake = new TcpListener(IPAddress.Loopback, 0);
        fake.Start();
        var serve = Task.Run(async () =>
        {
            using var c = await fake.AcceptTcpClientAsync().WaitAsync(Wait);
            await c.GetStream().WriteAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray());
            await c.GetStream().ReadAsync(new byte[1024]).AsTask().WaitAsync(Wait);
        });
        await using var pinger = VigilProcess.StartWith(_dir.FullName, new Dictionary<string, string?> { ["HOME"] = _dir.FullName },
            "pinger", "--tether.host=127.0.0.1", $"--tether.port={((IPEndPoint)fake.LocalEndpoint).Port}", "--pm2.enabled=false", "--datadog.enabled=false", "--exitPause=0");
        Assert.Equal(1, await pinger.WaitExit(Wait));
        var line = Assert.Single(pinger.Out, l => l.Contains("[ERROR]"));
        Assert.Contains("cannot connect to the Tether broker: ", line); // MQTTnet's reading of the garbage, then the close
        Assert.Empty(pinger.Err);
        await serve;
    }

    [Fact]
    public async Task A_subscription_the_broker_ACL_refuses_is_an_error_retried_with_backoff_and_the_pinger_keeps_running()
    {
        var user = (PingPongTests.Username, PingPongTests.Password);
        await using var broker = await Mosquitto.StartAsync(new MosquittoSettings { Username = user.Username, Password = user.Password, DenySubscribe = ["+/+/pong"] });
        await using var target = await PingPongTests.StartTargetAsync(broker, "screen1"); // it may subscribe +/+/ping
        await using var pinger = Start(broker, "--pm2.enabled=false", "--ping.interval=200", "--ping.timeout=1000");

        var first = await pinger.WaitLine(l => l.Contains("[ERROR]") && l.Contains("attempt 1,"), "the refusal");
        Assert.Contains($"the broker refused the subscription to +/+/pong (ACL?): SUBACK 0x80 from {broker.Host}:{broker.Port}; no pings until the subscription works; attempt 1, retrying in 1000 ms", first);
        var second = await pinger.WaitLine(l => l.Contains("[ERROR]") && l.Contains("attempt 2,"), "the second attempt");
        Assert.Contains("the broker refused the subscription to +/+/pong (ACL?)", second);
        Assert.Contains("retrying in 2000 ms", second);
        var e = await _statsd.WaitAsync(d => d.StartsWith("_e{", StringComparison.Ordinal), "the subscription failure event", Wait);
        Assert.Contains(":Tether subscription failure|TetherProcessPinger cannot listen for pongs: the broker refused the subscription to +/+/pong (ACL?)", e);
        Assert.EndsWith("|t:error" + Tags, e);
        Assert.Single(_statsd.All, d => d.StartsWith("_e{", StringComparison.Ordinal)); // one event per streak, not per attempt
        Assert.DoesNotContain(_statsd.All, d => d.StartsWith("heartbeat:", StringComparison.Ordinal)); // no pings meanwhile

        // The operator fixes the ACL: the retry that is waiting for the broker subscribes, and pings flow.
        await broker.StopAsync();
        await broker.SetDeniedSubscriptionsAsync(user.Username, user.Password);
        await broker.StartAsync();
        await pinger.WaitLine(l => l.Contains("subscribed to +/+/pong at attempt "), "the successful retry");
        await _statsd.WaitAsync(d => d == "heartbeat:1|c" + Tags, "heartbeats once subscribed", Wait, count: 2);

        pinger.Signal(15);
        Assert.Equal(0, await pinger.WaitExit());
        Assert.DoesNotContain(pinger.Err, l => l.Contains("Unhandled", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task A_SUBACK_that_never_comes_or_carries_another_id_is_logged_and_retried_and_pings_flow_once_answered()
    {
        await using var fake = new FakeBroker();
        await using var pinger = VigilProcess.StartWith(_dir.FullName, new Dictionary<string, string?>(_statsd.Environment) { ["HOME"] = _dir.FullName },
            "pinger", "--targetAppName=kiosk", "--tether.host=127.0.0.1", $"--tether.port={fake.Port}", "--pm2.enabled=false",
            // ping.timeout (the SUBACK's deadline) of 3 s, not 0.5 s: the test answers the third SUBSCRIBE after reading
            // it, which with both cores busy took longer than 0.5 s, so the pinger had already given up on it.
            "--ping.interval=200", "--ping.timeout=3000", "--loglevel=debug");
        var s = await fake.AcceptConnectedAsync();

        static ushort Id(byte[] body) => (ushort)(body[0] << 8 | body[1]);
        var (h1, b1) = await s.ReadPacketAsync(); // swallowed
        Assert.Equal(0x82, h1);
        var timedOut = await pinger.WaitLine(l => l.Contains("[ERROR]") && l.Contains("attempt 1,"), "the SUBACK timeout");
        Assert.Contains($"no SUBACK from 127.0.0.1:{fake.Port} within 3 s for the subscription to +/+/pong; no pings until the subscription works; attempt 1, retrying in 1000 ms", timedOut);

        var (h2, b2) = await s.ReadPacketAsync(); // the retry: answered with another packet id
        Assert.Equal(0x82, h2);
        Assert.Equal(b1[2..], b2[2..]); // the same filter and QoS
        ushort wrong = (ushort)(Id(b2) + 1000);
        await s.SendAsync(0x90, 0x03, (byte)(wrong >> 8), (byte)wrong, 0x01);
        var stray = await pinger.WaitLine(l => l.Contains("[ERROR]") && l.Contains("attempt 2,"), "the second SUBACK timeout");
        Assert.Contains($"no SUBACK from 127.0.0.1:{fake.Port} within 3 s for the subscription to +/+/pong; no pings until the subscription works; attempt 2,", stray); // MQTTnet ignores the stray SUBACK silently

        var (h3, b3) = await s.ReadPacketAsync(); // answered
        Assert.Equal(0x82, h3);
        await s.SendAsync(0x90, 0x03, b3[0], b3[1], 0x01);
        await pinger.WaitLine(l => l.Contains("subscribed to +/+/pong at attempt 3"), "the subscription");

        var (h4, b4) = await s.ReadPacketAsync(); // the first ping: QoS 1 on processPinger/<id>/ping
        Assert.Equal(0x32, h4);
        var topic = System.Text.Encoding.UTF8.GetString(b4, 2, b4[0] << 8 | b4[1]);
        Assert.Matches("^processPinger/[0-9a-f]{8}/ping$", topic);
        await s.SendAsync(0x40, 0x02, b4[^2], b4[^1]); // PUBACK
        byte[] pong = [0x30, 0x14, 0x00, 0x12, .. "kiosk/screen1/pong"u8];
        await s.SendAsync(pong);
        await pinger.WaitLine(l => l.Contains("[DEBUG]") && l.Contains("pong from kiosk/screen1 in "), "the pong");
        await _statsd.WaitAsync(d => d == "heartbeat:1|c" + Tags, "a heartbeat", Wait);

        pinger.Signal(15);
        Assert.Equal(0, await pinger.WaitExit());
    }

    [Fact]
    public async Task A_pong_with_100_numeric_fields_gives_64_gauges_and_one_warning()
    {
        await using var broker = await PingPongTests.StartBrokerAsync();
        var fields = "{" + string.Join(",", Enumerable.Range(0, 100).Select(i => $"\"f{i}\":{i}")) + "}";
        await using var target = await PingPongTests.StartTargetAsync(broker, "screen1", "--fields", fields);
        await using var pinger = Start(broker, "--pm2.enabled=false", "--ping.interval=200", "--ping.timeout=2000");
        await _statsd.WaitAsync(d => d == "f63:63|g" + Tags, "the 64th field's gauge of three pongs", Wait, count: 3);
        await _statsd.WaitAsync(d => d == "heartbeat:1|c" + Tags, "the fourth heartbeat", Wait, count: 4); // after the third pong's gauges

        var names = _statsd.All.Where(d => d.StartsWith('f') && d.Contains("|g|")).Select(d => d[..d.IndexOf(':')]).ToHashSet();
        Assert.Equal(Enumerable.Range(0, 64).Select(i => $"f{i}").ToHashSet(), names);
        var warning = Assert.Single(pinger.Out, l => l.Contains("more numeric fields than the 64"));
        Assert.Contains("[WARN]", warning);
        Assert.Contains("the pong from kiosk/screen1 has more numeric fields than the 64 a target may turn into metrics: 36 dropped", warning);

        pinger.Signal(15);
        Assert.Equal(0, await pinger.WaitExit());
    }

    [Fact]
    public async Task Bad_config_exits_2_naming_the_source_and_key()
    {
        var env = new Dictionary<string, string?> { ["HOME"] = _dir.FullName, ["TetherProcessPinger_ping__timeout"] = "later" };
        await using var pinger = VigilProcess.StartWith(_dir.FullName, env, "pinger", "--pm2.enabled=yes");
        Assert.Equal(2, await pinger.WaitExit(Wait));
        Assert.Contains(pinger.Err, l => l.StartsWith("vigil pinger: environment TetherProcessPinger_ping__timeout: ping.timeout: expected more than 0 milliseconds", StringComparison.Ordinal));
        Assert.Contains("vigil pinger: command line --pm2.enabled: pm2.enabled: expected true or false, got 'yes'", pinger.Err);
        Assert.Empty(pinger.Out);
    }
}
