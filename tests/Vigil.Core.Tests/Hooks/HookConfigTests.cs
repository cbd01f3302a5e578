using Vigil.Config;
using Vigil.Specs;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Hooks;

/// <summary>Unit: <c>hooks:</c> at the top level and per process, read into specs, refused with positioned errors and
/// suggestions, written back by <c>vigil save</c> to the same specs, and compared by a reload.</summary>
public sealed class HookConfigTests
{
    private const string Base = "/srv/app";

    private static VigilConfig Parse(string text, ConfigExtensions? extensions = null) => ConfigLoader.Parse(text, "vigil.yaml", Base, extensions);

    private static List<string> Errors(string text, ConfigExtensions? extensions = null) =>
        [.. Assert.Throws<ConfigException>(() => Parse(text, extensions)).Errors.Select(e => e.ToString())];

    private const string Full = """
        processes:
          - name: worker
            command: [sleep, "1000"]
            hooks:
              minInterval: 5s
              gave-up: { exec: [notify-send, oops], timeout: 5s, cwd: scripts, env: { LEVEL: high } }
              exited:
                - { shell: "echo $VIGIL_UNIT >> crashes.log" }
                - { webhook: { url: "http://127.0.0.1:9000/x", method: put, headers: { X-Token: abc }, slack: true, timeout: 2s } }
        hooks:
          unhealthy: { webhook: "http://127.0.0.1:9000/alert" }
          "*": { exec: [logger, vigil] }
        """;

    [Fact]
    public void Every_hook_kind_and_key_is_read_into_the_specs()
    {
        var config = Parse(Full);
        var unit = config.Processes[0].Hooks!;
        Assert.Equal(TimeSpan.FromSeconds(5), unit.MinInterval);
        Assert.Equal(["gave-up", "exited"], unit.Bindings.Select(b => b.Event));

        var notify = Assert.IsType<ExecHook>(Assert.Single(unit.For("gave-up")));
        Assert.Equal(["notify-send", "oops"], notify.Command.AsEnumerable());
        Assert.Equal(TimeSpan.FromSeconds(5), notify.Timeout);
        Assert.Equal("/srv/app/scripts", notify.Cwd);
        Assert.Equal("high", notify.Env["LEVEL"]);

        var exited = unit.For("exited").ToList();
        var shell = Assert.IsType<ExecHook>(exited[0]);
        Assert.Equal(["sh", "-c", "echo $VIGIL_UNIT >> crashes.log"], shell.Command.AsEnumerable());
        Assert.Equal(HookAction.DefaultTimeout, shell.Timeout);
        var web = Assert.IsType<WebhookHook>(exited[1]);
        Assert.Equal("http://127.0.0.1:9000/x", web.Url.OriginalString);
        Assert.Equal("PUT", web.Method);
        Assert.Equal("abc", web.Headers["x-token"]);
        Assert.Equal(WebhookFormat.Slack, web.Format);
        Assert.Equal(TimeSpan.FromSeconds(2), web.Timeout);

        var top = config.Hooks;
        Assert.Null(top.MinInterval); // the default (1m) applies
        Assert.Equal(["unhealthy", "any"], top.Bindings.Select(b => b.Event));
        // An event runs its own kind's hooks, then those of any; hook-failed runs none, whatever the config says.
        Assert.Equal(["webhook http://127.0.0.1:9000/alert", "exec logger"], top.For("unhealthy").Select(h => h.Describe()));
        Assert.Equal(["exec logger"], top.For("spawned").Select(h => h.Describe()));
        Assert.Empty(top.For("hook-failed"));
    }

    [Fact]
    public void Bad_hooks_are_refused_at_their_place_with_a_suggestion()
    {
        var errors = Errors("""
            processes:
              - command: [sleep, "1"]
                hooks:
                  gaveup: { exec: [x] }
                  hook-failed: { exec: [x] }
                  exited: { exec: [x], webhook: "http://a/" }
                  killed: { timeout: 1s }
                  spawned: { webhook: "ftp://host/x" }
                  backoff: { webhook: "http://a/", cwd: /tmp }
                  stopped: { exec: [x], timeout: 0s }
                  healthy: { mqtt: { qos: 1 } }
                  minInterval: soon
            hooks:
              any: { exec: [] }
              "*": { shell: "x" }
            """);
        Assert.Equal(
        [
            "vigil.yaml:4:7: processes[0].hooks.gaveup: unknown event kind 'gaveup'; did you mean 'gave-up'?",
            "vigil.yaml:5:7: processes[0].hooks.hook-failed: hook-failed events run no hooks (a failing hook would call itself)",
            "vigil.yaml:6:28: processes[0].hooks.exited.webhook: a hook does one thing: 'exec' is given already (a list holds several hooks)",
            "vigil.yaml:7:15: processes[0].hooks.killed: a hook needs one of exec, shell, webhook or mqtt",
            "vigil.yaml:8:18: processes[0].hooks.spawned.webhook: expected an http:// or https:// URL, got 'ftp://host/x'",
            "vigil.yaml:9:40: processes[0].hooks.backoff.cwd: only an exec or shell hook has a working folder",
            "vigil.yaml:10:29: processes[0].hooks.stopped.timeout: must be a positive duration",
            "vigil.yaml:11:24: processes[0].hooks.healthy.mqtt.topic: missing: the topic to publish the event on",
            "vigil.yaml:12:7: processes[0].hooks.minInterval: expected a duration like 100ms, 1.5s, 5m, 1h or integer milliseconds, got 'soon'",
            "vigil.yaml:14:10: hooks.any.exec: must not be empty (give the program and its arguments)",
            "vigil.yaml:15:3: hooks.*: duplicate key (already given at line 14; '*' and 'any' are the same)",
        ], errors);
    }

    [Fact]
    public void An_mqtt_hook_needs_the_programs_transport_and_a_tether_section()
    {
        const string WithoutBroker = """
            processes: [{ command: [sleep, "1"], hooks: { exited: { mqtt: vigil/events } } }]
            """;
        Assert.Equal(["vigil.yaml:1:57: processes[0].hooks.exited.mqtt: publishes through the 'tether:' connection, and this config has no 'tether:' section (add one naming the broker)"],
            Errors(WithoutBroker, TestExtensions.Vigil));
        Assert.Equal(["vigil.yaml:1:57: processes[0].hooks.exited.mqtt: this program has no MQTT connection to publish through (the vigil executable has: it uses the broker of the 'tether:' section)"],
            Errors(WithoutBroker));

        var config = Parse("""
            hooks: { gave-up: { mqtt: { topic: site/vigil, qos: 0, retain: true, timeout: 3s } } }
            tether: { host: 127.0.0.1, port: 1884 }
            processes: [{ command: [sleep, "1"] }]
            """, TestExtensions.Vigil);
        var hook = Assert.IsType<MqttHook>(Assert.Single(config.Hooks.For("gave-up")));
        Assert.Equal(("site/vigil", 0, true, TimeSpan.FromSeconds(3)), (hook.Topic, hook.Qos, hook.Retain, hook.Timeout));
        Assert.Equal(["vigil.yaml:1:21: hooks.gave-up.mqtt.topic: a topic to publish on cannot hold '+', '#' or NUL, got 'a/+'"],
            Errors("""
                hooks: { gave-up: { mqtt: a/+ } }
                tether: {}
                processes: [{ command: [sleep, "1"] }]
                """, TestExtensions.Vigil));
    }

    [Fact]
    public void The_start_up_checks_find_an_exec_hook_whose_program_or_folder_is_missing()
    {
        var dir = Directory.CreateTempSubdirectory("vigil-hookcheck-");
        try
        {
            var file = Path.Combine(dir.FullName, "vigil.yaml");
            File.WriteAllText(file, """
                processes:
                  - command: [sleep, "1"]
                    hooks:
                      exited:
                        - { exec: [no-such-notifier-42, x] }
                        - { exec: [sh, -c, "true"], cwd: missing }
                        - { shell: "no-such-notifier-42" }
                hooks: { gave-up: { exec: [./not-here.sh] } }
                """);
            var errors = Assert.Throws<ConfigException>(() => ConfigLoader.LoadChecked(file)).Errors.Select(e => e.ToString()).ToList();
            Assert.Equal(3, errors.Count);
            Assert.StartsWith($"{file}:5:13: processes[0].hooks.exited[0].exec: cannot execute 'no-such-notifier-42': command not found in PATH", errors[0]);
            Assert.Equal($"{file}:6:37: processes[0].hooks.exited[1].cwd: working directory '{dir.FullName}/missing' does not exist", errors[1]);
            Assert.Equal($"{file}:8:21: hooks.gave-up.exec: cannot execute './not-here.sh': {Environment.CurrentDirectory}/not-here.sh does not exist", errors[2]);
        }
        finally { dir.Delete(recursive: true); }
    }

    [Theory]
    [InlineData("http://127.0.0.1:9000/alert", "http://127.0.0.1:9000/alert")]
    [InlineData("https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/services/…")]
    [InlineData("https://user:secret@example.com/hook?token=abc", "https://example.com/hook")]
    [InlineData("http://example.com", "http://example.com/")]
    public void A_webhook_is_shown_without_what_could_be_its_secret(string url, string shown) =>
        Assert.Equal(shown, new WebhookHook(new Uri(url)).Shown);

    [Fact]
    public void Saved_hooks_read_back_to_the_same_specs()
    {
        var config = Parse(Full);
        var yaml = ConfigWriter.ToYaml("shop", config.Processes, hooks: config.Hooks);
        var back = Parse(yaml);
        Assert.Empty(SpecDiff.Fields(config.Processes[0], back.Processes[0]));
        Assert.Equal(ConfigWriter.ToYaml("shop", config.Processes, hooks: config.Hooks), ConfigWriter.ToYaml("shop", back.Processes, hooks: back.Hooks));
        Assert.Contains("unhealthy: {webhook: \"http://127.0.0.1:9000/alert\"}", yaml);
    }

    [Fact]
    public void A_change_of_hooks_is_a_change_of_the_unit_named_hooks()
    {
        var before = Parse(Full).Processes[0];
        var after = Parse(Full.Replace("oops", "again")).Processes[0];
        Assert.Equal(["hooks"], SpecDiff.Fields(before, after));
        Assert.Equal(["hooks"], SpecDiff.Fields(before, before with { Hooks = null }));
    }
}
