using System.Collections.Immutable;
using System.Runtime.Versioning;
using CsCheck;
using Vigil.Config;
using Vigil.Tests.Support;
using Vigil.Tether;
using Vigil.Health;
using Vigil.Specs;
using Xunit;

namespace Vigil.Tests.Config;

/// <summary>Unit: <see cref="ConfigWriter"/> writes what <see cref="ConfigLoader"/> reads back to equal specs (<c>vigil save</c>).</summary>
[SupportedOSPlatform("linux")]
public sealed class ConfigWriterTests
{
    private const string Base = "/srv/app";

    private static VigilConfig Parse(string text) => ConfigLoader.Parse(text, "saved.yaml", Base, TestExtensions.Vigil);

    /// <summary>Writes the specs, reads the text back (from another folder: nothing may depend on where the file is) and
    /// asserts every property equal; returns the text.</summary>
    internal static string RoundTrip(IReadOnlyList<ProcessSpec> specs, string name = "default", TetherSettings? tether = null)
    {
        var yaml = ConfigWriter.ToYaml(name, specs, tether is null ? null : ConfigSections.Empty.With(TetherConfig.Section, tether), extensions: TestExtensions.Vigil);
        VigilConfig back;
        try { back = ConfigLoader.Parse(yaml, "saved.yaml", "/elsewhere", TestExtensions.Vigil); }
        catch (ConfigException e) { throw new Xunit.Sdk.XunitException($"the written config does not load:\n{e.Message}\n--- text:\n{yaml}"); }
        SpecAssert.Equal(specs, back.Processes, "--- text:\n" + yaml);
        Assert.Equal(name, back.Name);
        Assert.Equal(tether ?? TetherSettings.Default, back.Sections.Get(TetherConfig.Section));
        foreach (var (a, b) in specs.Zip(back.Processes)) Assert.Empty(SpecDiff.Fields(a, b));
        return yaml;
    }

    [Theory]
    [MemberData(nameof(ExamplesTests.Files), MemberType = typeof(ExamplesTests))]
    public void Every_example_loads_writes_and_loads_back_equal(string file)
    {
        var config = ConfigLoader.Load(Path.Combine(ExamplesTests.ExamplesDir(), file), TestExtensions.Vigil);
        RoundTrip(config.Processes, config.Name, config.Sections.Get(TetherConfig.Section));
    }

    [Fact]
    public void The_loader_tests_file_with_every_key_round_trips() =>
        RoundTrip(Parse(ConfigLoaderTests.FullYaml).Processes);

    [Fact]
    public void Every_probe_kind_with_its_own_and_common_keys_round_trips()
    {
        var config = Parse("""
            tether: { host: broker.lan, port: 1884, username: ~, password: "p: #x" }
            processes:
              - name: web
                command: [./server, --port, "8080"]
                health:
                  - { kind: http, url: "http://127.0.0.1:8080/health?x=1#f", status: 200-299, body: ok, period: 5s, timeout: 1.5s, failureThreshold: 3 }
                  - { kind: http, url: "https://[::1]:8443/", status: 204, role: readiness, successThreshold: 2 }
                  - { kind: tcp, address: "127.0.0.1:5432", role: readiness, initialDelay: 250ms }
                  - { kind: tcp, address: "[::1]:5432" }
                  - { kind: exec, command: [./check.sh, "a b"], action: { exec: [notify-send, hung] } }
                  - { kind: heartbeat-file, path: beat/w.beat, timeout: 30s }
                  - { kind: heartbeat-file, path: /run/w.beat, timeout: 45s, period: 3s, name: beat }
                  - { kind: output-stall, timeout: 1m, action: kill }
                  - { kind: output-stall, action: notify, role: startup }
                  - { kind: progress, file: out.csv, timeout: 5m }
                  - { kind: progress, lines: /var/data/lines.txt }
                  - { kind: progress, exec: [sh, -c, "wc -l < out.csv"] }
                  - { kind: progress, http: "http://127.0.0.1:8080/stats", json: stats.processed }
                  - { kind: progress, sql: "select count(*) from jobs", connection: "Data Source=jobs.db" }
                  - { kind: progress, sql: "select 1", connection: "Host=db;Database=jobs", driver: postgres }
                  - { kind: memory, max: 2GB }
                  - { kind: memory, max: 1000000 }
                  - { kind: cpu, max: 95%, min: 0.5%, window: 30s }
                  - { kind: cpu, max: 150% }
                  - { kind: sd-notify, watchdog: 10s, role: startup, notifyAccess: all }
                  - { kind: sd-notify }
                  - { kind: tether, agentId: screen1, interval: 15s, allowance: 2, pingRole: "yes", grace: 3s }
                  - { kind: tether }
            """);
        Assert.Equal(23, config.Processes[0].Health.Length);
        RoundTrip(config.Processes, tether: config.Sections.Get(TetherConfig.Section));
    }

    [Fact]
    public void Log_sections_round_trip_from_empty_to_every_key()
    {
        var config = Parse("""
            processes:
              - { command: a, log: {} }
              - { command: b, log: { file: logs/b.log, timestamps: false, stream: true, prefix: true, stripAnsi: true, maxSize: 50MB, keep: 3, maxLine: 64KB, ringLines: 500 } }
              - { command: c, log: { out: /var/log/c.out, err: c.err, maxSize: 4097, maxLine: 1000 } }
            """);
        RoundTrip(config.Processes);
    }

    [Theory]
    // Strings YAML would take for something else, or that its syntax would cut.
    [InlineData("yes")] [InlineData("No")] [InlineData("on")] [InlineData("OFF")] [InlineData("y")] [InlineData("true")]
    [InlineData("null")] [InlineData("~")] [InlineData("")] [InlineData("1e3")] [InlineData("0x1F")] [InlineData("-5")]
    [InlineData(".5")] [InlineData("1:20")] [InlineData("2024-01-01")] [InlineData(".inf")] [InlineData("<<")]
    [InlineData(": x")] [InlineData("a: b")] [InlineData("# not a comment")] [InlineData("a #b")] [InlineData("x\ny")]
    [InlineData("line\r\n")] [InlineData(" lead")] [InlineData("trail ")] [InlineData("\ttab")] [InlineData("'single'")]
    [InlineData("\"double\"")] [InlineData("[a, b]")] [InlineData("{a: b}")] [InlineData("- dash")] [InlineData("? q")]
    [InlineData("!tag")] [InlineData("&anchor")] [InlineData("*alias")] [InlineData("%dir")] [InlineData("@at")]
    [InlineData("`tick")] [InlineData("|")] [InlineData(">")] [InlineData("a,b")] [InlineData("\\back\\slash")]
    [InlineData("\u0001\u001f\u007f")] [InlineData("\u0085\u2028\u2029\ufeff")] [InlineData("héllo wörld ✓ 🎉")] [InlineData("---")]
    [InlineData("...")] [InlineData("a *")] [InlineData("x *: y")] [InlineData("a\u00a0b")] [InlineData("  ")] [InlineData("\n")]
    public void Strings_that_YAML_would_misread_or_cut_survive_in_every_place(string s)
    {
        var spec = new ProcessSpec
        {
            Name = s.Length == 0 ? "empty" : s,
            Command = [s.Trim().Length == 0 ? "x" + s : s, s],
            Args = [s, "--", s],
            Cwd = "/tmp/" + s.Replace("\n", "").Replace("\r", ""),
            Env = ImmutableDictionary<string, string?>.Empty.Add("V", s).Add(s.Length == 0 || s.Contains('=') ? "K" : "K" + s, s),
            Health = [new ProbeSpec(new HttpCheck(new Uri("http://h/")) { BodyContains = s }) { Name = "n" + s },
                new ProbeSpec(new TetherCheck(s) { Role = s })],
        };
        RoundTrip([spec]);
    }

    [Fact]
    public void A_plain_string_stays_plain_and_a_misread_one_is_quoted()
    {
        var yaml = ConfigWriter.ToYaml("default", [new ProcessSpec { Name = "web", Command = ["python3", "-m", "http.server", "8080"], Env = ImmutableDictionary<string, string?>.Empty.Add("DEBUG", "yes").Add("GONE", null) }]);
        Assert.Contains("name: web", yaml);
        Assert.Contains("command: [python3, -m, http.server, \"8080\"]", yaml);
        Assert.Contains("DEBUG: \"yes\"", yaml);
        Assert.Contains("GONE: ~", yaml);
    }

    [Fact]
    public void Durations_and_sizes_are_written_in_Vigils_own_forms()
    {
        var spec = new ProcessSpec
        {
            Command = ["x"],
            Restart = RestartSpec.Default with
            {
                Schedule = [TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1.5), TimeSpan.FromMinutes(5), TimeSpan.FromHours(2), TimeSpan.FromMilliseconds(1234), TimeSpan.FromDays(3), TimeSpan.Zero],
                ResetAfter = TimeSpan.FromMinutes(90),
            },
            Log = new LogSpec { MaxSize = 50L << 20, MaxLine = 1 << 16 | 1 },
            Health = [new ProbeSpec(new MemoryCheck(2L << 30))],
        };
        var yaml = RoundTrip([spec]);
        Assert.Contains("schedule: [100ms, 1.5s, 5m, 2h, 1.234s, 72h, 0ms]", yaml);
        Assert.Contains("resetAfter: 90m", yaml);
        Assert.Contains("maxSize: 50MB", yaml);
        Assert.Contains("maxLine: 65537", yaml);
        Assert.Contains("max: 2GB", yaml);
    }

    [Fact]
    public void Durations_below_a_millisecond_and_odd_signals_round_trip()
    {
        var spec = new ProcessSpec
        {
            Command = ["x"],
            Restart = RestartSpec.Default with { Schedule = [TimeSpan.FromTicks(1), TimeSpan.FromTicks(12_345), TimeSpan.FromTicks(10_001), TimeSpan.FromMilliseconds(0.5)] },
            Stop = new StopSpec { Signal = 42, Timeout = TimeSpan.FromTicks(123_456_789), KillWait = TimeSpan.FromMilliseconds(1) },
        };
        var yaml = RoundTrip([spec]);
        Assert.Contains("signal: 42", yaml);
        var usr1 = RoundTrip([spec with { Stop = spec.Stop with { Signal = 10 } }]);
        Assert.Contains("signal: USR1", usr1);
    }

    [Fact]
    public void Defaults_are_left_out_so_a_saved_file_reads_like_a_written_one()
    {
        var yaml = RoundTrip([new ProcessSpec { Name = "w", Command = ["sleep", "10"] }]);
        Assert.Equal("""
            # A Vigil config, written by Vigil from the units it ran. Start it with: vigil run -c FILE
            name: default
            processes:
            - name: w
              command: [sleep, "10"]

            """.ReplaceLineEndings("\n"), yaml);
    }

    [Fact]
    public void A_schedule_beside_a_backoff_is_refused_as_the_loader_refuses_it()
    {
        // Issue 12: the rule is the spec's now, so the API refuses what a config file could not say (it used to keep the backoff).
        var spec = new ProcessSpec { Command = ["x"], Restart = RestartSpec.Default with { Schedule = [TimeSpan.FromSeconds(1)], Backoff = new BackoffSpec(TimeSpan.FromSeconds(2), 3, TimeSpan.FromMinutes(1), 0.5) } };
        Assert.Contains("processes[0] (x): restart.backoff: give either 'schedule' or 'backoff', not both",
            Assert.Throws<ArgumentException>(() => ConfigWriter.ToYaml("default", [spec])).Message);
        var alone = spec with { Restart = spec.Restart with { Schedule = RestartSpec.DefaultSchedule } };
        var back = Parse(ConfigWriter.ToYaml("default", [alone])).Processes[0];
        Assert.Equal(alone.Restart.Backoff, back.Restart.Backoff);
        Assert.Empty(SpecDiff.Fields(alone, back));
    }

    [Fact]
    public void Relative_paths_are_written_absolute_so_the_file_means_the_same_anywhere()
    {
        var spec = new ProcessSpec
        {
            Command = ["./run"],
            Cwd = "jobs",
            Log = new LogSpec { File = "logs/w.log" },
            Health = [new ProbeSpec(new HeartbeatFileCheck("beat"))],
        };
        var back = Parse(ConfigWriter.ToYaml("default", [spec])).Processes[0];
        var cwd = Path.GetFullPath("jobs");
        Assert.Equal(cwd, back.Cwd);
        Assert.Equal(Path.GetFullPath("logs/w.log"), back.Log!.File);
        Assert.Equal(Path.Combine(cwd, "beat"), ((HeartbeatFileCheck)back.Health[0].Check).Path);
        Assert.Equal(["./run"], back.Command.ToArray()); // the spawn resolves it against cwd, which is kept
        Assert.Empty(SpecDiff.Fields(spec, back));
    }

    [Fact]
    public void What_a_config_cannot_hold_is_refused_naming_the_unit_and_probe()
    {
        var custom = new ProcessSpec { Name = "lib", Command = ["x"], Health = [new ProbeSpec(new CustomCheck("mine", () => throw new InvalidOperationException())) { Name = "mine" }] };
        var reader = new ProcessSpec { Name = "reader", Command = ["y"], Health = [new ProbeSpec(new ProgressCheck(new ProgressSource.Custom(_ => ValueTask.FromResult(1.0))))] };
        var e = Assert.Throws<ArgumentException>(() => ConfigWriter.ToYaml("default", [new ProcessSpec { Command = ["ok"] }, custom, reader]));
        Assert.Contains("processes[1] (lib): health: probe 'mine' is a library probe", e.Message);
        Assert.Contains("processes[2] (reader): health: probe 'progress' reads its progress through a library delegate", e.Message);
    }

    [Fact]
    public void Invalid_specs_names_and_an_empty_set_are_refused()
    {
        Assert.Contains("processes[0] (): name: must not be empty", Assert.Throws<ArgumentException>(() => ConfigWriter.ToYaml("default", [new ProcessSpec { Name = "", Command = ["x"] }])).Message);
        Assert.Contains("name: expected 1 to 64 letters", Assert.Throws<ArgumentException>(() => ConfigWriter.ToYaml("../etc", [new ProcessSpec { Command = ["x"] }])).Message);
        Assert.Contains("no processes to write", Assert.Throws<ArgumentException>(() => ConfigWriter.ToYaml("default", [])).Message);
    }

    [Fact]
    public void Units_keep_their_order_and_repeated_names()
    {
        var specs = new[] { Spec("b"), Spec("a"), Spec("b") with { Args = ["2"] }, new ProcessSpec { Command = ["/bin/sleep", "1"] } };
        RoundTrip(specs, "my-instance.1");
        static ProcessSpec Spec(string name) => new() { Name = name, Command = ["sleep", "1"] };
    }
}

/// <summary>Property: any valid spec a config can hold loads back equal from what the writer wrote.</summary>
[SupportedOSPlatform("linux")]
public sealed class ConfigWriterPropertyTests
{
    [Fact]
    public void Generated_specs_load_back_equal_from_the_written_config() =>
        Check.Sample(SpecGen.Spec.Array[1, 4], specs => { ConfigWriterTests.RoundTrip(specs); }, iter: 3000, threads: 1);
}
