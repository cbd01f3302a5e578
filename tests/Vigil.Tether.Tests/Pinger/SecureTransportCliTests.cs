using Vigil.Tests.Support;
using Vigil.Tether.Tests.Support;
using Xunit;

namespace Vigil.Tether.Tests.Pinger;

/// <summary>Issue 12: the real `vigil run` and `vigil pinger` reach a real mosquitto over TLS and secure WebSocket with the
/// test CA (the Tether target, a tether-agent 3.2.1 app, talks plain MQTT to the same broker), and refuse bad connection
/// keys with exit 2 and the key's position or source.</summary>
[Collection("pinger-cli")]
public sealed class SecureTransportCliTests : IDisposable
{
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-tether-tls-");

    public void Dispose() => _dir.Delete(recursive: true);

    static Task<Mosquitto> StartBrokerAsync(TestPki pki) => Mosquitto.StartAsync(new MosquittoSettings
    {
        Username = PingPongTests.Username, Password = PingPongTests.Password, Tls = pki, WebSockets = true,
    });

    string WriteConfig(string text)
    {
        var path = Path.Combine(_dir.FullName, "vigil.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>vigil run -c FILE with one unit under a tether probe, once the unit is spawned: the run and the unit's pid.</summary>
    async Task<(VigilProcess Vigil, int Pid)> RunAsync(string config, string unit, params string[] args)
    {
        var vigil = VigilProcess.Start(_dir.FullName, ["run", "-c", config, .. args]);
        var spawned = await vigil.WaitLine(l => l.Contains($" {unit}#") && l.Contains(" spawned: "), "the spawn", Wait);
        return (vigil, Procs.ParsePid(spawned, unit + "#"));
    }

    /// <summary>SIGTERM: vigil exits 0 and the unit is gone.</summary>
    static async Task StopAsync(VigilProcess vigil, int pid)
    {
        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit());
        Assert.False(Procs.Alive(pid));
    }

    [Fact]
    public async Task Vigil_run_with_an_mqtts_tether_section_and_the_CA_file_makes_the_tether_probe_pass()
    {
        using var pki = new TestPki();
        await using var broker = await StartBrokerAsync(pki);
        File.Copy(pki.CaPemFile, Path.Combine(_dir.FullName, "ca.pem"));
        var script = Path.Combine(NodeFixture.Folder, "tether-target.cjs");
        // A readiness probe: its first pass is an event ("ready"); ca: is relative to the config file.
        var config = WriteConfig($$"""
            tether: { host: localhost, port: {{broker.TlsPort}}, protocol: mqtts, ca: ca.pem }
            processes:
              - name: kiosk
                command: [node, "{{script}}", "{{broker.Host}}", "{{broker.Port}}", kiosk, worker1]
                cwd: {{NodeFixture.Folder}}
                stop: { timeout: 1s }
                health:
                  - { kind: tether, role: readiness, agentId: worker1, interval: 300ms, timeout: 2s }
            """);
        var (vigil, pid) = await RunAsync(config, "kiosk", "--attach-output");
        await using var _ = vigil;
        var ready = await vigil.WaitLine(l => l.Contains(" ready: "), "the tether probe's first pass", Wait);
        Assert.Contains($" kiosk#{pid} ready: ", ready);
        Assert.Contains("tether", ready);
        Assert.Contains(vigil.Out, l => l.Contains("kiosk | pong 1"));
        // The probe's connection came in on the TLS listener (the target's on the plain one).
        Assert.Contains($" on port {broker.TlsPort}.", broker.Log);
        Assert.DoesNotContain(vigil.Out.Concat(vigil.Err), l => l.Contains("unhealthy"));
        // On a loaded machine the first TLS connection can take longer than the first check, which then pauses the
        // probe until it can tell (as designed); a pause the probe did not come out of before passing is a failure.
        var events = vigil.Out.ToList();
        int paused = events.FindLastIndex(l => l.Contains("probes-paused")), resumed = events.FindLastIndex(l => l.Contains("probes-resumed"));
        Assert.True(paused < 0 || resumed > paused, "the probe stayed paused: " + string.Join(" / ", events.Where(l => l.Contains("probes-"))));
        await StopAsync(vigil, pid);
    }

    [Fact]
    public async Task A_broker_certificate_the_CA_file_did_not_sign_pauses_the_tether_probe_with_the_reason_instead_of_restarting()
    {
        using var pki = new TestPki();
        await using var broker = await StartBrokerAsync(pki);
        var config = WriteConfig($$"""
            tether: { host: localhost, port: {{broker.TlsPort}}, protocol: mqtts, ca: "{{pki.OtherCaPemFile}}" }
            processes:
              - name: app
                command: [sleep, "60"]
                stop: { timeout: 1s }
                health:
                  - { kind: tether, interval: 300ms, timeout: 1s }
            """);
        var (vigil, pid) = await RunAsync(config, "app");
        await using var _ = vigil;
        var paused = await vigil.WaitLine(l => l.Contains(" probes-paused: "), "the paused probe", Wait);
        Assert.Contains($" app#{pid} probes-paused: tether probe paused: tether broker unreachable: cannot connect to broker mqtts://localhost:{broker.TlsPort}: " +
            $"the broker's certificate is not signed by the CA file {pki.OtherCaPemFile}", paused);
        Assert.DoesNotContain(vigil.Out, l => l.Contains(" unhealthy: "));
        Assert.True(Procs.Alive(pid));
        await StopAsync(vigil, pid);
    }

    [Fact]
    public async Task Pinger_over_wss_with_a_path_and_the_CA_file_counts_a_pong()
    {
        using var pki = new TestPki();
        await using var broker = await StartBrokerAsync(pki);
        await using var target = await PingPongTests.StartTargetAsync(broker, "screen1");
        using var statsd = new DogStatsDListener();
        var env = statsd.Environment;
        env["HOME"] = _dir.FullName;
        await using var pinger = VigilProcess.StartWith(_dir.FullName, env, "pinger", "--targetAppName=kiosk", "--pm2.enabled=false",
            "--tether.host=localhost", $"--tether.port={broker.WssPort}", "--tether.protocol=wss", "--tether.path=/ws", $"--tether.ca={pki.CaPemFile}",
            "--ping.interval=200", "--ping.timeout=2000", "--loglevel=info");
        await statsd.WaitAsync(d => d == "heartbeat:1|c|#app:TetherProcessPinger,targetApp:kiosk", "a heartbeat (a pong counted)", Wait);
        Assert.Contains(pinger.Out, l => l.Contains($"started: target app 'kiosk', broker wss://localhost:{broker.WssPort}/ws, "));

        pinger.Signal(15);
        Assert.Equal(0, await pinger.WaitExit());
    }

    [Fact]
    public async Task Vigil_run_refuses_bad_tether_connection_keys_with_exit_2_at_their_positions()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "client.pem"), "");
        var config = WriteConfig("""
            processes:
              - { name: app, command: [sleep, "60"], health: [{ kind: tether }] }
            tether:
              protocol: ws
              ca: ca.pem
              cert: client.pem
              protocolVersion: 6
            """);
        await using var vigil = VigilProcess.Start(_dir.FullName, "run", "-c", config);
        Assert.Equal(2, await vigil.WaitExit());
        Assert.Contains($"{config}:5:3: tether.ca: needs tether.protocol mqtts or wss (TLS), not ws", vigil.Err);
        Assert.Contains($"{config}:6:3: tether.cert: needs tether.protocol mqtts or wss (TLS), not ws", vigil.Err);
        Assert.Contains($"{config}:6:3: tether.cert: a client certificate needs tether.key (its private key)", vigil.Err);
        Assert.Contains($"{config}:7:3: tether.protocolVersion: expected 4 (MQTT 3.1.1) or 5 (MQTT 5), got '6'", vigil.Err);
        Assert.Contains(vigil.Err, l => l.StartsWith($"vigil: {config}: 4 error(s)", StringComparison.Ordinal));
        Assert.DoesNotContain(vigil.Out, l => l.Contains("spawned"));
    }

    [Fact]
    public async Task Pinger_refuses_bad_TLS_keys_with_exit_2_naming_the_source_and_key()
    {
        var env = new Dictionary<string, string?> { ["HOME"] = _dir.FullName, ["TetherProcessPinger_tether__protocol"] = "mqtts" };
        await using var pinger = VigilProcess.StartWith(_dir.FullName, env, "pinger", "--tether.ca=gone.pem", "--tether.key=gone.key");
        Assert.Equal(2, await pinger.WaitExit(Wait));
        Assert.Contains($"vigil pinger: command line --tether.ca: tether.ca: file '{_dir.FullName}/gone.pem' does not exist", pinger.Err);
        Assert.Contains($"vigil pinger: command line --tether.key: tether.key: file '{_dir.FullName}/gone.key' does not exist", pinger.Err);
        Assert.Contains("vigil pinger: command line --tether.key: tether.key: a key needs tether.cert (the client certificate it belongs to)", pinger.Err);
        Assert.Contains("vigil pinger: 3 config error(s); run 'vigil pinger --help' for the keys", pinger.Err);
    }
}
