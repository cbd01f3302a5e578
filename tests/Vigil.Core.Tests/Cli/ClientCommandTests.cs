using System.Text.Json;
using Vigil.Cli;
using Vigil.Cli.Output;
using Vigil.Control;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>Unit: what the client commands print for given answers of the control interface, and their exit codes
/// (a canned <see cref="FakeControl"/>; the real socket is tested end to end).</summary>
public sealed class ClientCommandTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 6, 0, 0, TimeSpan.Zero);

    private static UnitInfo Web(int id = 1, int? pid = 4121) => new()
    {
        Id = id, Name = "web", State = "running", Pid = pid, Status = "sleeping", Ready = true, Restarts = 2,
        UptimeSeconds = 75, CpuPercent = 1.24, RssBytes = 12 * 1024 * 1024,
    };

    private static UnitInfo Crasher() => new()
    {
        Id = 3, Name = "crasher", State = "backoff", Pid = null, Status = "-", Ready = null, Restarts = 4,
        LastExit = "exited with code 3", NextRestartInSeconds = 9.2,
    };

    [Fact]
    public async Task Ls_prints_one_aligned_row_per_unit_with_every_column()
    {
        var fake = new FakeControl { Units = [Web(), Crasher()] };
        var (code, output, err) = await fake.Run("ls");
        Assert.Equal(0, code);
        Assert.Equal("", err);
        var lines = output.TrimEnd('\n').Split('\n');
        Assert.Equal("NAME     STATE          PID   STATUS    READY  UPTIME  RESTARTS  LAST EXIT           CPU%  RSS", lines[0]);
        Assert.Equal("web      running        4121  sleeping  yes    1m15s   2         -                   1.2   12MiB", lines[1]);
        Assert.Equal("crasher  backoff (10s)  -     -         -      -       4         exited with code 3  -     -", lines[2]);
        Assert.DoesNotContain('\e', output); // not a terminal: no colour
        Assert.True(fake.Disposed, "the connection was not closed");
    }

    [Fact]
    public async Task Ls_colours_the_state_on_a_terminal_without_moving_the_columns()
    {
        var fake = new FakeControl { Units = [Web(), Crasher()] };
        var (_, coloured, _) = await fake.Run(color: true, "ls");
        var (_, plain, _) = await fake.Run(color: false, "ls");
        Assert.Contains("\e[32mrunning", coloured);
        Assert.Contains("\e[33mbackoff (10s)\e[0m", coloured);
        Assert.Equal(plain, System.Text.RegularExpressions.Regex.Replace(coloured, @"\e\[\d+m", ""));
    }

    [Fact]
    public async Task Ls_json_is_an_array_with_the_protocol_s_camelCase_fields_and_a_null_pid()
    {
        var fake = new FakeControl { Units = [Web(), Crasher()] };
        var (code, output, _) = await fake.Run("ls", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(JsonValueKind.Array, doc.RootElement.ValueKind);
        var web = doc.RootElement[0];
        foreach (var field in new[] { "id", "name", "state", "pid", "status", "ready", "restarts", "uptimeSeconds", "lastExit", "cpuPercent", "rssBytes" })
            Assert.True(web.TryGetProperty(field, out _), $"ls --json lacks {field}: {web}");
        Assert.Equal(4121, web.GetProperty("pid").GetInt32());
        Assert.Equal("running", web.GetProperty("state").GetString());
        var crasher = doc.RootElement[1];
        Assert.Equal(JsonValueKind.Null, crasher.GetProperty("pid").ValueKind);
        Assert.Equal(JsonValueKind.Null, crasher.GetProperty("ready").ValueKind);
        Assert.Equal("exited with code 3", crasher.GetProperty("lastExit").GetString());
    }

    [Fact]
    public async Task Status_prints_the_unit_s_command_restart_schedule_probes_and_recent_events()
    {
        var detail = new UnitDetail
        {
            Id = 1, Name = "web", State = "running", Pid = 4121, Status = "sleeping", Ready = true, UptimeSeconds = 3725,
            Command = "node", Args = ["server.js", "--port", "8080", "a b"], Cwd = "/srv/web",
            Restart = new RestartInfo { Policy = "always", Schedule = "100ms, 500ms, 1s", Attempt = 1, Limit = "5 within 10m, then slow-retry" },
            Stop = new StopInfo { Signal = "SIGTERM", TimeoutSeconds = 10, KillWaitSeconds = 5 },
            Probes = [new ProbeInfo { Name = "http", Kind = "http", Role = "liveness", Action = "restart", Result = "failing", LatencyMs = 12.5, ConsecutiveFailures = 2, Detail = "HTTP 503" }],
            LogFiles = ["/var/log/web.log"],
            DroppedLogLines = 7,
            RecentEvents = [new EventInfo { Time = T0, Name = "web", Pid = 4121, Kind = "spawned", Reason = "started node server.js" }],
        };
        var fake = new FakeControl { Details = [detail] };
        var (code, output, _) = await fake.Run("status", "web");
        Assert.Equal(0, code);
        Assert.Contains("web (unit 1): running", output);
        Assert.Contains("command    node server.js --port 8080 'a b'", output);
        Assert.Contains("cwd        /srv/web", output);
        Assert.Contains("pid        4121 (sleeping, up 1h2m)", output);
        Assert.Contains("restart    always, schedule 100ms, 500ms, 1s; attempt 1; limit 5 within 10m, then slow-retry", output);
        Assert.Contains("stop       SIGTERM, then SIGKILL after 10s (kill wait 5s)", output);
        Assert.Contains("probe      http (http, liveness, action restart): failing, 12.5ms, 2 failure(s) in a row — HTTP 503", output);
        Assert.Contains("logs       /var/log/web.log", output);
        Assert.Contains("dropped    7 log line(s)", output);
        Assert.Contains(EventPrinter.Format(detail.RecentEvents[0]), output);

        var (_, json, _) = await fake.Run("status", "web", "--json");
        using var doc = JsonDocument.Parse(json);
        var u = doc.RootElement[0];
        Assert.Equal("node", u.GetProperty("command").GetString());
        Assert.Equal(4, u.GetProperty("args").GetArrayLength());
        Assert.Equal("always", u.GetProperty("restart").GetProperty("policy").GetString());
        Assert.Equal(12.5, u.GetProperty("probes")[0].GetProperty("latencyMs").GetDouble());
        Assert.Equal(7, u.GetProperty("droppedLogLines").GetInt64());
    }

    [Theory]
    [InlineData("start")]
    [InlineData("stop")]
    [InlineData("restart")]
    [InlineData("kill")]
    public async Task An_action_prints_one_line_per_unit_and_exits_1_when_one_failed(string verb)
    {
        var fake = new FakeControl
        {
            Outcomes =
            {
                ["web"] = new ActionOutcome { Id = 1, Name = "web", Outcome = "done", Ok = true, Pid = 4121 },
                ["db"] = new ActionOutcome { Id = 2, Name = "db", Outcome = "failed", Ok = false, Detail = "cannot execute 'pg': no such file" },
            },
        };
        var (ok, okOut, _) = await fake.Run(verb, "web");
        Assert.Equal(0, ok);
        Assert.Equal("web#4121 done\n", okOut);
        var (failed, failedOut, _) = await fake.Run(verb, "web", "db");
        Assert.Equal(1, failed);
        Assert.Equal("web#4121 done\ndb failed: cannot execute 'pg': no such file\n", failedOut);
        Assert.Contains($"{verb} web,db", fake.Calls.Select(c => c.Replace("-nowait", "")));
    }

    [Fact]
    public async Task No_wait_is_passed_on_and_json_prints_the_outcomes()
    {
        var fake = new FakeControl();
        var (code, output, _) = await fake.Run("stop", "all", "--no-wait", "--json");
        Assert.Equal(0, code);
        Assert.Contains("stop-nowait all", fake.Calls);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal("all", doc.RootElement[0].GetProperty("name").GetString());
        Assert.True(doc.RootElement[0].GetProperty("ok").GetBoolean());
    }

    [Theory]
    [InlineData("HUP", 1)]
    [InlineData("SIGUSR1", 10)]
    [InlineData("usr2", 12)]
    [InlineData("9", 9)]
    public async Task Signal_takes_a_name_or_a_number(string sig, int number)
    {
        var fake = new FakeControl();
        var (code, _, _) = await fake.Run("signal", sig, "web");
        Assert.Equal(0, code);
        Assert.Equal(number, fake.Signal);
    }

    [Fact]
    public async Task A_bad_signal_is_a_usage_error_and_nothing_is_sent()
    {
        var fake = new FakeControl();
        var (code, _, err) = await fake.Run("signal", "HANGUP", "web");
        Assert.Equal(2, code);
        Assert.Contains("signal: expected a name like HUP or SIGUSR1, or a number from 1 to 64, got 'HANGUP'", err);
        Assert.Null(fake.Signal);
    }

    [Fact]
    public async Task Exit_codes_come_from_the_control_error_3_no_vigil_4_no_unit_with_the_nearest_name()
    {
        var notRunning = new FakeControl { Fail = new ControlException(ControlErrors.NotRunning, "no running vigil (no socket at /run/x.sock); start one with 'vigil run'") };
        var (code3, _, err3) = await notRunning.Run("ls");
        Assert.Equal(3, code3);
        Assert.Equal("vigil: no running vigil (no socket at /run/x.sock); start one with 'vigil run'\n", err3);

        var noUnit = new FakeControl { Fail = new ControlException(ControlErrors.NoSuchUnit, "no unit named 'wbe'", suggestion: "web") };
        var (code4, _, err4) = await noUnit.Run("restart", "wbe");
        Assert.Equal(4, code4);
        Assert.Equal("vigil: no unit named 'wbe'; did you mean 'web'?\n", err4);
    }

    [Theory]
    [InlineData(ControlErrors.NotRunning, 3)]
    [InlineData(ControlErrors.NoSuchUnit, 4)]
    [InlineData(ControlErrors.ConfigError, 2)]
    [InlineData(ControlErrors.BadRequest, 2)]
    [InlineData(ControlErrors.TooLarge, 2)]
    [InlineData(ControlErrors.UnknownVerb, 1)]
    [InlineData(ControlErrors.Refused, 1)]
    [InlineData(ControlErrors.Unsupported, 1)]
    [InlineData(ControlErrors.Internal, 1)]
    public void Every_control_error_code_maps_to_one_exit_code(string code, int exit) =>
        Assert.Equal(exit, ExitCodes.For(new ControlException(code, "x")));

    [Fact]
    public async Task Reload_prints_the_diff_and_an_invalid_config_its_errors_with_exit_2()
    {
        var fake = new FakeControl
        {
            Reload = new ReloadResult
            {
                Changes =
                [
                    new UnitChange { Change = "unchanged", Name = "db" },
                    new UnitChange { Change = "changed", Name = "web", Fields = ["command", "env"] },
                    new UnitChange { Change = "added", Name = "worker" },
                    new UnitChange { Change = "removed", Name = "old" },
                ],
            },
        };
        var (code, output, _) = await fake.Run("reload");
        Assert.Equal(0, code);
        Assert.Equal("~ web (command, env)\n+ worker\n- old\n", output);
        var (dry, dryOut, _) = await fake.Run("reload", "--dry-run");
        Assert.Equal(0, dry);
        Assert.Contains("reload --dry-run", fake.Calls);
        Assert.EndsWith("- old\ndry run: nothing was changed\n", dryOut);
        var (_, json, _) = await fake.Run("reload", "--json");
        using (var doc = JsonDocument.Parse(json))
        {
            Assert.False(doc.RootElement.GetProperty("dryRun").GetBoolean());
            Assert.Equal("changed", doc.RootElement.GetProperty("changes")[1].GetProperty("change").GetString());
            Assert.Equal("env", doc.RootElement.GetProperty("changes")[1].GetProperty("fields")[1].GetString());
        }

        var invalid = new FakeControl
        {
            Fail = new ControlException(ControlErrors.ConfigError, "/etc/vigil.yaml: 2 error(s); nothing was changed",
                details: ["/etc/vigil.yaml:3:5: processes[0].comand: unknown key; did you mean 'command'?", "/etc/vigil.yaml:9:14: processes[1].cwd: does not exist"]),
        };
        var (bad, _, err) = await invalid.Run("reload");
        Assert.Equal(2, bad);
        Assert.Equal("/etc/vigil.yaml:3:5: processes[0].comand: unknown key; did you mean 'command'?\n/etc/vigil.yaml:9:14: processes[1].cwd: does not exist\n"
            + "vigil: /etc/vigil.yaml: 2 error(s); nothing was changed\n", err);
    }

    [Fact]
    public async Task A_refused_add_says_its_problem_once()
    {
        var fake = new FakeControl
        {
            Fail = new ControlException(ControlErrors.ConfigError, "cannot add 'api': command 'nodd' not found in PATH", details: ["command 'nodd' not found in PATH"]),
        };
        var (code, _, err) = await fake.Run("add", "api", "--", "nodd", "app.js");
        Assert.Equal(2, code);
        Assert.Equal("vigil: cannot add 'api': command 'nodd' not found in PATH\n", err);
    }

    [Fact]
    public async Task Logs_of_several_units_are_prefixed_one_unit_s_are_printed_as_written()
    {
        var fake = new FakeControl
        {
            Lines =
            [
                new LogLine { Time = T0, UnitId = 1, Name = "web", Pid = 10, Stream = "out", Text = "listening" },
                new LogLine { Time = T0.AddSeconds(1), UnitId = 2, Name = "db", Pid = 11, Stream = "err", Text = "ready" },
            ],
        };
        var (code, all, _) = await fake.Run("logs");
        Assert.Equal(0, code);
        Assert.Equal("web | listening\ndb | ready\n", all);
        Assert.Empty(fake.Query!.Names);
        Assert.Equal(20, fake.Query.Lines);

        var (_, one, _) = await fake.Run("logs", "web", "-n", "5");
        Assert.Equal("listening\nready\n", one);
        Assert.Equal(["web"], fake.Query.Names);
        Assert.Equal(5, fake.Query.Lines);

        var (_, stamped, _) = await fake.Run("logs", "web", "--timestamps");
        Assert.StartsWith(T0.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss.fff ", System.Globalization.CultureInfo.InvariantCulture) + "listening\n", stamped);

        var (_, coloured, _) = await fake.Run(color: true, "logs", "web", "db", "-f");
        Assert.Contains("logs -f", fake.Calls);
        var prefixes = System.Text.RegularExpressions.Regex.Matches(coloured, @"(\e\[\d+m)(web|db) \|\e\[0m ");
        Assert.Equal(2, prefixes.Count);
        Assert.NotEqual(prefixes[0].Groups[1].Value, prefixes[1].Groups[1].Value); // a colour per unit
    }

    [Fact]
    public async Task Logs_since_a_duration_asks_for_lines_after_that_time_and_a_bad_one_is_a_usage_error()
    {
        var fake = new FakeControl();
        var before = DateTimeOffset.UtcNow;
        var (code, _, _) = await fake.Run("logs", "--since", "10m");
        Assert.Equal(0, code);
        Assert.InRange(fake.Query!.Since!.Value, before - TimeSpan.FromMinutes(10) - TimeSpan.FromMinutes(1), DateTimeOffset.UtcNow - TimeSpan.FromMinutes(10));
        var (bad, _, err) = await fake.Run("logs", "--since", "yesterday-ish");
        Assert.Equal(2, bad);
        Assert.Contains("--since: expected", err);
    }

    [Fact]
    public async Task Events_are_printed_as_vigil_run_prints_them_and_as_json()
    {
        var ev = new EventInfo { Time = T0, UnitId = 1, Name = "web", Pid = 4121, State = "running", Kind = "spawned", Reason = "started node (restart 1)" };
        var fake = new FakeControl { Events = [ev, ev with { Pid = null, Kind = "backoff", Reason = "restarting in 1s", State = "backoff" }] };
        var (code, output, _) = await fake.Run("events");
        Assert.Equal(0, code);
        var spawned = new Vigil.Supervision.Spawned(T0, 1, "web", 4121, "node", 1);
        Assert.Equal(EventPrinter.Format(spawned) + "\n" + EventPrinter.Format(new Vigil.Supervision.BackingOff(T0, 1, "web", TimeSpan.FromSeconds(1), 1)) + "\n", output);

        var (_, json, _) = await fake.Run("events", "--json");
        using (var doc = JsonDocument.Parse(json))
            Assert.Equal("spawned", doc.RootElement[0].GetProperty("kind").GetString());
        var (_, lines, _) = await fake.Run("events", "-f", "--json");
        var each = lines.TrimEnd('\n').Split('\n');
        Assert.Equal(2, each.Length); // one object per line while following
        Assert.All(each, l => Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(l).RootElement.ValueKind));
    }

    [Fact]
    public async Task Add_sends_the_command_after_dashes_with_its_own_flags_an_absolute_cwd_and_the_env()
    {
        var fake = new FakeControl();
        var (code, output, _) = await fake.Run("add", "api", "--restart", "on-failure", "--cwd", "jobs", "--env", "A=1", "--env", "B=x=y",
            "--", "node", "app.js", "--port", "3000");
        Assert.Equal(0, code);
        Assert.Equal("api#100 add\n", output);
        var req = fake.Added!;
        Assert.Equal("api", req.Name);
        Assert.Equal(["node", "app.js", "--port", "3000"], req.Command);
        Assert.Equal(Path.GetFullPath("jobs"), req.Cwd);
        Assert.Equal("on-failure", req.Restart);
        Assert.Equal("1", req.Env!["A"]);
        Assert.Equal("x=y", req.Env["B"]);
    }

    [Theory]
    [InlineData(new[] { "add", "api" }, "the command goes after '--'")]
    [InlineData(new[] { "add", "api", "--env", "NOEQUALS", "--", "true" }, "--env: expected KEY=VALUE, got 'NOEQUALS'")]
    [InlineData(new[] { "add", "api", "--restart", "sometimes", "--", "true" }, "sometimes")]
    [InlineData(new[] { "ls", "--", "x" }, "'--' only goes with")]
    public async Task Bad_add_usage_exits_2_and_asks_nothing(string[] args, string message)
    {
        var fake = new FakeControl();
        var (code, _, err) = await fake.Run(args);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
        Assert.Null(fake.Added);
    }

    [Fact]
    public async Task Save_writes_the_yaml_to_a_file_to_stdout_or_refuses_without_a_config_file()
    {
        var dir = Directory.CreateTempSubdirectory("vigil-save-");
        try
        {
            var fake = new FakeControl { Saved = new SaveResult { Yaml = "processes:\n  - name: web\n", ConfigPath = Path.Combine(dir.FullName, "vigil.yaml"), Units = 1 } };
            var (code, output, _) = await fake.Run("save");
            Assert.Equal(0, code);
            Assert.Equal($"vigil: saved 1 unit(s) to {Path.Combine(dir.FullName, "vigil.yaml")}\n", output);
            Assert.Equal("processes:\n  - name: web\n", File.ReadAllText(Path.Combine(dir.FullName, "vigil.yaml")));
            Assert.Single(dir.GetFiles()); // no temporary file left beside it

            var other = Path.Combine(dir.FullName, "other.yaml");
            Assert.Equal(0, (await fake.Run("save", other)).Code);
            Assert.True(File.Exists(other));
            var (_, stdout, _) = await fake.Run("save", "-");
            Assert.Equal("processes:\n  - name: web\n", stdout);

            var noConfig = new FakeControl { Saved = new SaveResult { Yaml = "processes: []\n" } };
            var (refused, _, err) = await noConfig.Run("save");
            Assert.Equal(2, refused);
            Assert.Contains("runs without a config file", err);
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public async Task Shutdown_asks_and_says_which_vigil_stopped()
    {
        var fake = new FakeControl();
        var (code, output, _) = await fake.Run("shutdown");
        Assert.Equal(0, code);
        Assert.Contains("shutdown", fake.Calls);
        Assert.Equal("vigil: PID 4242 stopped its units and exited\n", output);
    }

    [Theory]
    [InlineData(new[] { "lss" }, "vigil: unknown command 'lss'; did you mean 'ls'?")]
    [InlineData(new[] { "ls", "--jsn" }, "vigil: unknown option '--jsn'; did you mean '--json'?")]
    [InlineData(new[] { "logs", "--folow" }, "vigil: unknown option '--folow'; did you mean '--follow'?")]
    [InlineData(new[] { "stop" }, "vigil stop: ")]
    public async Task Typos_and_missing_arguments_exit_2_with_a_suggestion_and_ask_nothing(string[] args, string message)
    {
        var fake = new FakeControl();
        var (code, _, err) = await fake.Run(args);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
        Assert.Contains("--help' for usage.", err);
        Assert.Empty(fake.Calls);
    }

    [Theory]
    [InlineData("ls", " ls [options]")] // the root's name is the executable's: testhost here
    [InlineData("status", " status <NAME> [options]")]
    [InlineData("logs", " logs [<NAME>...] [options]")]
    [InlineData("run", " run [<FILE>] [options]")]
    [InlineData("reload", "--dry-run")]
    public async Task Each_command_has_its_own_help(string command, string usage)
    {
        var fake = new FakeControl();
        var (code, output, _) = await fake.Run(command, "--help");
        Assert.Equal(0, code);
        Assert.Contains(usage, output);
        Assert.Empty(fake.Calls);
    }

    [Fact]
    public async Task Bare_vigil_prints_the_command_list_on_stderr_and_exits_2()
    {
        var (code, output, err) = await new FakeControl().Run();
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("reload", err);
        Assert.Contains("completion", err);
    }
}
