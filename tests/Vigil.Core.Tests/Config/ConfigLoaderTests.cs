using System.Runtime.Versioning;
using Vigil.Config;
using Vigil.Tests.Support;
using Vigil.Tether;
using Vigil.Specs;
using Xunit;

namespace Vigil.Tests.Config;

[SupportedOSPlatform("linux")]
public class ConfigLoaderTests
{
    private const string Base = "/srv/app";

    private static VigilConfig Parse(string text, string name = "vigil.yaml") => ConfigLoader.Parse(text, name, Base, TestExtensions.Vigil);

    /// <summary>The errors for <paramref name="text"/>, as users see them.</summary>
    private static string[] Errors(string text, string name = "vigil.yaml", string baseDir = Base)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(text, name, baseDir, TestExtensions.Vigil));
        Assert.Equal(string.Join('\n', e.Errors), e.Message);
        return [.. e.Errors.Select(x => x.ToString())];
    }

    private static string Error(string text, string name = "vigil.yaml") => Assert.Single(Errors(text, name));

    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    // ---- valid files ----

    internal const string FullYaml = """
        # every key this version knows
        processes:
          - name: worker
            command: [python3, work.py, --batch, "1000"]
            args: [--verbose, 3, true]
            cwd: jobs
            env: { PYTHONUNBUFFERED: "1", DEBUG: true, RETRIES: 3, HOME: ~, LANG: null, QUOTED: "null", EMPTY: "" }
            detach: true
            restart:
              policy: on-failure
              schedule: [100ms, 1.5s, 5m, 1h, 250]
              resetAfter: 45s
              limit: { restarts: 5, within: 10m, then: stop }
            stop: { signal: SIGINT, timeout: 3s, killWait: 2s }
          - script: app.js
            cwd: /opt/app
            ipc: false
            restart:
              policy: never
              backoff: { initial: 200ms, multiplier: 1.5, max: 1m, jitter: 0.25 }
              limit: { restarts: 3, within: 1m, then: slow-retry, retryEvery: 2m }
            stop:
              signal: 9
        """;

    internal const string FullJson = """
        {
          "processes": [
            {
              "name": "worker",
              "command": ["python3", "work.py", "--batch", "1000"],
              "args": ["--verbose", 3, true],
              "cwd": "jobs",
              "env": { "PYTHONUNBUFFERED": "1", "DEBUG": true, "RETRIES": 3, "HOME": null, "LANG": null, "QUOTED": "null", "EMPTY": "" },
              "detach": true,
              "restart": {
                "policy": "on-failure",
                "schedule": ["100ms", "1.5s", "5m", "1h", 250],
                "resetAfter": "45s",
                "limit": { "restarts": 5, "within": "10m", "then": "stop" }
              },
              "stop": { "signal": "SIGINT", "timeout": "3s", "killWait": 2000 }
            },
            {
              "script": "app.js",
              "cwd": "/opt/app",
              "ipc": false,
              "restart": {
                "policy": "never",
                "backoff": { "initial": "200ms", "multiplier": 1.5, "max": "1m", "jitter": 0.25 },
                "limit": { "restarts": 3, "within": "1m", "then": "slow-retry", "retryEvery": "2m" }
              },
              "stop": {"signal":9}
            }
          ]
        }
        """;

    private static void AssertFull(VigilConfig config)
    {
        Assert.Equal(2, config.Processes.Count);
        var w = config.Processes[0];
        Assert.Equal("worker", w.Name);
        Assert.Equal(["python3", "work.py", "--batch", "1000"], w.Command.ToArray());
        Assert.Null(w.Script);
        Assert.Equal(["--verbose", "3", "true"], w.Args.ToArray());
        Assert.Equal("/srv/app/jobs", w.Cwd);
        Assert.Equal(7, w.Env.Count);
        Assert.Equal("1", w.Env["PYTHONUNBUFFERED"]);
        Assert.Equal("true", w.Env["DEBUG"]);
        Assert.Equal("3", w.Env["RETRIES"]);
        Assert.Null(w.Env["HOME"]);
        Assert.Null(w.Env["LANG"]);
        Assert.Equal("null", w.Env["QUOTED"]);
        Assert.Equal("", w.Env["EMPTY"]);
        Assert.True(w.Detach);
        Assert.Equal(RestartPolicyKind.OnFailure, w.Restart.Policy);
        Assert.Equal([Ms(100), Ms(1500), TimeSpan.FromMinutes(5), TimeSpan.FromHours(1), Ms(250)], w.Restart.Schedule.ToArray());
        Assert.Equal(TimeSpan.FromSeconds(45), w.Restart.ResetAfter);
        Assert.Null(w.Restart.Backoff);
        Assert.Equal(new CrashLoopLimit(5, TimeSpan.FromMinutes(10), LimitAction.Stop), w.Restart.Limit);
        Assert.Equal(new StopSpec { Signal = 2, Timeout = TimeSpan.FromSeconds(3), KillWait = TimeSpan.FromSeconds(2) }, w.Stop);

        var a = config.Processes[1];
        Assert.Null(a.Name);
        Assert.True(a.Command.IsEmpty);
        Assert.Equal("app.js", a.Script);
        Assert.Equal("/opt/app", a.Cwd);
        Assert.Empty(a.Env);
        Assert.False(a.Detach);
        Assert.False(a.Ipc); // given: no channel even for a .js script
        Assert.Null(w.Ipc); // not given: elife's rule decides
        Assert.Equal(RestartPolicyKind.Never, a.Restart.Policy);
        Assert.Equal(new BackoffSpec(Ms(200), 1.5, TimeSpan.FromMinutes(1), 0.25), a.Restart.Backoff);
        Assert.Equal(new CrashLoopLimit(3, TimeSpan.FromMinutes(1), LimitAction.SlowRetry, TimeSpan.FromMinutes(2)), a.Restart.Limit);
        Assert.Equal(RestartSpec.DefaultSchedule.ToArray(), a.Restart.Schedule.ToArray());
        Assert.Equal(new StopSpec { Signal = 9 }, a.Stop);
    }

    [Fact]
    public void Yaml_with_every_key_maps_to_specs() => AssertFull(Parse(FullYaml));

    [Fact]
    public void Json_with_every_key_maps_to_the_same_specs() => AssertFull(Parse(FullJson, "vigil.json"));

    [Fact]
    public void Source_path_is_the_source_name_for_parse() => Assert.Equal("inline", ConfigLoader.Parse("processes: [{command: x}]", "inline", Base).SourcePath);

    [Fact]
    public void Omitted_keys_keep_the_spec_defaults()
    {
        var p = Assert.Single(Parse("processes:\n  - command: [sleep, 1]\n").Processes);
        Assert.Equal(new ProcessSpec { Command = ["sleep", "1"] }.DisplayName, p.DisplayName);
        Assert.Null(p.Name);
        Assert.Null(p.Cwd);
        Assert.True(p.Args.IsEmpty);
        Assert.Empty(p.Env);
        Assert.False(p.Detach);
        Assert.Same(RestartSpec.Default, p.Restart);
        Assert.Same(StopSpec.Default, p.Stop);
    }

    [Fact]
    public void Null_values_keep_the_defaults()
    {
        var p = Assert.Single(Parse("processes:\n  - command: x\n    name: ~\n    restart:\n    stop: null\n    env:\n    args:\n").Processes);
        Assert.Null(p.Name);
        Assert.Same(RestartSpec.Default, p.Restart);
        Assert.Same(StopSpec.Default, p.Stop);
        Assert.Empty(p.Env);
        Assert.True(p.Args.IsEmpty);
    }

    [Fact]
    public void Command_as_one_string_is_split_like_a_shell_without_one()
    {
        var p = Assert.Single(Parse("""processes: [{ command: 'sh -c "echo \"hi there\"; exit 1" it\''s\ me $HOME' }]""").Processes);
        Assert.Equal(["sh", "-c", "echo \"hi there\"; exit 1", "it's me", "$HOME"], p.Command.ToArray());
    }

    [Fact]
    public void Empty_schedule_means_never_restart()
    {
        var p = Assert.Single(Parse("processes:\n  - command: x\n    restart: { schedule: [] }\n").Processes);
        Assert.True(p.Restart.Schedule.IsEmpty);
        Assert.True(p.Restart.ScheduleMeansNever);
    }

    [Fact]
    public void Backoff_defaults_fill_what_is_left_out()
    {
        var p = Assert.Single(Parse("processes:\n  - command: x\n    restart: { backoff: {} }\n").Processes);
        Assert.Equal(new BackoffSpec(TimeSpan.FromSeconds(1), 2, TimeSpan.FromMinutes(5), 0), p.Restart.Backoff);
        var q = Parse("processes:\n  - command: y\n    restart: { backoff: { initial: 10m } }\n").Processes[0];
        Assert.Equal(new BackoffSpec(TimeSpan.FromMinutes(10), 2, TimeSpan.FromMinutes(10), 0), q.Restart.Backoff);
    }

    [Theory]
    [InlineData("TERM", 15)]
    [InlineData("SIGTERM", 15)]
    [InlineData("sigkill", 9)]
    [InlineData("15", 15)]
    [InlineData("'15'", 15)]
    [InlineData("HUP", 1)]
    public void Stop_signal_accepts_names_and_numbers(string yaml, int expected) =>
        Assert.Equal(expected, Parse($"processes:\n  - command: x\n    stop: {{ signal: {yaml} }}\n").Processes[0].Stop.Signal);

    [Theory]
    [InlineData("always", RestartPolicyKind.Always)]
    [InlineData("on-failure", RestartPolicyKind.OnFailure)]
    [InlineData("never", RestartPolicyKind.Never)]
    [InlineData("Never", RestartPolicyKind.Never)]
    public void Restart_policies(string yaml, RestartPolicyKind expected) =>
        Assert.Equal(expected, Parse($"processes:\n  - command: x\n    restart: {{ policy: {yaml} }}\n").Processes[0].Restart.Policy);

    [Theory]
    [InlineData("100ms", 100)]
    [InlineData("1.5s", 1500)]
    [InlineData("5m", 300_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("250", 250)]
    [InlineData("0", 0)]
    [InlineData("'2s'", 2000)]
    [InlineData("\"750ms\"", 750)]
    public void Durations_in_every_form(string yaml, double ms)
    {
        var p = Parse($"processes:\n  - command: x\n    stop: {{ timeout: {yaml} }}\n").Processes[0];
        Assert.Equal(Ms(ms), p.Stop.Timeout);
    }

    [Theory]
    [InlineData("5 minutes", "'5 minutes'")]
    [InlineData("1.5", "'1.5'")]
    [InlineData("-1s", "'-1s'")]
    [InlineData("ten", "'ten'")]
    [InlineData("1s2", "'1s2'")]
    [InlineData("''", "''")]
    [InlineData("[1s]", "a list")]
    [InlineData("{ s: 1 }", "a mapping")]
    public void Bad_durations_say_what_is_expected(string yaml, string got) =>
        Assert.Equal($"vigil.yaml:3:13: processes[0].stop.timeout: expected {Durations.Expected}, got {got}",
            Error($"processes:\n  - command: x\n    stop: {{ timeout: {yaml} }}\n"));

    [Theory]
    [InlineData("99999999999999999")]   // past TimeSpan.MaxValue: an error, not an overflow exception
    [InlineData("999999999999h")]
    [InlineData("99999999999999999999999")]   // past long as well
    public void Durations_past_what_a_TimeSpan_holds_are_too_long(string yaml) =>
        Assert.Equal($"vigil.yaml:3:16: processes[0].restart.resetAfter: '{yaml}' is too long a duration (at most {Durations.MaxText})",
            Error($"processes:\n  - command: x\n    restart: {{ resetAfter: {yaml} }}\n"));

    [Fact]
    public void Bad_schedule_entries_are_each_reported_at_the_entry() =>
        Assert.Equal(
            [
                $"vigil.yaml:4:22: processes[0].restart.schedule[1]: expected {Durations.Expected}, got 'soon'",
                $"vigil.yaml:4:32: processes[0].restart.schedule[3]: expected {Durations.Expected}, got nothing",
            ],
            Errors("processes:\n  - command: x\n    restart:\n      schedule: [1s, soon, 2s, ~]\n"));

    // ---- files on disk ----

    [Fact]
    public void Relative_cwd_resolves_against_the_config_files_folder()
    {
        using var dir = new TempDir();
        var cfg = dir.Write("conf/vigil.yaml", "processes:\n  - command: x\n    cwd: ./jobs\n  - command: y\n    cwd: ../data\n  - command: z\n    cwd: /abs/path\n  - command: w\n");
        var config = ConfigLoader.Load(cfg);
        Assert.Equal(Path.GetFullPath(cfg), config.SourcePath);
        Assert.Equal(Path.Combine(dir.Path, "conf", "jobs"), config.Processes[0].Cwd);
        Assert.Equal(Path.Combine(dir.Path, "data"), config.Processes[1].Cwd);
        Assert.Equal("/abs/path", config.Processes[2].Cwd);
        Assert.Null(config.Processes[3].Cwd);
    }

    [Fact]
    public void Load_reads_json_files_too()
    {
        using var dir = new TempDir();
        var cfg = dir.Write("vigil.json", FullJson);
        var config = ConfigLoader.Load(cfg);
        Assert.Equal(Path.Combine(dir.Path, "jobs"), config.Processes[0].Cwd);
    }

    [Fact]
    public void Missing_file_is_an_error_at_line_0()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "nope.yaml");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
        Assert.Equal($"{path}:0:0: file does not exist", Assert.Single(e.Errors).ToString());
        Assert.Equal(new ConfigError(path, 0, 0, "", "file does not exist"), e.Errors[0]);
    }

    [Fact]
    public void A_folder_is_not_a_config_file()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(dir.Path));
        Assert.Equal($"{dir.Path}:0:0: is a folder, not a config file", Assert.Single(e.Errors).ToString());
    }

    [Fact]
    public void Errors_name_the_file_as_given_to_load()
    {
        using var dir = new TempDir();
        dir.Write("vigil.yaml", "processes:\n  - comand: x\n");
        var old = Environment.CurrentDirectory;
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(Path.Combine(Path.GetRelativePath(old, dir.Path), "vigil.yaml")));
        Assert.Equal(Path.Combine(Path.GetRelativePath(old, dir.Path), "vigil.yaml"), e.Errors[0].File);
    }

    [Fact]
    public void Neither_command_nor_script_is_fine_when_package_json_is_in_cwd()
    {
        using var dir = new TempDir();
        dir.Write("app/package.json", """{ "main": "server.js" }""");
        var p = Assert.Single(ConfigLoader.Parse("processes:\n  - name: app\n    cwd: app\n", "v.yaml", dir.Path).Processes);
        Assert.True(p.Command.IsEmpty);
        Assert.Null(p.Script);

        dir.Write("package.json", "{}");
        Assert.Single(ConfigLoader.Parse("processes:\n  - name: app\n", "v.yaml", dir.Path).Processes);
    }

    [Fact]
    public void Neither_command_nor_script_is_an_error_without_package_json()
    {
        using var dir = new TempDir();
        Assert.Equal(["v.yaml:2:5: processes[0]: needs 'command' or 'script'"],
            Errors("processes:\n  - name: app\n    cwd: app\n", "v.yaml", dir.Path));
    }

    // ---- errors ----

    [Fact]
    public void Wrong_policy_names_the_choices() =>
        Assert.Equal("vigil.yaml:5:7: processes[0].restart.policy: expected always, on-failure or never, got 'sometimes'",
            Error("processes:\n  - name: web\n    command: x\n    restart:\n      policy: sometimes\n"));

    [Fact]
    public void Unknown_key_suggests_the_nearest_known_key() =>
        Assert.Equal(
            [
                "vigil.yaml:2:5: processes[0]: needs 'command' or 'script'",
                "vigil.yaml:4:5: processes[0].comand: unknown key; did you mean 'command'?",
            ],
            Errors("processes:\n  - name: web\n    # a comment\n    comand: [x]\n"));

    [Theory]
    [InlineData("Command", "command")]
    [InlineData("scirpt", "script")]
    [InlineData("environment", null)]
    [InlineData("restarts", "restart")]
    [InlineData("arg", "args")]
    [InlineData("stopp", "stop")]
    [InlineData("helth", "health")]
    [InlineData("zzz", null)]
    public void Suggestions_only_when_reasonably_close(string typed, string? suggested)
    {
        var error = Error($"processes:\n  - command: x\n    {typed}: 1\n");
        var expected = suggested is null
            ? $"vigil.yaml:3:5: processes[0].{typed}: unknown key (expected one of: name, command, script, args, cwd, env, detach, ipc, tty, tmux, restart, stop, log, health, hooks, autostart, cpuAffinity, attach)"
            : $"vigil.yaml:3:5: processes[0].{typed}: unknown key; did you mean '{suggested}'?";
        Assert.Equal(expected, error);
    }

    [Fact]
    public void Unknown_top_level_key() =>
        Assert.Equal(
            [
                "vigil.yaml:1:1: proceses: unknown key; did you mean 'processes'?",
                "vigil.yaml:1:1: processes: no processes to run",
            ],
            Errors("proceses:\n  - command: x\n"));

    [Fact]
    public void Unknown_keys_in_nested_mappings()
    {
        Assert.Equal(
            [
                "vigil.yaml:3:16: processes[0].restart.resetafter: unknown key; did you mean 'resetAfter'?",
                "vigil.yaml:3:32: processes[0].restart.backof: unknown key; did you mean 'backoff'?",
                "vigil.yaml:3:44: processes[0].restart.limit: missing 'restarts' (how many restarts are allowed within 'within')",
                "vigil.yaml:3:53: processes[0].restart.limit.restart: unknown key; did you mean 'restarts'?",
                "vigil.yaml:4:13: processes[0].stop.killwait: unknown key; did you mean 'killWait'?",
                "vigil.yaml:4:27: processes[0].stop.sginal: unknown key; did you mean 'signal'?",
            ],
            Errors("processes:\n  - command: x\n    restart: { resetafter: 1s, backof: {}, limit: { restart: 1, within: 1m } }\n    stop: { killwait: 1s, sginal: TERM }\n"));
    }

    [Fact]
    public void Instance_name_and_status_events_are_read_and_written_back()
    {
        var plain = Parse("processes:\n  - command: x\n");
        Assert.Equal(("default", Vigil.Supervision.StatusEvents.Significant), (plain.Name, plain.StatusEvents));
        var set = Parse("name: shop-1\nevents: { status: all }\nprocesses:\n  - command: x\n");
        Assert.Equal(("shop-1", Vigil.Supervision.StatusEvents.All), (set.Name, set.StatusEvents));
        var again = Parse(ConfigWriter.ToYaml(set.Name, set.Processes, set.Sections, set.StatusEvents, TestExtensions.Vigil));
        Assert.Equal(("shop-1", Vigil.Supervision.StatusEvents.All), (again.Name, again.StatusEvents));
        Assert.Equal(
            [
                "vigil.yaml:1:1: name: expected 1 to 64 letters, digits, '-', '_' or '.' (not starting with '.'), got 'a/b'",
                "vigil.yaml:2:11: events.status: expected significant or all, got 'some'",
                "vigil.yaml:2:25: events.stats: unknown key; did you mean 'status'?",
            ],
            Errors("name: a/b\nevents: { status: some, stats: all }\nprocesses:\n  - command: x\n"));
    }

    [Fact]
    public void Health_and_tether_sections_are_read_with_their_positions_in_errors() =>
        Assert.Equal(
            [
                "vigil.yaml:6:22: processes[0].health[0].address: expected host:port, got '127.0.0.1'",
                "vigil.yaml:7:28: tether.port: expected a port 1-65535, got 0",
            ],
            Errors("processes:\n  - name: web\n    command: x\n    log: { file: web.log }\n    health:\n      - { kind: tcp, address: \"127.0.0.1\" }\ntether: { host: localhost, port: 0 }\n"));

    [Fact]
    public void Wrong_node_kinds_get_precise_messages() =>
        Assert.Equal(
            [
                "vigil.yaml:2:5: processes[0].name: expected a string, got a list",
                "vigil.yaml:3:5: processes[0].command: expected a list of strings (or one command line), got a mapping",
                "vigil.yaml:4:5: processes[0].args: expected a list of strings, got '--verbose'",
                "vigil.yaml:5:5: processes[0].env: expected a mapping of variable names to values, got a list",
                "vigil.yaml:6:5: processes[0].detach: expected true or false, got 'yes please'",
                "vigil.yaml:7:5: processes[0].restart: expected a mapping, got 'always'",
                "vigil.yaml:8:5: processes[0].stop: expected a mapping, got a list",
                "vigil.yaml:9:5: processes[0].cwd: expected a string, got a mapping",
                "vigil.yaml:10:5: processes[1]: expected a mapping with the process's keys (name, command, …), got 'npm start'",
                "vigil.yaml:11:17: processes[2].args[1]: expected a string, got a mapping",
                "vigil.yaml:11:25: processes[2].args[2]: expected a string, got nothing",
                "vigil.yaml:12:26: processes[3].env.A: expected a string, number, true/false, or null to remove the variable, got a list",
                "vigil.yaml:13:7: processes[3].restart.schedule: expected a list of durations (like [100ms, 1s, 1m], or [] to never restart), got '1s'",
                "vigil.yaml:15:9: processes[3].restart.limit.restarts: expected a whole number, got 'five'",
                "vigil.yaml:15:27: processes[3].restart.backoff: give either 'schedule' or 'backoff', not both",
                "vigil.yaml:16:7: processes[3].restart.backoff.multiplier: expected a number, got 'double'",
            ],
            Errors("""
                processes:
                  - name: [a]
                    command: { run: x }
                    args: --verbose
                    env: [A=1]
                    detach: yes please
                    restart: always
                    stop: [TERM]
                    cwd: { path: x }
                  - npm start
                  - { args: [a, {b: c}, ~], command: x }
                  - { command: x, env: { A: [1] }, restart: {
                      schedule: 1s,
                      limit: { within: 1m,
                        restarts: five }, backoff: {
                      multiplier: double } } }
                """));

    [Fact]
    public void Missing_empty_or_non_list_processes()
    {
        Assert.Equal("e.yaml:1:1: processes: no processes to run", Error("", "e.yaml"));
        Assert.Equal("e.yaml:1:1: processes: no processes to run", Error("# only a comment\n", "e.yaml"));
        Assert.Equal("e.yaml:1:1: processes: no processes to run", Error("processes:\n", "e.yaml"));
        Assert.Equal("e.yaml:2:1: processes: no processes to run (the list is empty)", Error("# c\nprocesses: []\n", "e.yaml"));
        Assert.Equal("e.yaml:1:3: processes: no processes to run (the list is empty)", Error("{ processes: [] }", "e.yaml"));
        Assert.Equal("e.yaml:1:1: processes: no processes to run", Error("{}", "e.yaml"));
        Assert.Equal("e.yaml:1:1: processes: expected a list of processes, got a mapping", Error("processes: { web: { command: x } }", "e.yaml"));
        Assert.Equal("e.yaml:1:1: expected a mapping with a 'processes' list at the top level, got a list", Error("- command: x\n", "e.yaml"));
        Assert.Equal("e.yaml:1:1: expected a mapping with a 'processes' list at the top level, got 'hello'", Error("hello\n", "e.yaml"));
    }

    [Fact]
    public void Empty_command_is_an_error() =>
        Assert.Equal(
            [
                "vigil.yaml:2:5: processes[0].command: must not be empty (give the program and its arguments)",
                "vigil.yaml:3:5: processes[1].command: must not be empty (give the program and its arguments)",
                "vigil.yaml:4:5: processes[2].command: must not be empty (give the program and its arguments)",
            ],
            Errors("processes:\n  - command: []\n  - command: \"  \"\n  - command: ''\n"));

    [Fact]
    public void Bad_command_string_quoting_is_an_error() =>
        Assert.Equal("vigil.yaml:2:5: processes[0].command: unterminated double quote (opened at character 7)",
            Error("processes:\n  - command: 'sh -c \"echo'\n"));

    [Fact]
    public void Syntax_errors_have_their_position()
    {
        var e = Error("processes:\n  - name: a\n  command: x\n");
        Assert.StartsWith("vigil.yaml:3:3: not valid YAML or JSON: ", e);
        Assert.DoesNotContain("Line:", e);
        Assert.StartsWith("vigil.json:2:", Error("{ \"processes\": [\n  { \"command\": \"x\" ]\n}", "vigil.json"));
        Assert.StartsWith("vigil.yaml:3:14: not valid YAML or JSON: ", Error("processes:\n  - name: a\n    command: 'x\n"));
    }

    [Fact]
    public void Malformed_input_that_trips_the_yaml_scanner_is_still_a_config_error()
    {
        // YamlDotNet throws InvalidOperationException (not a YamlException) for a flow collection's line indented
        // less than its block parent.
        Assert.Equal("vigil.yaml:3:1: not valid YAML or JSON: could not parse this (is a line of a { } or [ ] collection indented less than its parent?)",
            Error("processes:\n  - { command: x, stop: {\ntimeout: 1s } }\n"));
        var tab = Error("processes:\n  - command: x\n\tstop: {}\n");   // YamlDotNet places it where the scalar before the tab ends
        Assert.StartsWith("vigil.yaml:2:14: not valid YAML or JSON: ", tab);
        Assert.Contains("tab", tab, StringComparison.Ordinal);
        Assert.Equal("vigil.yaml:1:102: not valid YAML or JSON: nested more than 100 levels deep", Error(new string('[', 5000)));
    }

    [Fact]
    public void A_byte_order_mark_is_ignored() => Assert.Single(Parse("\uFEFFprocesses:\n  - command: x\n").Processes);

    [Fact]
    public void Yaml_features_anchors_and_a_single_document()
    {
        var d = Parse("processes:\n  - command: x\n    stop: &s { signal: INT }\n  - command: y\n    stop: *s\n");
        Assert.Equal(2, d.Processes[1].Stop.Signal);
        Assert.Equal("vigil.yaml:2:5: not valid YAML or JSON: unknown alias '*nope'", Error("processes:\n  - *nope\n"));
        Assert.Equal("vigil.yaml:2:1: not valid YAML or JSON: only one YAML document is allowed in a config file",
            Error("processes: [{command: x}]\n---\nprocesses: [{command: y}]\n"));
    }

    [Fact]
    public void Duplicate_keys_are_errors() =>
        Assert.Equal(
            [
                "vigil.yaml:4:5: processes[0].name: duplicate key (already given at line 2)",
                "vigil.yaml:5:18: processes[0].env.A: duplicate variable",
            ],
            Errors("processes:\n  - name: a\n    command: x\n    name: b\n    env: { A: 1, A: 2 }\n"));

    [Fact]
    public void Schedule_and_backoff_together_is_an_error() =>
        Assert.Equal("vigil.yaml:5:7: processes[0].restart.backoff: give either 'schedule' or 'backoff', not both",
            Error("processes:\n  - command: x\n    restart:\n      schedule: [1s]\n      backoff: { initial: 1s }\n"));

    [Fact]
    public void Limit_needs_restarts_and_within() =>
        Assert.Equal(
            [
                "vigil.yaml:3:16: processes[0].restart.limit: missing 'restarts' (how many restarts are allowed within 'within')",
                "vigil.yaml:3:16: processes[0].restart.limit: missing 'within' (a duration like 10m)",
                "vigil.yaml:5:25: processes[1].restart.limit.within: expected a duration like 100ms, 1.5s, 5m, 1h or integer milliseconds, got 'x'",
                "vigil.yaml:5:48: processes[1].restart.limit.retryEvery: only applies when 'then' is slow-retry",
                "vigil.yaml:6:39: processes[2].restart.limit.then: expected slow-retry or stop, got 'panic'",
            ],
            Errors("""
                processes:
                  - command: x
                    restart: { limit: { then: stop } }
                  - command: x
                    restart: { limit: { within: x, then: stop, retryEvery: 1m, restarts: 1 } }
                  - { command: x, restart: { limit: { then: panic, restarts: 1, within: 1s } } }
                """));

    [Fact]
    public void Spec_validation_errors_point_at_the_offending_key() =>
        Assert.Equal(
            [
                "vigil.yaml:2:5: processes[0].name: must not be empty (leave it out for an unnamed unit)",
                "vigil.yaml:5:18: processes[0].restart.backoff.multiplier: must be a number ≥ 1",
                "vigil.yaml:5:35: processes[0].restart.backoff.jitter: must be between 0 and 1",
                "vigil.yaml:6:7: processes[0].restart.resetAfter: must be a positive duration",
                "vigil.yaml:7:16: processes[0].restart.limit.restarts: must be 0 or more",
                "vigil.yaml:8:26: processes[0].stop.killWait: must be a positive duration",
                "vigil.yaml:9:5: processes[0].env: '' is not a valid variable name",
                "vigil.yaml:10:5: processes[1].command/script: give either command or script, not both",
                "vigil.yaml:11:5: processes[2].command: the first element (the program) is empty",
            ],
            Errors("""
                processes:
                  - name: ""
                    command: x
                    restart:
                      backoff: { multiplier: 0.5, jitter: 2, max: 1m }
                      resetAfter: 0
                      limit: { restarts: -1, within: 1m }
                    stop: { timeout: 1s, killWait: 0 }
                    env: { "": x }
                  - { command: x, script: y.js }
                  - command: ["", x]
                """));

    [Fact]
    public void Errors_from_several_places_are_all_reported_in_file_order()
    {
        var e = Assert.Throws<ConfigException>(() => Parse("""
            processes:
              - name: web
                comand: [node, server.js]
                restart:
                  policy: sometimes
                  schedule: [1s, 2 sec]
                stop: { signal: TERMINATE, timeout: forever }
              - command: x
                detach: maybe
            tether: { prot: 1883 }
            extra: 1
            """));
        Assert.Equal(
            [
                "vigil.yaml:2:5: processes[0]: needs 'command' or 'script'",
                "vigil.yaml:3:5: processes[0].comand: unknown key; did you mean 'command'?",
                "vigil.yaml:5:7: processes[0].restart.policy: expected always, on-failure or never, got 'sometimes'",
                $"vigil.yaml:6:22: processes[0].restart.schedule[1]: expected {Durations.Expected}, got '2 sec'",
                "vigil.yaml:7:13: processes[0].stop.signal: expected a signal like TERM, SIGTERM or a number 1-64, got 'TERMINATE'",
                $"vigil.yaml:7:32: processes[0].stop.timeout: expected {Durations.Expected}, got 'forever'",
                "vigil.yaml:9:5: processes[1].detach: expected true or false, got 'maybe'",
                "vigil.yaml:10:11: tether.prot: unknown key; did you mean 'port'?",
                "vigil.yaml:11:1: extra: unknown key (expected one of: name, processes, tether, telemetry, events, history, hooks, templates)",
            ],
            e.Errors.Select(x => x.ToString()));
        Assert.Equal(string.Join('\n', e.Errors), e.Message);
        Assert.Equal(new ConfigError("vigil.yaml", 5, 7, "processes[0].restart.policy", "expected always, on-failure or never, got 'sometimes'"), e.Errors[2]);
    }

    [Fact]
    public void Json_errors_have_positions_too() =>
        Assert.Equal(
            [
                "vigil.json:3:20: processes[0].comand: unknown key; did you mean 'command'?",
                "vigil.json:4:36: processes[1].restart.policy: expected always, on-failure or never, got 'sometimes'",
            ],
            Errors("""
                {
                  "processes": [
                    { "name": "a", "comand": ["x"], "script": "a.js" },
                    { "command": "x", "restart": { "policy": "sometimes" } }
                  ]
                }
                """, "vigil.json"));

    [Fact]
    public void Error_without_a_key_path_has_no_empty_key() =>
        Assert.Equal("f.yaml:0:0: file does not exist", new ConfigError("f.yaml", 0, 0, "", "file does not exist").ToString());
}

/// <summary>A temporary folder, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("vigil-config-").FullName;

    public string Write(string relative, string content)
    {
        var full = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        return full;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
