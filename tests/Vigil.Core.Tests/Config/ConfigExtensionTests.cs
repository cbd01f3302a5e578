using Vigil.Config;
using Vigil.Health;
using Vigil.Specs;
using Xunit;

namespace Vigil.Tests.Config;

/// <summary>Unit: a config section and a probe kind registered by a test (as Vigil.Tether registers its own) are read
/// with the loader's positioned errors and suggestions, written back, compared by reloads; without the registration
/// their keys are unknown.</summary>
public sealed class ConfigExtensionTests
{
    private const string Base = "/srv/app";

    private enum Mode { Fast, Safe }

    private sealed record Beacon
    {
        public string Host { get; init; } = "localhost";
        public int Port { get; init; } = 7000;
        public TimeSpan Every { get; init; } = TimeSpan.FromSeconds(5);
        public Mode Mode { get; init; } = Mode.Safe;
        public bool Loud { get; init; }
        public string? Token { get; init; } = "t0";
        public string? CaFile { get; init; }
    }

    private sealed record EchoCheck(string Topic) : ProbeCheck
    {
        public override string Kind => "echo";
        public int Misses { get; init; } = 2;
        public override IEnumerable<SpecError> Validate()
        {
            if (Topic.Length == 0) yield return new("topic", "must not be empty");
        }
    }

    private static readonly ConfigSection<Beacon> BeaconSection = new("beacon", new Beacon(),
        ConfigKey.String<Beacon>("host", b => b.Host, (b, v) => b with { Host = v! }),
        ConfigKey.Port<Beacon>("port", b => b.Port, (b, v) => b with { Port = v }),
        ConfigKey.Duration<Beacon>("every", b => b.Every, (b, v) => b with { Every = v }),
        ConfigKey.Choice<Beacon, Mode>("mode", [("fast", Mode.Fast), ("safe", Mode.Safe)], b => b.Mode, (b, v) => b with { Mode = v }),
        ConfigKey.Bool<Beacon>("loud", b => b.Loud, (b, v) => b with { Loud = v }),
        ConfigKey.String<Beacon>("token", b => b.Token, (b, v) => b with { Token = v }, nullable: true),
        ConfigKey.FilePath<Beacon>("caFile", b => b.CaFile, (b, v) => b with { CaFile = v }));

    private static readonly ProbeKind<EchoCheck> EchoKind = new(new EchoCheck("echo/ping"),
        ConfigKey.String<EchoCheck>("topic", c => c.Topic, (c, v) => c with { Topic = v! }, allowEmpty: true),
        ConfigKey.Int<EchoCheck>("misses", c => c.Misses, (c, v) => c with { Misses = v }, min: 1, max: 10))
    {
        Aliases = new Dictionary<string, string> { ["every"] = "period" },
    };

    private static ConfigExtensions Extensions() => new ConfigExtensions().Add(BeaconSection).Add(EchoKind);

    private static VigilConfig Parse(string text, ConfigExtensions? extensions) => ConfigLoader.Parse(text, "vigil.yaml", Base, extensions);

    private static string[] Errors(string text, ConfigExtensions? extensions) =>
        [.. Assert.Throws<ConfigException>(() => Parse(text, extensions)).Errors.Select(e => e.ToString())];

    private const string Full = """
        processes:
          - name: app
            command: x
            health:
              - { kind: echo, topic: app/echo, misses: 4, every: 2s, timeout: 500ms }
              - { kind: echo }
        beacon: { host: b.lan, port: 7001, every: 1m, mode: fast, loud: true, token: ~, caFile: certs/ca.pem }
        """;

    [Fact]
    public void An_extension_section_and_probe_kind_are_read_into_their_records()
    {
        var config = Parse(Full, Extensions());
        Assert.Equal(new Beacon { Host = "b.lan", Port = 7001, Every = TimeSpan.FromMinutes(1), Mode = Mode.Fast, Loud = true, Token = null, CaFile = "/srv/app/certs/ca.pem" },
            config.Sections.Get(BeaconSection));
        var health = Assert.Single(config.Processes).Health;
        Assert.Equal(new EchoCheck("app/echo") { Misses = 4 }, health[0].Check);
        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(500)), (health[0].Period, health[0].Timeout)); // every: is the period
        Assert.Equal("echo#1", health[0].Name);
        Assert.Equal(new EchoCheck("echo/ping"), health[1].Check);
    }

    [Fact]
    public void A_section_not_given_reads_as_its_default() =>
        Assert.Equal(new Beacon(), Parse("processes: [{ command: x }]", Extensions()).Sections.Get(BeaconSection));

    [Fact]
    public void Extension_keys_get_positioned_errors_and_suggestions_like_built_in_keys() =>
        Assert.Equal(
            [
                "vigil.yaml:5:23: processes[0].health[0].topik: unknown key; did you mean 'topic'?",
                "vigil.yaml:6:23: processes[0].health[1].misses: expected a whole number 1-10, got 0",
                "vigil.yaml:7:11: beacon.hots: unknown key; did you mean 'host'?",
                "vigil.yaml:7:20: beacon.port: expected a port 1-65535, got 0",
                "vigil.yaml:7:29: beacon.every: expected a duration like 100ms, 1.5s, 5m, 1h or integer milliseconds, got 'soon'",
                "vigil.yaml:7:42: beacon.mode: expected fast or safe, got 'slow'",
                "vigil.yaml:7:54: beacon.loud: expected true or false, got 'very'",
            ],
            Errors("""
                processes:
                  - name: app
                    command: x
                    health:
                      - { kind: echo, topik: a }
                      - { kind: echo, misses: 0 }
                beacon: { hots: b, port: 0, every: soon, mode: slow, loud: very }
                """, Extensions()));

    [Fact]
    public void A_probe_kind_check_is_validated_at_the_probe() =>
        Assert.Equal("vigil.yaml:1:50: processes[0].health[0].topic: must not be empty",
            Assert.Single(Errors("processes: [{ command: x, health: [{ kind: echo, topic: '' }] }]", Extensions())));

    [Fact]
    public void The_kinds_list_and_the_top_level_keys_name_the_registered_ones() =>
        Assert.Equal(
            [
                "vigil.yaml:1:36: processes[0].health[0].kind: every probe needs a kind: exec, http, tcp, heartbeat-file, output-stall, progress, memory, cpu, sd-notify, echo",
                "vigil.yaml:2:1: extra: unknown key (expected one of: name, processes, beacon, events, history, hooks, templates)",
            ],
            Errors("processes: [{ command: x, health: [{ name: n }] }]\nextra: 1\n", Extensions()));

    [Fact]
    public void Without_the_extension_its_section_and_probe_kind_are_unknown_keys_named_where_they_are() =>
        Assert.Equal(
            [
                "vigil.yaml:5:11: processes[0].health[0].kind: unknown probe kind 'echo' (expected one of: exec, http, tcp, heartbeat-file, output-stall, progress, memory, cpu, sd-notify)",
                "vigil.yaml:6:11: processes[0].health[1].kind: unknown probe kind 'echo' (expected one of: exec, http, tcp, heartbeat-file, output-stall, progress, memory, cpu, sd-notify)",
                "vigil.yaml:7:1: beacon: unknown key (expected one of: name, processes, events, history, hooks, templates)",
            ],
            Errors(Full, extensions: null));

    [Fact]
    public void Tether_is_not_known_to_a_loader_without_the_Tether_extension() =>
        Assert.Equal(
            [
                "vigil.yaml:1:38: processes[0].health[0].kind: unknown probe kind 'tether' (expected one of: exec, http, tcp, heartbeat-file, output-stall, progress, memory, cpu, sd-notify)",
                "vigil.yaml:2:1: tether: unknown key (expected one of: name, processes, events, history, hooks, templates)",
            ],
            Errors("processes: [{ command: x, health: [{ kind: tether }] }]\ntether: { host: localhost }\n", extensions: null));

    [Fact]
    public void Sections_and_probes_of_an_extension_are_written_back_and_read_to_equal_values()
    {
        var config = Parse(Full, Extensions());
        var yaml = ConfigWriter.ToYaml("default", config.Processes, config.Sections, extensions: Extensions());
        Assert.Contains("beacon:", yaml);
        Assert.DoesNotContain("misses", yaml.Split('\n').Single(l => l.Contains("kind: echo") && !l.Contains("app/echo"))); // defaults are left out
        var back = ConfigLoader.Parse(yaml, "saved.yaml", "/elsewhere", Extensions());
        Assert.Equal(config.Sections.Get(BeaconSection), back.Sections.Get(BeaconSection));
        Assert.Equal(config.Processes[0].Health.Select(p => (p.Check, p.Name, p.Period, p.Timeout)), back.Processes[0].Health.Select(p => (p.Check, p.Name, p.Period, p.Timeout)));
    }

    [Fact]
    public void A_section_at_its_defaults_is_not_written() =>
        Assert.DoesNotContain("beacon", ConfigWriter.ToYaml("default", [new ProcessSpec { Command = ["x"] }],
            ConfigSections.Empty.With(BeaconSection, new Beacon()), extensions: Extensions()));

    [Fact]
    public void A_probe_of_an_unregistered_kind_cannot_be_written_and_says_why()
    {
        var spec = new ProcessSpec { Command = ["x"], Health = [new ProbeSpec(new EchoCheck("a"))] };
        var e = Assert.Throws<ArgumentException>(() => ConfigWriter.ToYaml("default", [spec]));
        Assert.Contains("probe 'echo' is of kind 'echo', which no registered config extension has", e.Message);
    }

    [Fact]
    public void A_reload_compares_extension_probes_by_their_keys_or_as_values()
    {
        ProcessSpec With(EchoCheck c) => new() { Command = ["x"], Health = [new ProbeSpec(c)] };
        Assert.Empty(SpecDiff.Fields(With(new EchoCheck("a")), With(new EchoCheck("a")), Extensions()));
        Assert.Empty(SpecDiff.Fields(With(new EchoCheck("a")), With(new EchoCheck("a")))); // no extension: as records
        Assert.Equal(["health"], SpecDiff.Fields(With(new EchoCheck("a")), With(new EchoCheck("a") { Misses = 3 }), Extensions()));
        Assert.Equal(["health"], SpecDiff.Fields(With(new EchoCheck("a")), With(new EchoCheck("b"))));
    }

    [Fact]
    public void Registering_a_name_twice_or_a_built_in_name_is_refused()
    {
        Assert.Throws<ArgumentException>(() => Extensions().Add(BeaconSection));
        Assert.Throws<ArgumentException>(() => new ConfigExtensions().Add(new ConfigSection<Beacon>("processes", new Beacon())));
        Assert.Throws<ArgumentException>(() => new ConfigExtensions().Add(new ProbeKind<EchoCheck>(new EchoCheck("a") with { }) { Aliases = new Dictionary<string, string> { ["x"] = "nope" } }));
        Assert.Throws<ArgumentException>(() => new ConfigSection<Beacon>("b", new Beacon(),
            ConfigKey.Bool<Beacon>("loud", b => b.Loud, (b, v) => b with { Loud = v }), ConfigKey.Bool<Beacon>("loud", b => b.Loud, (b, v) => b with { Loud = v })));
    }
}
