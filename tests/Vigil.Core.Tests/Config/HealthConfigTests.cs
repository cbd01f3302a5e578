using Vigil.Config;
using Vigil.Specs;
using Vigil.Tests.Support;
using Vigil.Tether;
using Vigil.Tether.Mqtt;
using Vigil.Health;
using Xunit;

namespace Vigil.Tests.Config;

/// <summary>Unit: the <c>health:</c> list (common keys, actions, roles, defaults) and the top-level <c>tether:</c> section.</summary>
public sealed class HealthConfigTests
{
    private const string Base = "/srv/app";

    private static Vigil.Specs.ProcessSpec One(string health, string extra = "") =>
        Assert.Single(ConfigLoader.Parse($"processes:\n  - name: w\n    command: x\n    health:\n{health}{extra}", "vigil.yaml", Base, TestExtensions.Vigil).Processes);

    private static string[] Errors(string health) =>
        Assert.Throws<ConfigException>(() => ConfigLoader.Parse($"processes:\n  - name: w\n    command: x\n    health:\n{health}", "vigil.yaml", Base, TestExtensions.Vigil))
            .Errors.Select(e => e.ToString()).ToArray();

    [Fact]
    public void Common_keys_roles_and_actions_are_read()
    {
        var spec = One("""
                  - kind: exec
                    command: [./check.sh, --quick]
                    period: 5s
                    timeout: 2s
                    initialDelay: 10s
                    failureThreshold: 4
                    successThreshold: 2
                    role: readiness
                    action: notify
                  - { kind: output-stall, timeout: 2m, action: { exec: "notify-send hung" } }
            """);
        var exec = spec.Health[0];
        Assert.Equal(["./check.sh", "--quick"], Assert.IsType<ExecCheck>(exec.Check).Command.ToArray());
        Assert.Equal((TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10), 4, 2), (exec.Period, exec.Timeout, exec.InitialDelay, exec.FailureThreshold, exec.SuccessThreshold));
        Assert.Equal(ProbeRole.Readiness, exec.Role);
        Assert.Equal(ProbeAction.Notify, exec.Action);
        var stall = spec.Health[1];
        Assert.IsType<OutputStallCheck>(stall.Check);
        Assert.Equal(ProbeAction.Exec, stall.Action);
        Assert.Equal(["notify-send", "hung"], stall.ActionCommand.ToArray());
        Assert.Equal(TimeSpan.FromMinutes(2), stall.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(30), stall.Period); // a quarter of the window, capped at 30 s
        Assert.Equal(1, stall.FailureThreshold);              // one missed window is the failure
    }

    [Fact]
    public void Defaults_follow_Kubernetes_for_request_kinds_and_the_window_for_stall_kinds()
    {
        var spec = One("      - { kind: tcp, address: \"127.0.0.1:5432\" }\n      - { kind: heartbeat-file, path: run/w.beat, timeout: 8s }\n");
        var tcp = spec.Health[0];
        Assert.Equal(new TcpCheck("127.0.0.1", 5432), tcp.Check);
        Assert.Equal((TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), 3, ProbeRole.Liveness, ProbeAction.Restart), (tcp.Period, tcp.Timeout, tcp.FailureThreshold, tcp.Role, tcp.Action));
        var hb = spec.Health[1];
        Assert.Equal(new HeartbeatFileCheck("/srv/app/run/w.beat"), hb.Check); // relative to the config file
        Assert.Equal(TimeSpan.FromSeconds(2), hb.Period);
    }

    [Fact]
    public void Two_probes_of_one_kind_get_numbered_names()
    {
        var spec = One("      - { kind: exec, command: [a] }\n      - { kind: exec, command: [b] }\n      - { kind: output-stall }\n");
        Assert.Equal(["exec#1", "exec#2", "output-stall"], spec.Health.Select(h => h.Name));
    }

    [Fact]
    public void Tether_probe_takes_interval_and_allowance_and_the_broker_section_is_read()
    {
        var config = ConfigLoader.Parse("""
            processes:
              - name: app
                command: x
                health:
                  - { kind: tether, agentId: worker1, interval: 3s, timeout: 1s, allowance: 3, grace: 4s }
                  - { kind: tether }
            tether: { host: 127.0.0.1, port: 18830, username: u, password: p }
            """, "vigil.yaml", Base, TestExtensions.Vigil);
        var probe = Assert.Single(config.Processes).Health[0];
        Assert.Equal("worker1", Assert.IsType<TetherCheck>(probe.Check).AgentId);
        Assert.Equal(TimeSpan.FromSeconds(4), ((TetherCheck)probe.Check).Grace);
        Assert.Equal(TimeSpan.FromSeconds(10), ((TetherCheck)config.Processes[0].Health[1].Check).Grace); // as the pinger's ping.grace
        Assert.Equal((TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(1), 3), (probe.Period, probe.Timeout, probe.FailureThreshold));
        Assert.Equal(new TetherSettings { Host = "127.0.0.1", Port = 18830, Username = "u", Password = "p" }, config.Sections.Get(TetherConfig.Section));
    }

    [Fact]
    public void Bad_probes_are_reported_with_the_key_and_what_was_expected() =>
        Assert.Equal(
            [
                "vigil.yaml:5:11: processes[0].health[0].kind: unknown probe kind 'htpp'; did you mean 'http'?",
                "vigil.yaml:6:9: processes[0].health[1].kind: every probe needs a kind: exec, http, tcp, heartbeat-file, output-stall, progress, memory, cpu, sd-notify, tether, cops",
                "vigil.yaml:7:37: processes[0].health[2].url: unknown key (expected one of: kind, name, role, action, period, timeout, initialDelay, failureThreshold, successThreshold, command)",
                "vigil.yaml:7:45: processes[0].health[2].role: expected liveness, readiness or startup, got 'sometimes'",
                "vigil.yaml:8:9: processes[0].health[3].command: this exec probe needs command: [./check.sh]",
                "vigil.yaml:9:31: processes[0].health[4].failureThreshold: must be at least 1",
                "vigil.yaml:10:46: processes[0].health[5].successThreshold: must be 1 for a startup probe (as in Kubernetes)",
            ],
            Errors("""
                  - { kind: htpp, url: "http://x" }
                  - { timeout: 1s }
                  - { kind: exec, command: [a], url: x, role: sometimes }
                  - { kind: exec }
                  - { kind: output-stall, failureThreshold: 0 }
                  - { kind: output-stall, role: startup, successThreshold: 2 }
            """));
    /// <summary>A folder holding empty ca.pem, client.pem and client.key: the loader checks that the files exist.</summary>
    private static DirectoryInfo PemFolder()
    {
        var dir = Directory.CreateTempSubdirectory("vigil-tether-config-");
        foreach (var f in new[] { "ca.pem", "client.pem", "client.key" }) File.WriteAllText(Path.Combine(dir.FullName, f), "");
        return dir;
    }

    [Fact]
    public void The_tether_section_reads_the_pingers_connection_keys_with_files_relative_to_the_config()
    {
        var dir = PemFolder();
        try
        {
            var config = ConfigLoader.Parse("""
                processes: [{ command: x, health: [{ kind: tether }] }]
                tether: { host: localhost, port: 8884, protocol: WSS, path: /ws, protocolVersion: "3.1.1", ca: ca.pem, cert: client.pem, key: ./client.key, insecureSkipVerify: false }
                """, "vigil.yaml", dir.FullName, TestExtensions.Vigil);
            var tether = config.Sections.Get(TetherConfig.Section);
            Assert.Equal(new TetherSettings
            {
                Host = "localhost", Port = 8884, Protocol = MqttTransport.SecureWebSocket, Path = "/ws", ProtocolVersion = 4,
                CaFile = Path.Combine(dir.FullName, "ca.pem"), CertFile = Path.Combine(dir.FullName, "client.pem"), KeyFile = Path.Combine(dir.FullName, "client.key"),
            }, tether);
            // The probes' connection is made from exactly these.
            Assert.Equal(("wss://localhost:8884/ws", 4, Path.Combine(dir.FullName, "ca.pem")), (tether.Broker.Endpoint, tether.Broker.ProtocolVersion, tether.Broker.CaFile));

            var v5 = ConfigLoader.Parse("processes: [{ command: x }]\ntether: { protocol: ssl, protocolVersion: 5, insecureSkipVerify: true }\n", "vigil.yaml", dir.FullName, TestExtensions.Vigil);
            Assert.Equal((MqttTransport.Tls, 5, true), (v5.Sections.Get(TetherConfig.Section).Protocol, v5.Sections.Get(TetherConfig.Section).ProtocolVersion, v5.Sections.Get(TetherConfig.Section).InsecureSkipVerify));
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void Bad_tether_connection_keys_are_reported_at_their_key_in_the_pingers_words()
    {
        var dir = PemFolder();
        try
        {
            string[] Bad(string tether) =>
                [.. Assert.Throws<ConfigException>(() => ConfigLoader.Parse($"processes: [{{ command: x }}]\ntether:\n{tether}", "vigil.yaml", dir.FullName, TestExtensions.Vigil))
                    .Errors.Select(e => e.ToString())];
            Assert.Equal(
                [
                    "vigil.yaml:3:3: tether.protocol: expected mqtt, mqtts, ws or wss (tcp, ssl and tls also work), got 'mqttx'",
                    "vigil.yaml:4:3: tether.protocolVersion: expected 4 (MQTT 3.1.1) or 5 (MQTT 5), got '3'",
                    "vigil.yaml:5:3: tether.path: must not contain spaces, '?' or '#', got '/ws?x=1'",
                ],
                Bad("  protocol: mqttx\n  protocolVersion: 3\n  path: /ws?x=1\n"));
            Assert.Equal(
                [
                    "vigil.yaml:3:3: tether.ca: needs tether.protocol mqtts or wss (TLS), not ws",
                    "vigil.yaml:4:3: tether.insecureSkipVerify: needs tether.protocol mqtts or wss (TLS)",
                    "vigil.yaml:5:3: tether.cert: needs tether.protocol mqtts or wss (TLS), not ws",
                    "vigil.yaml:5:3: tether.cert: a client certificate needs tether.key (its private key)",
                ],
                Bad("  ca: ca.pem\n  insecureSkipVerify: true\n  cert: client.pem\n  protocol: ws\n"));
            Assert.Equal(
                [
                    $"vigil.yaml:3:3: tether.ca: file '{dir.FullName}/gone.pem' does not exist",
                    "vigil.yaml:4:3: tether.key: a key needs tether.cert (the client certificate it belongs to)",
                ],
                Bad("  ca: gone.pem\n  key: client.key\n  protocol: mqtts\n"));
        }
        finally { dir.Delete(recursive: true); }
    }
}
