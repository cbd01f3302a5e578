using System.Runtime.Versioning;
using System.Text;
using CsCheck;
using Vigil.Config;
using Vigil.Tests.Support;
using Vigil.Tether;
using Xunit;
using Xunit.Abstractions;

namespace Vigil.Tests.Fuzz;

/// <summary>Issue 10 §9: the config loader ends every input in a config or a <see cref="ConfigException"/> whose errors
/// have a position and a message; never another exception, a hang or runaway allocation.</summary>
[SupportedOSPlatform("linux")]
public sealed class ConfigFuzzTests(ITestOutputHelper output) : IDisposable
{
    const string Target = "config";

    // The loader looks for package.json in the base folder (a process without command or script): a real, empty one.
    readonly DirectoryInfo _base = Directory.CreateTempSubdirectory("vigil-fuzz-");

    public void Dispose() => _base.Delete(recursive: true);

    static FuzzOutcome Load(byte[] input, string baseDir)
    {
        // As Load reads a file: UTF-8, invalid sequences replaced.
        var text = Encoding.UTF8.GetString(input);
        try
        {
            ConfigLoader.Parse(text, "fuzz.yaml", baseDir, TestExtensions.Vigil);
            return FuzzOutcome.Value;
        }
        catch (ConfigException e)
        {
            // A clear error: every one has a position inside the text and a message, and the message is one line.
            foreach (var error in e.Errors)
            {
                if (error.Line < 1 || error.Column < 1 || error.Message.Length == 0 || error.Message.Contains('\n') || error.File != "fuzz.yaml")
                    throw new InvalidOperationException($"unclear config error: '{error}'");
            }
            return FuzzOutcome.Error;
        }
    }

    // ---- inputs ----

    static readonly string[] Seeds =
    [
        // Every key this version knows (the loader tests' own example), then every probe kind, JSON, anchors, NUL, tags.
        Vigil.Tests.Config.ConfigLoaderTests.FullYaml,
        Vigil.Tests.Config.ConfigLoaderTests.FullJson,
        """
        processes:
          - command: x
            log: { file: logs/w.log, timestamps: true, stream: true, prefix: true, stripAnsi: true, maxSize: 50MB, keep: 3, maxLine: 64KB, ringLines: 500 }
        """,
        """
        tether: { host: 127.0.0.1, port: 1883, username: u, password: p }
        processes:
          - command: "./server --port 8080 'a b' \"c\\\"d\""
            health:
              - { kind: http, url: "http://127.0.0.1:8080/health", status: 200-299, body: ok, period: 5s, timeout: 1s, failureThreshold: 3 }
              - { kind: tcp, address: "127.0.0.1:5432", role: readiness }
              - { kind: exec, command: [./check.sh], action: { exec: [notify-send, hung] } }
              - { kind: heartbeat-file, path: /run/w.beat, timeout: 30s }
              - { kind: output-stall, timeout: 1m, action: kill }
              - { kind: progress, file: /var/data/out.csv, timeout: 5m }
              - { kind: progress, http: "http://127.0.0.1:8080/stats", json: stats.processed }
              - { kind: progress, sql: "select count(*) from jobs", connection: "Data Source=jobs.db" }
              - { kind: memory, max: 2GB }
              - { kind: cpu, max: 95%, min: 1%, window: 1m }
              - { kind: sd-notify, watchdog: 10s, role: startup }
              - { kind: tether, agentId: screen1, interval: 15s, allowance: 2, pingRole: processPinger }
        """,
        """
        {"processes": [{"name": "a", "command": ["sleep", "1"], "env": {"A": "1"}, "restart": {"schedule": []}},
                       {"script": "x.py", "stop": {"signal": 9}, "log": {"out": "o.log", "err": "e.log"}}]}
        """,
        """
        processes:
          - &p { command: x, restart: &r { policy: always, schedule: [1s] } }
          - { command: y, restart: *r }
          - *p
        """,
        "a0: &a [x, x, x]\na1: &b [*a, *a, *a]\nprocesses: [{ command: *b }]\n",
        "processes:\n  - command: [\"a\\0b\"]\n    cwd: \"\\0\"\n",
        "%YAML 1.2\n---\nprocesses: !!seq\n  - ? command\n    : [x]\n...\n",
        "processes:\n- command: |\n    multi\n    line\n  args: >-\n    folded\n",
    ];

    static readonly byte[][] Tokens = [.. new[]
    {
        "&a ", "*a", "*b", "&b [*a, *a, *a, *a, *a, *a, *a, *a]", "<<: *a", "\"\\0\"", "\"\\u0000\"", "~", "null", "!!binary ", "!!str ",
        "!!int ", "? ", ": ", "- ", "\n  - ", "\n    ", "{", "}", "[", "]", ",", "\"", "'", "|", ">", "#", "---\n", "...\n", "%TAG ! x\n",
        "\t", "\r", "\uFEFF", "\"\\uD800\"", "processes:", "command:", "health: [{ kind: cpu, max: ", "restart: { schedule: [",
        "log: { ringLines: ", "25d", "24d", "99999999T", "4EiB", "1e400%", "-1", "NaN", ".inf", "0x10", "0o7", "a:70000", "http://[::1]:0/",
        "{ kind: exec, command: [] }", "&x [*x]",
    }.Select(Encoding.UTF8.GetBytes)];

    static byte[] Nest(int depth) => Encoding.ASCII.GetBytes(new string('[', depth) + new string(']', depth % 3 == 0 ? depth : 0));

    /// <summary>Flow-style configs built from the known keys and values near their bounds.</summary>
    static readonly Gen<byte[]> Fresh =
        Gen.Select(
            Gen.OneOf("name", "command", "script", "args", "cwd", "env", "detach", "restart", "stop", "log", "health", "bogus")
                .Select(Gen.OneOf(
                    "x", "[a, b]", "\"a b\"", "~", "1s", "0", "-1", "2147483648", "99999999999999999999", "25d", "17MB", "true",
                    "{ policy: never, schedule: [0], backoff: { multiplier: 1e308 } }", "{ restarts: 10001, within: 1m }",
                    "{ ringLines: 1000001, maxLine: 3GB, keep: 0, maxSize: 1 }", "{ signal: 65, timeout: 25d, killWait: 0 }",
                    "[{ kind: cpu, max: 1e9% }, { kind: memory, max: 0 }, { kind: tcp, address: \":\" }]",
                    "[{ kind: http, url: \"ftp://x\", status: 600-100 }, { kind: progress }, { kind: nope }]",
                    "{ A: 1, A: 2, \"\": 3 }"),
                    (k, v) => $"{k}: {v}")
                .Array[0, 6],
            Gen.Int[1, 3],
            (entries, n) => Encoding.UTF8.GetBytes("processes:\n" + string.Concat(Enumerable.Repeat($"  - {{ {string.Join(", ", entries)} }}\n", n))));

    static byte[][] Bases()
    {
        var list = Seeds.Select(Encoding.UTF8.GetBytes).ToList();
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "examples")) && File.Exists(Path.Combine(d.FullName, "Vigil.slnx")))
            {
                list.AddRange(Directory.GetFiles(Path.Combine(d.FullName, "examples")).Order(StringComparer.Ordinal).Select(File.ReadAllBytes));
                break;
            }
        return [.. list];
    }

    [Fact]
    public void The_loader_ends_every_mutated_config_in_a_config_or_a_config_error()
    {
        var report = FuzzHarness.Run(Target, Mutations.Of(Bases(), Fresh, Tokens, Nest), b => b, b => Load(b, _base.FullName), FuzzHarness.Seconds(10));
        output.WriteLine(report.ToString());
        Assert.True(report.Failures.Count == 0, report + "\n" + string.Join("\n\n", report.Failures));
        // The generators reach both ends: some inputs load, most are refused.
        Assert.True(report.Values > 0 && report.Errors > 0, report.ToString());
    }

    [Fact]
    public void The_unmutated_seeds_load()
    {
        // Checks the generator's starting points are valid, so the mutations start from configs that get deep into the loader.
        foreach (var seed in Seeds.Take(6))
            Assert.NotEmpty(ConfigLoader.Parse(seed, "fuzz.yaml", _base.FullName, TestExtensions.Vigil).Processes);
    }

    [Fact]
    public void Inputs_that_once_failed_end_in_a_value_or_a_config_error()
    {
        Assert.NotEmpty(FuzzHarness.CorpusFiles(Target));
        Assert.Empty(FuzzHarness.Replay(Target, b => Load(b, _base.FullName)));
    }
}
