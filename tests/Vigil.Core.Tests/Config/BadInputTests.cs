using System.Collections.Immutable;
using System.Diagnostics;
using System.Runtime.Versioning;
using Vigil.Config;
using Vigil.Tests.Support;
using Vigil.Tether;
using Vigil.Health;
using Vigil.Specs;
using Xunit;

namespace Vigil.Tests.Config;

/// <summary>Issue 10 §8: NUL bytes, numbers past their bounds and alias bombs are config errors at their key, never an
/// exception of another kind, a silently cut argument or unbounded work.</summary>
[SupportedOSPlatform("linux")]
public class BadInputTests
{
    private const string Base = "/srv/app";
    private const string Nul = Limits.NulMessage;

    private static string[] Errors(string text)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(text, "vigil.yaml", Base, TestExtensions.Vigil));
        return [.. e.Errors.Select(x => x.ToString())];
    }

    private static string Error(string text) => Assert.Single(Errors(text));

    // ---- NUL bytes: YAML's "\0" escape in a double-quoted string is U+0000 ----

    [Theory]
    [InlineData("command: [echo, \"a\\0b\"]", "2:21: processes[0].command[1]")]
    [InlineData("command: \"echo a\\0b\"", "2:5: processes[0].command")]
    [InlineData("command: [\"ec\\0ho\"]", "2:15: processes[0].command[0]")]
    [InlineData("command: x\n    args: [\"-\\0\"]", "3:12: processes[0].args[0]")]
    [InlineData("script: \"app\\0.js\"", "2:5: processes[0].script")]
    [InlineData("command: x\n    cwd: \"/tmp/a\\0b\"", "3:5: processes[0].cwd")]
    [InlineData("command: x\n    env: { \"K\\0EY\": v }", "3:12: processes[0].env.K\\0EY")]
    [InlineData("command: x\n    env: { KEY: \"v\\0\" }", "3:12: processes[0].env.KEY")]
    [InlineData("command: x\n    log: { file: \"/var/log/a\\0b\" }", "3:12: processes[0].log.file")]
    [InlineData("command: x\n    log: { out: \"o\\0\", err: e }", "3:12: processes[0].log.out")]
    [InlineData("command: x\n    log: { out: o, err: \"e\\0\" }", "3:20: processes[0].log.err")]
    [InlineData("command: x\n    health: [{ kind: exec, command: [\"check\\0\"] }]", "3:38: processes[0].health[0].command[0]")]
    [InlineData("command: x\n    health: [{ kind: http, url: \"http://127.0.0.1/\\0\" }]", "3:28: processes[0].health[0].url")]
    [InlineData("command: x\n    health: [{ kind: heartbeat-file, path: \"/run/b\\0\" }]", "3:38: processes[0].health[0].path")]
    [InlineData("command: x\n    health: [{ kind: progress, file: \"/run/p\\0\" }]", "3:32: processes[0].health[0].file")]
    [InlineData("command: x\n    health: [{ kind: tcp, address: \"a\\0:80\" }]", "3:27: processes[0].health[0].address")]
    [InlineData("command: x\n    health: [{ kind: exec, command: [c], action: { exec: [\"n\\0\"] } }]", "3:59: processes[0].health[0].action.exec[0]")]
    [InlineData("command: x\n    stop: { timeout: \"1\\0s\" }", "3:13: processes[0].stop.timeout")]
    public void A_NUL_byte_is_a_config_error_at_its_key(string process, string where) =>
        Assert.Equal($"vigil.yaml:{where}: {Nul}", Error($"processes:\n  - {process}\n"));

    [Fact]
    public void Errors_stay_on_one_line_and_quote_at_most_80_characters_of_a_value()
    {
        // Found by the fuzzer: a block scalar or a quoted key with newlines split the one-error-per-line message.
        var errors = Errors("processes:\n  - command: x\n    stop: { signal: \"TE\\nRM\" }\n    \"a\\nb\": 1\n    detach: |\n      " + new string('y', 200) + "\n      z\n");
        Assert.Equal(
            [
                "vigil.yaml:3:13: processes[0].stop.signal: expected a signal like TERM, SIGTERM or a number 1-64, got 'TE\\nRM'",
                "vigil.yaml:4:5: processes[0].a\\nb: unknown key (expected one of: name, command, script, args, cwd, env, detach, ipc, tty, tmux, restart, stop, log, health, hooks, autostart, cpuAffinity, attach)",
                $"vigil.yaml:5:5: processes[0].detach: expected true or false, got '{new string('y', 80)}…'",
            ],
            errors);
    }

    [Fact]
    public void Past_100_errors_the_rest_are_only_counted()
    {
        // 300 processes with an unknown key each: a garbage file can hold an error every few bytes (found by the fuzzer:
        // 400 bytes allocated per byte of input, mostly error messages and key suggestions).
        var text = "processes:\n" + string.Concat(Enumerable.Range(0, 300).Select(i => $"  - {{ command: x, comand{i}: y }}\n"));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var errors = Errors(text);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(101, errors.Length);
        Assert.Equal("vigil.yaml:2:19: processes[0].comand0: unknown key; did you mean 'command'?", errors[0]);
        Assert.Equal("vigil.yaml:102:19: ... and 200 more errors (only the first 100 are listed)", errors[^1]);
        Assert.True(allocated < 4 << 20, $"allocated {allocated:N0} bytes");
    }

    [Fact]
    public void A_key_as_long_as_the_file_costs_little_and_is_shortened_in_the_error()
    {
        // Found by the fuzzer: "did you mean" built a key length × known key length matrix per known key (43 MB for a
        // 160 KB key), and the key path repeated the whole key.
        var key = "c" + new string('[', 160_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var errors = Errors($"processes:\n  - command: x\n    ? {key}\n");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal($"vigil.yaml:3:7: processes[0].{key[..(200 - "processes[0].".Length)]}…: unknown key (expected one of: name, command, script, args, cwd, env, detach, ipc, tty, tmux, restart, stop, log, health, hooks, autostart, cpuAffinity, attach)",
            Assert.Single(errors));
        Assert.True(allocated < 8 << 20, $"allocated {allocated:N0} bytes");
    }

    [Fact]
    public void Naming_many_probes_of_one_kind_is_linear()
    {
        // kind#N counted the probes before each one from the start: 10,000 probes took 2 s, 40,000 took 29 s.
        var text = "processes:\n- command: x\n  health: [" + string.Concat(Enumerable.Repeat("{kind: output-stall},", 40_000)) + "]\n";
        var sw = Stopwatch.StartNew();
        var health = Assert.Single(ConfigLoader.Parse(text, "vigil.yaml", Base).Processes).Health;
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
        Assert.Equal(("output-stall#1", "output-stall#40000"), (health[0].Name, health[^1].Name));
    }

    [Theory]
    [InlineData(1024)]
    [InlineData(2048)]
    public async Task A_directive_line_ending_the_file_at_a_buffer_boundary_does_not_hang_the_parser(int length)
    {
        // Found by the fuzzer: YamlDotNet 16.3 loops when a `%` line runs to the end of input at a multiple of 1024.
        var load = Task.Run(() => Error("%A" + new string(' ', length - 2)));
        Assert.Same(load, await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(10))));
        Assert.Equal("vigil.yaml:1:1: processes: no processes to run", await load);
    }

    [Fact]
    public void A_NUL_byte_in_the_tether_section_is_a_config_error() =>
        Assert.Equal($"vigil.yaml:1:11: tether.host: {Nul}", Error("tether: { host: \"b\\0\" }\nprocesses: [{ command: x }]\n"));

    [Fact]
    public void ProcessSpec_Validate_reports_NUL_bytes_given_through_the_API()
    {
        var spec = new ProcessSpec
        {
            Command = ["echo", "a\0b"],
            Args = ["\0"],
            Cwd = "/tmp/\0",
            Env = ImmutableDictionary<string, string?>.Empty.Add("A", "x\0").Add("B\0", "y"),
            Log = new LogSpec { Out = "/tmp/o\0", Err = "/tmp/e" },
            Health = [new ProbeSpec(new ExecCheck(["c\0"])), new ProbeSpec(new HeartbeatFileCheck("/run/\0"))],
        };
        string[] expected =
        [
            $"command[1]: {Nul}", $"args[0]: {Nul}", $"cwd: {Nul}", $"env.A: {Nul}", "env: 'B\\0' is not a valid variable name",
            $"log.out: {Nul}", $"health[0].command[0]: {Nul}", $"health[1].path: {Nul}",
        ];
        // Env is a hash map: compare in a fixed order.
        Assert.Equal(expected.Order(StringComparer.Ordinal), spec.Validate().Select(e => e.ToString()).Order(StringComparer.Ordinal));
        Assert.Equal($"script: {Nul}", Assert.Single(new ProcessSpec { Script = "a\0.js" }.Validate()).ToString());
        Assert.Equal($"health[0].agentId: {Nul}", Assert.Single(new ProcessSpec { Command = ["x"], Health = [new ProbeSpec(new TetherCheck("a\0"))] }.Validate()).ToString());
        Assert.Equal($"health[0].url: {Nul}", Assert.Single(new ProcessSpec { Command = ["x"], Health = [new ProbeSpec(new HttpCheck(new Uri("http://127.0.0.1/a\0")))] }.Validate()).ToString());
    }

    // ---- numeric bounds ----

    [Theory]
    [InlineData("log: { ringLines: 1000001 }", "3:12: processes[0].log.ringLines: must be at most 1,000,000")]
    [InlineData("log: { maxLine: 17MB }", "3:12: processes[0].log.maxLine: must be at most 16MB")]
    [InlineData("log: { maxLine: 3GB }", "3:12: processes[0].log.maxLine: must be at most 16MB")]
    [InlineData("log: { maxSize: 9999999T }", "3:12: processes[0].log.maxSize: '9999999T' is too large a size (at most 4EiB)")]
    [InlineData("log: { keep: 1001 }", "3:12: processes[0].log.keep: must be at most 1000")]
    [InlineData("log: { keep: 99999999999 }", "3:12: processes[0].log.keep: 99999999999 is out of range (at most 2,147,483,647; the key's own bound is lower)")]
    [InlineData("stop: { timeout: 25d }", "3:13: processes[0].stop.timeout: must be at most 24d (the longest a timer can wait), got 600h")]
    [InlineData("stop: { killWait: 30d }", "3:13: processes[0].stop.killWait: must be at most 24d (the longest a timer can wait), got 720h")]
    [InlineData("restart: { backoff: { multiplier: 1001 } }", "3:27: processes[0].restart.backoff.multiplier: must be at most 1000")]
    [InlineData("restart: { backoff: { jitter: 2 } }", "3:27: processes[0].restart.backoff.jitter: must be between 0 and 1")]
    [InlineData("restart: { limit: { restarts: 10001, within: 1m } }", "3:25: processes[0].restart.limit.restarts: must be at most 10,000")]
    [InlineData("health: [{ kind: tcp, address: \"a:1\", period: 25d }]", "3:43: processes[0].health[0].period: must be at most 24d (the longest a timer can wait), got 600h")]
    [InlineData("health: [{ kind: tcp, address: \"a:1\", timeout: 25d }]", "3:43: processes[0].health[0].timeout: must be at most 24d (the longest a timer can wait), got 600h")]
    [InlineData("health: [{ kind: tcp, address: \"a:1\", initialDelay: 25d }]", "3:43: processes[0].health[0].initialDelay: must be at most 24d (the longest a timer can wait), got 600h")]
    [InlineData("health: [{ kind: tcp, address: \"a:1\", failureThreshold: 10001 }]", "3:43: processes[0].health[0].failureThreshold: must be at most 10,000")]
    [InlineData("health: [{ kind: tcp, address: \"a:1\", successThreshold: 10001 }]", "3:43: processes[0].health[0].successThreshold: must be at most 10,000")]
    [InlineData("health: [{ kind: tcp, address: \"a:70000\" }]", "3:27: processes[0].health[0].address: port 70000 is outside 1-65535")]
    [InlineData("health: [{ kind: cpu, max: 200000% }]", "3:14: processes[0].health[0].max/min: must be at most 102400% (1024 cores)")]
    [InlineData("health: [{ kind: cpu, max: 90%, window: 25d }]", "3:37: processes[0].health[0].window: must be at most 24d (the longest a timer can wait), got 600h")]
    [InlineData("health: [{ kind: sd-notify, watchdog: 25d }]", "3:33: processes[0].health[0].watchdog: must be at most 24d (the longest a timer can wait), got 600h")]
    [InlineData("health: [{ kind: memory, max: 99999999T }]", "3:30: processes[0].health[0].max: '99999999T' is too large a size (at most 4EiB)")]
    public void Numbers_past_their_bounds_are_refused_with_the_bound(string section, string error) =>
        Assert.Equal($"vigil.yaml:{error}", Error($"processes:\n  - command: x\n    {section}\n"));

    [Fact]
    public void The_bounds_themselves_are_accepted()
    {
        var p = Assert.Single(ConfigLoader.Parse("""
            processes:
              - command: x
                log: { ringLines: 1000000, maxLine: 16MB, keep: 1000 }
                stop: { timeout: 24d, killWait: 24d }
                restart: { backoff: { multiplier: 1000, jitter: 1 }, limit: { restarts: 10000, within: 1m } }
                health: [{ kind: tcp, address: "a:65535", period: 24d, timeout: 24d, initialDelay: 24d, failureThreshold: 10000 }]
            """, "vigil.yaml", Base).Processes);
        Assert.Equal(1_000_000, p.Log!.RingLines);
        Assert.Equal(16 * 1024 * 1024, p.Log.MaxLine);
        Assert.Equal(TimeSpan.FromDays(24), p.Stop.KillWait);
        Assert.Equal(10_000, p.Health[0].FailureThreshold);
    }

    [Fact]
    public void Restart_delays_are_not_bound_by_the_timer_limit()
    {
        // The engine chains long restart delays, so only what a TimeSpan cannot hold is refused for them.
        var p = Assert.Single(ConfigLoader.Parse(
            "processes:\n  - command: x\n    restart: { schedule: [100d, 1000d], resetAfter: 3650d, limit: { restarts: 1, within: 400d, retryEvery: 60d } }\n",
            "vigil.yaml", Base).Processes);
        Assert.Equal([TimeSpan.FromDays(100), TimeSpan.FromDays(1000)], p.Restart.Schedule.ToArray());
        Assert.Equal(TimeSpan.FromDays(60), p.Restart.Limit!.RetryEvery);
    }

    [Fact]
    public void Bounds_apply_to_specs_built_through_the_API() =>
        Assert.Equal(
            ["stop.killWait: must be at most 24d (the longest a timer can wait), got 600h", "log.ringLines: must be at most 1,000,000",
             "health[0].period: must be at most 24d (the longest a timer can wait), got 600h"],
            new ProcessSpec
            {
                Command = ["x"],
                Log = new LogSpec { RingLines = 2_000_000 },
                Stop = new StopSpec { KillWait = TimeSpan.FromDays(25) },
                Health = [new ProbeSpec(new OutputStallCheck()) { Period = TimeSpan.FromDays(25) }],
            }.Validate().Select(e => e.ToString()));

    // ---- alias expansion ----

    /// <summary>Ten levels of ten aliases each: 10^10 nodes once expanded, in under 1 KB of text.</summary>
    internal static string BillionLaughs()
    {
        var sb = new System.Text.StringBuilder("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (int i = 1; i <= 9; i++)
            sb.Append($"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))}]\n");
        sb.Append("processes:\n  - command: *a9\n    args: *a9\n    env: { X: *a9 }\n");
        return sb.ToString();
    }

    [Fact]
    public void A_billion_laughs_file_stops_at_the_alias_limit_quickly_and_in_bounded_memory()
    {
        var sw = Stopwatch.StartNew();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Error(BillionLaughs());
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Aliases in a1..a3 add 12,330 nodes, each *a3 in a4 11,111 more: the 8th of them passes 100,000.
        Assert.Equal("vigil.yaml:5:45: too many alias expansions (aliases would add more than 100,000 nodes; a 'billion laughs' file?)", error);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"took {sw.Elapsed}");
        Assert.True(allocated < 16 << 20, $"allocated {allocated:N0} bytes");
    }

    [Fact]
    public void Many_aliases_to_a_big_list_are_refused_as_well()
    {
        // Not nested: one list of 1,000 items used 200 times is 200,000 nodes.
        var text = $"big: &b [{string.Join(", ", Enumerable.Range(0, 1000))}]\nprocesses:\n" +
                   string.Concat(Enumerable.Range(0, 200).Select(_ => "  - { command: x, args: *b }\n"));
        Assert.Contains("too many alias expansions", Error(text));
    }

    [Fact]
    public void Ordinary_use_of_anchors_stays_well_under_the_limit()
    {
        var text = "processes:\n  - { command: x, restart: &d { policy: on-failure, schedule: [1s, 2s, 5s], resetAfter: 1m } }\n" +
                   string.Concat(Enumerable.Range(0, 500).Select(i => $"  - {{ command: x{i}, restart: *d }}\n"));
        Assert.Equal(501, ConfigLoader.Parse(text, "vigil.yaml", Base).Processes.Count);
    }
}
