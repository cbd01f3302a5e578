using Vigil.Tether.Pinger;
using Vigil.Tether.Mqtt;
using Xunit;

namespace Vigil.Tether.Tests.Pinger;

/// <summary>The Tether Process Pinger's config sources and keys, on temp folders standing in for /etc, HOME and the cwd.</summary>
public sealed class PingerConfigTests : IDisposable
{
    readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("vigil-pinger-config-");
    readonly string _etc, _home, _parent, _cwd;

    public PingerConfigTests()
    {
        _etc = Dir("etc");
        _home = Dir("home");
        _parent = Dir("project");
        _cwd = Dir("project/app/sub");
    }

    public void Dispose() => _root.Delete(recursive: true);

    string Dir(string relative) => Directory.CreateDirectory(Path.Combine(_root.FullName, relative)).FullName;

    static string Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    PingerSettings Load(string[] args, Dictionary<string, string>? env = null, List<string>? warnings = null) =>
        PingerConfig.Load(args, env ?? [], _cwd, _home, warnings, _etc);

    [Fact]
    public void Defaults_are_the_originals()
    {
        var s = Load([]);
        Assert.Equal(("unknown", "localhost", 1883, "tether", "sp_ceB0ss!", (string?)null), (s.TargetAppName, s.Tether.Host, s.Tether.Port, s.Tether.Username, s.Tether.Password, s.AgentId));
        Assert.Equal((15000.0, 5000.0, (string?)null), (s.Interval.TotalMilliseconds, s.Timeout.TotalMilliseconds, s.TetherAgentId));
        Assert.Equal((true, "unknown", true, true), (s.Pm2Enabled, s.Pm2ProcessName, s.DatadogEnabled, s.DecodeStats));
        Assert.Equal(["app:TetherProcessPinger"], s.GlobalTags.ToArray());
        Assert.Equal(["app:TetherProcessPinger", "targetApp:unknown"], s.Tags.ToArray());
        Assert.Equal((PingerLogLevel.Warn, 3000.0), (s.LogLevel, s.ExitPause.TotalMilliseconds));
        Assert.True(s.RestartExec.IsEmpty);
    }

    [Fact]
    public void Each_source_outranks_the_ones_below_it_key_by_key()
    {
        // Source i sets keys i..7; so key i shows the highest source that sets it.
        string[] keys = ["targetAppName", "tether.host", "tether.username", "tether.password", "pm2.processName", "ping.tetherAgentId", "tether.agentId"];
        string Json(string who, int from) => "{" + string.Join(",", keys.Skip(from).Select(k => k.Split('.') switch
        {
            [var a] => $"\"{a}\": \"{who}\"",
            [var a, var b] => $"\"{a}\": {{\"{b}\": \"{who}\"}}",
            _ => throw new InvalidOperationException(),
        })) + "}";
        Write(Path.Combine(_etc, "TetherProcessPingerrc"), Json("etc", 0));
        Write(Path.Combine(_home, ".config", "TetherProcessPinger", "config"), Json("xdg", 1));
        Write(Path.Combine(_home, ".TetherProcessPingerrc"), Json("home", 2));
        Write(Path.Combine(_parent, ".TetherProcessPingerrc"), Json("parent", 3));
        var explicitFile = Write(Path.Combine(_root.FullName, "explicit.json"), Json("config", 4));
        var env = new Dictionary<string, string> { ["TetherProcessPinger_ping__tetherAgentId"] = "env", ["TetherProcessPinger_tether__agentId"] = "env", ["OTHER_tether__agentId"] = "no" };
        var s = Load(["--config", explicitFile, "--tether.agentId=flag"], env);
        string?[] expected = ["etc", "xdg", "home", "parent", "config", "env", "flag"];
        string?[] actual = [s.TargetAppName, s.Tether.Host, s.Tether.Username, s.Tether.Password, s.Pm2ProcessName, s.TetherAgentId, s.AgentId];
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void The_nearest_rc_file_is_used_and_a_parents_is_not_merged()
    {
        Write(Path.Combine(_parent, ".TetherProcessPingerrc"), """{ "targetAppName": "parent", "ping": { "timeout": 111 } }""");
        Write(Path.Combine(_cwd, ".TetherProcessPingerrc"), """{ "targetAppName": "here" }""");
        var s = Load([]);
        Assert.Equal("here", s.TargetAppName);
        Assert.Equal(5000, s.Timeout.TotalMilliseconds); // rc reads one local file: the nearest
    }

    [Fact]
    public void Strings_are_coerced_by_key_from_flags_environment_and_files()
    {
        Write(Path.Combine(_cwd, ".TetherProcessPingerrc"), """
            { // JSON when it starts with '{' (as rc); comments and trailing commas as strip-json-comments allows
              "pm2": { "enabled": "false", }, "tether": { "port": "1884" }, "exitPause": "0" }
            """);
        var env = new Dictionary<string, string> { ["tetherprocesspinger_datadog__decodeStats"] = "FALSE", ["TetherProcessPinger_datadog__globalTags"] = "[\"a:1\",\"b:2\"]" };
        var s = Load(["--ping.interval=3000", "--ping.timeout", "2.5s", "--no-datadog.enabled", "--loglevel=DEBUG"], env);
        Assert.Equal((false, 1884, 0.0), (s.Pm2Enabled, s.Tether.Port, s.ExitPause.TotalMilliseconds));
        Assert.Equal((3000.0, 2500.0), (s.Interval.TotalMilliseconds, s.Timeout.TotalMilliseconds));
        Assert.Equal((false, false, PingerLogLevel.Debug), (s.DecodeStats, s.DatadogEnabled, s.LogLevel));
        Assert.Equal(["a:1", "b:2"], s.GlobalTags.ToArray());
    }

    [Fact]
    public void A_JSON_list_with_a_value_that_is_not_a_string_or_broken_JSON_is_refused_with_its_key()
    {
        var e = Assert.Throws<PingerConfigException>(() => Load(["--datadog.globalTags=[\"a:1\", 2]"]));
        Assert.Equal(["command line --datadog.globalTags: datadog.globalTags: expected a JSON list of strings, got '[\"a:1\", 2]'"], e.Errors);
        e = Assert.Throws<PingerConfigException>(() => Load(["--datadog.globalTags=[\"a:1\""]));
        Assert.StartsWith("command line --datadog.globalTags: datadog.globalTags: expected a JSON list of strings (", Assert.Single(e.Errors));
    }

    [Fact]
    public void Repeated_flags_make_a_list_and_restart_exec_takes_a_string_or_a_list()
    {
        var s = Load(["--datadog.globalTags=x:1", "--datadog.globalTags=y:2", "--restart.exec", "systemctl restart app"]);
        Assert.Equal(["x:1", "y:2"], s.GlobalTags.ToArray());
        Assert.Equal(["/bin/sh", "-c", "systemctl restart app"], s.RestartExec.ToArray());
        Write(Path.Combine(_cwd, ".TetherProcessPingerrc"), """{ "restart": { "exec": ["touch", "/tmp/x"] } }""");
        Assert.Equal(["touch", "/tmp/x"], Load([]).RestartExec.ToArray());
    }

    [Fact]
    public void Ini_files_are_read_as_rc_reads_them()
    {
        Write(Path.Combine(_home, ".TetherProcessPingerrc"), """
            ; an INI config
            targetAppName = "kiosk"
            [ping]
            interval = 2000
            tetherAgentId = screen1
            [pm2]
            enabled = false
            [datadog]
            globalTags[] = env:prod
            globalTags[] = site:lobby
            """);
        var s = Load([]);
        Assert.Equal(("kiosk", 2000.0, "screen1", false), (s.TargetAppName, s.Interval.TotalMilliseconds, s.TetherAgentId, s.Pm2Enabled));
        Assert.Equal(["env:prod", "site:lobby", "targetApp:kiosk"], s.Tags.ToArray());
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(5, 16)]
    [InlineData(6, 30)]
    [InlineData(1000, 30)]
    [InlineData(int.MaxValue, 30)]
    public void A_failed_subscription_is_retried_after_1_s_doubling_to_30_s(int attempt, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), ProcessPinger.SubscribeRetryDelay(attempt));

    [Fact]
    public void Bad_values_are_errors_naming_the_source_and_key_and_unknown_keys_are_warnings()
    {
        var file = Write(Path.Combine(_cwd, ".TetherProcessPingerrc"), """{ "tether": { "port": 70000 }, "ping": { "intervall": 5 } }""");
        var env = new Dictionary<string, string> { ["TetherProcessPinger_ping__interval"] = "soon" };
        var warnings = new List<string>();
        var e = Assert.Throws<PingerConfigException>(() => Load(["--pm2.enabled=maybe", "--ping.tetherAgentId=a/b", "--loglevel=loud"], env, warnings));
        Assert.Contains($"{file}: tether.port: expected a port number 1-65535, got 70000", e.Errors);
        Assert.Contains(e.Errors, m => m.StartsWith("environment TetherProcessPinger_ping__interval: ping.interval: expected more than 0 milliseconds", StringComparison.Ordinal));
        Assert.Contains("command line --pm2.enabled: pm2.enabled: expected true or false, got 'maybe'", e.Errors);
        Assert.Contains("command line --ping.tetherAgentId: ping.tetherAgentId: a Tether agent id cannot contain '/', '+' or '#', got 'a/b'", e.Errors);
        Assert.Contains(e.Errors, m => m.StartsWith("command line --loglevel: loglevel: expected one of trace", StringComparison.Ordinal));
        Assert.Equal(5, e.Errors.Count);
        Assert.Equal([$"{file}: ping.intervall: unknown key, ignored; did you mean 'ping.interval'?"], warnings);
    }

    [Fact]
    public void NUL_bytes_and_waits_past_what_a_timer_can_wait_are_errors()
    {
        // A JSON file can spell U+0000; the API's argument list can hold it too.
        var file = Write(Path.Combine(_cwd, ".TetherProcessPingerrc"),
            """{ "pm2": { "bin": "pm\u00002" }, "restart": { "exec": ["touch", "/tmp/\u0000x"] }, "ping": { "timeout": "30d" } }""");
        var e = Assert.Throws<PingerConfigException>(() => Load(["--config=a\0b", "--ping.interval=25d", "--exitPause=24d"]));
        string nul = Vigil.Specs.Limits.NulMessage;
        string[] expected =
            [
                $"command line --config: config: {nul}",
                "command line --ping.interval: ping.interval: must be at most 24d (the longest a timer can wait), got 600h",
                $"{file}: ping.timeout: must be at most 24d (the longest a timer can wait), got 720h",
                $"{file}: pm2.bin: {nul}",
                $"{file}: restart.exec: {nul}",
            ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), e.Errors.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_missing_config_file_or_broken_json_is_an_error()
    {
        Write(Path.Combine(_home, ".TetherProcessPingerrc"), "{ \"ping\": ");
        var e = Assert.Throws<PingerConfigException>(() => Load(["--config=nowhere.json"]));
        Assert.Contains("command line --config: config file 'nowhere.json' not found", e.Errors);
        Assert.Contains(e.Errors, m => m.StartsWith(Path.Combine(_home, ".TetherProcessPingerrc") + ": invalid JSON", StringComparison.Ordinal));
    }
    [Fact]
    public void Connection_keys_are_read_as_the_JS_agents_broker_options_with_files_relative_to_the_cwd()
    {
        var ca = Write(Path.Combine(_cwd, "certs", "ca.pem"), "");
        var cert = Write(Path.Combine(_cwd, "client.pem"), "");
        var key = Write(Path.Combine(_cwd, "client.key"), "");
        var s = Load(["--tether.protocol=WSS", "--tether.path=/ws", "--tether.protocolVersion=5", "--tether.ca=certs/ca.pem", $"--tether.cert={cert}", "--tether.key=client.key"]);
        Assert.Equal((MqttTransport.SecureWebSocket, "/ws", 5, ca, cert, key, false), (s.Tether.Protocol, s.Tether.Path, s.Tether.ProtocolVersion, s.Tether.CaFile, s.Tether.CertFile, s.Tether.KeyFile, s.Tether.InsecureSkipVerify));
        Assert.Equal("wss://localhost:1883/ws", s.Broker.Endpoint);

        var warnings = new List<string>();
        var tls = Load(["--tether.protocol=ssl", "--tether.protocolVersion=3.1.1", "--tether.insecureSkipVerify"], warnings: warnings);
        Assert.Equal((MqttTransport.Tls, 4, true), (tls.Tether.Protocol, tls.Tether.ProtocolVersion, tls.Tether.InsecureSkipVerify));
        Assert.Equal("command line --tether.insecureSkipVerify: tether.insecureSkipVerify: the broker's certificate is not checked; anyone on the path can read and change the traffic (for tests only)", Assert.Single(warnings));
    }

    [Fact]
    public void Bad_connection_keys_are_errors_naming_the_source_and_key_in_the_words_of_the_tether_section()
    {
        Write(Path.Combine(_cwd, "client.pem"), "");
        var e = Assert.Throws<PingerConfigException>(() => Load(["--tether.protocol=mqttx", "--tether.protocolVersion=3", "--tether.path=/ws?x=1"]));
        Assert.Equal(
            [
                "command line --tether.protocol: tether.protocol: expected mqtt, mqtts, ws or wss (tcp, ssl and tls also work), got 'mqttx'",
                "command line --tether.protocolVersion: tether.protocolVersion: expected 4 (MQTT 3.1.1) or 5 (MQTT 5), got '3'",
                "command line --tether.path: tether.path: must not contain spaces, '?' or '#', got '/ws?x=1'",
            ], e.Errors);

        var env = new Dictionary<string, string> { ["TetherProcessPinger_tether__ca"] = "ca.pem" };
        e = Assert.Throws<PingerConfigException>(() => Load(["--tether.cert=client.pem", "--tether.insecureSkipVerify=true", "--tether.protocol=ws"], env));
        Assert.Equal(
            [
                "environment TetherProcessPinger_tether__ca: tether.ca: needs tether.protocol mqtts or wss (TLS), not ws",
                "command line --tether.cert: tether.cert: needs tether.protocol mqtts or wss (TLS), not ws",
                "command line --tether.insecureSkipVerify: tether.insecureSkipVerify: needs tether.protocol mqtts or wss (TLS)",
                "command line --tether.cert: tether.cert: a client certificate needs tether.key (its private key)",
            ], e.Errors);

        e = Assert.Throws<PingerConfigException>(() => Load(["--tether.protocol=mqtts", "--tether.ca=gone.pem", "--tether.key=client.pem"]));
        Assert.Equal(
            [
                $"command line --tether.ca: tether.ca: file '{_cwd}/gone.pem' does not exist",
                "command line --tether.key: tether.key: a key needs tether.cert (the client certificate it belongs to)",
            ], e.Errors);
    }
}
