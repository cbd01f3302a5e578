using Vigil.Config;
using Vigil.Specs;
using Xunit;

namespace Vigil.Tests.Ligato;

/// <summary>Unit: Ligato process templates (process.proto's JSON, both spellings) read into specs, with positioned errors.</summary>
public sealed class TemplateLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vigil-templates-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string file, string json)
    {
        var path = Path.Combine(_dir, file);
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void Snake_case_template_maps_every_field()
    {
        Write("p.json", """
            {
              "name": "p",
              "cmd": "/bin/sleep",
              "p_options": {
                "args": ["30"],
                "out_writer": true,
                "restart": 3,
                "detach": true,
                "run_on_startup": true,
                "notify": true,
                "auto_terminate": true,
                "cpu_affinity_list": "0-2,6",
                "cpu_affinity_delay": "1m30s"
              }
            }
            """);
        var t = Assert.Single(ConfigLoader.LoadTemplates(_dir));
        Assert.Equal(("p", "/bin/sleep", true, 3, true, true, true, true), (t.Name, t.Cmd, t.OutWriter, t.Restart, t.Detach, t.RunOnStartup, t.Notify, t.AutoTerminate));
        var spec = t.ToSpec();
        Assert.Equal(["/bin/sleep"], spec.Command.AsEnumerable());
        Assert.Equal(["30"], spec.Args.AsEnumerable());
        Assert.Equal(RestartPolicyKind.Always, spec.Restart.Policy);
        Assert.Equal(3, spec.Restart.Max);
        Assert.True(spec.Detach);
        Assert.True(spec.Autostart);
        Assert.Equal([0, 1, 2, 6], spec.CpuAffinity!.Cpus.AsEnumerable());
        Assert.Equal(TimeSpan.FromSeconds(90), spec.CpuAffinity.Delay);
        Assert.Equal(LogEcho.Out, spec.Log!.Echo);
        Assert.Empty(spec.Validate());
    }

    [Fact]
    public void Camel_case_spelling_of_protobuf_json_means_the_same()
    {
        Write("a.json", """{"name":"a","cmd":"/bin/true","p_options":{"run_on_startup":true,"restart":-1,"cpu_affinity_mask":"0x5","err_writer":true}}""");
        Write("b.json", """{"name":"b","cmd":"/bin/true","pOptions":{"runOnStartup":true,"restart":-1,"cpuAffinityMask":"0x5","errWriter":true}}""");
        var ts = ConfigLoader.LoadTemplates(_dir);
        Assert.Equal(["a", "b"], ts.Select(t => t.Name));
        var (a, b) = (ts[0].ToSpec(), ts[1].ToSpec());
        Assert.Empty(SpecDiff.Fields(a with { Name = "b" }, b));
        Assert.Equal([0, 2], b.CpuAffinity!.Cpus.AsEnumerable());
        Assert.Equal(LogEcho.Err, b.Log!.Echo);
    }

    [Theory]
    [InlineData(0, RestartPolicyKind.Never, null)]
    [InlineData(-1, RestartPolicyKind.Always, null)]
    [InlineData(5, RestartPolicyKind.Always, 5)]
    public void Restart_counts_map_to_never_always_and_a_lifetime_cap(int restart, RestartPolicyKind policy, int? max)
    {
        Write("r.json", $$$"""{"name":"r","cmd":"/bin/true","p_options":{"restart":{{{restart}}}}}""");
        var spec = Assert.Single(ConfigLoader.LoadTemplates(_dir)).ToSpec();
        Assert.Equal((policy, max), (spec.Restart.Policy, spec.Restart.Max));
        Assert.False(spec.Autostart); // run_on_startup left out: defined, not started
    }

    [Fact]
    public void Errors_name_the_file_line_column_and_field_of_every_bad_template()
    {
        Write("good.json", """{"name":"good","cmd":"/bin/true"}""");
        var bad = Write("bad.json", "{\n  \"name\": \"bad\",\n  \"cmd\": \"/bin/true\",\n  \"p_options\": {\n    \"restart\": \"often\",\n    \"run_on_startup\": \"yes\",\n    \"cpu_afinity_list\": \"0\"\n  }\n}\n");
        var noCmd = Write("nocmd.json", """{"name":"x"}""");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.LoadTemplates(_dir));
        var lines = e.Errors.Select(x => x.ToString()).ToList();
        Assert.Contains($"{bad}:5:5: p_options.restart: expected a whole number, got 'often'", lines);
        Assert.Contains($"{bad}:6:5: p_options.run_on_startup: expected true or false, got 'yes'", lines);
        Assert.Contains(lines, l => l.StartsWith($"{bad}:7:5: p_options.cpu_afinity_list: unknown key; did you mean 'cpu_affinity_list'?", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"{noCmd}:1:1: cmd: a template needs a cmd", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("good.json", StringComparison.Ordinal));
    }

    [Fact]
    public void Not_json_and_duplicate_names_and_bad_affinity_are_refused()
    {
        var broken = Write("a.json", "{\"name\": \"a\", \"cmd\": ");
        Write("b.json", """{"name":"b","cmd":"/bin/true"}""");
        var twice = Write("c.json", """{"name":"b","cmd":"/bin/true"}""");
        var cpus = Write("d.json", "{\"name\":\"d\",\"cmd\":\"/bin/true\",\n \"pOptions\":{\"cpuAffinityList\":\"3-1\",\"cpuAffinityDelay\":\"soon\"}}");
        var lines = Assert.Throws<ConfigException>(() => ConfigLoader.LoadTemplates(_dir)).Errors.Select(x => x.ToString()).ToList();
        Assert.Contains(lines, l => l.StartsWith($"{broken}:2:1: not valid JSON", StringComparison.Ordinal) && l.Contains("not valid JSON", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"{twice}:0:0: name: template 'b' is also defined in", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"{cpus}:2:", StringComparison.Ordinal) && l.Contains("pOptions.cpuAffinityDelay: expected a Go duration", StringComparison.Ordinal));
    }

    [Fact]
    public void Tab_indented_json_reads_as_it_is_written()
    {
        Write("t.json", "{\n\t\"name\": \"t\",\n\t\"cmd\": \"/bin/true\",\n\t\"p_options\": {\n\t\t\"restart\": 2\n\t}\n}\n");
        Assert.Equal(2, Assert.Single(ConfigLoader.LoadTemplates(_dir)).Restart);
    }

    [Fact]
    public void Only_json_files_are_templates()
    {
        Write("notes.txt", "not a template");
        Directory.CreateDirectory(Path.Combine(_dir, "sub.json"));
        Write("x.json", """{"name":"x","cmd":"/bin/true"}""");
        Assert.Equal("x", Assert.Single(ConfigLoader.LoadTemplates(_dir)).Name);
    }

    [Fact]
    public void A_missing_folder_is_an_error_naming_it()
    {
        var missing = Path.Combine(_dir, "nope");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.LoadTemplates(missing));
        Assert.Equal($"{missing}:0:0: templates: folder does not exist", Assert.Single(e.Errors).ToString());
    }

    [Fact]
    public void A_written_template_reads_back_to_the_same_unit()
    {
        var spec = new ProcessSpec
        {
            Name = "w x", Command = ["/bin/echo", "a b"], Args = ["\"q\"", "é\t"],
            Restart = RestartSpec.Default with { Max = 4 }, Detach = true, Autostart = false,
            CpuAffinity = new CpuAffinity { Cpus = [1, 3], Delay = TimeSpan.FromMilliseconds(1500) },
            Log = LogSpec.Default with { Echo = LogEcho.Both },
        };
        var t = LigatoTemplate.FromSpec(spec, out var lost);
        Assert.Empty(lost);
        var path = Write("w x.json", t.ToJson());
        var back = ConfigLoader.LoadTemplate(path).ToSpec();
        Assert.Empty(SpecDiff.Fields(spec with { Command = ["/bin/echo"], Args = ["a b", "\"q\"", "é\t"] }, back));
    }

    [Fact]
    public void What_a_template_cannot_say_is_listed()
    {
        var spec = new ProcessSpec { Name = "e", Command = ["/bin/true"], Env = System.Collections.Immutable.ImmutableDictionary<string, string?>.Empty.Add("A", "1"), Cwd = "/tmp" };
        LigatoTemplate.FromSpec(spec, out var lost);
        Assert.Equal(["cwd", "env"], lost);
    }

    [Fact]
    public void The_example_folder_loads_with_its_config()
    {
        var config = ConfigLoader.Load(Path.Combine(Vigil.Tests.Config.ExamplesTests.ExamplesDir(), "ligato.yaml"));
        Assert.Equal(["agent", "on-demand", "worker"], config.Units.Select(u => u.DisplayName));
        Assert.Equal([true, false, true], config.Units.Select(u => u.Autostart));
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("1.5s", 15_000_000)]
    [InlineData("1m30s", 900_000_000)]
    [InlineData("2h0m0s", 72_000_000_000)]
    [InlineData("300ms", 3_000_000)]
    [InlineData("10us", 100)]
    public void Go_durations_parse_as_time_ParseDuration_does(string text, long ticks)
    {
        Assert.True(LigatoTemplate.TryParseGoDuration(text, out var d));
        Assert.Equal(ticks, d.Ticks);
        Assert.True(LigatoTemplate.TryParseGoDuration(LigatoTemplate.FormatGoDuration(d), out var again));
        Assert.Equal(d, again);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("-1s")]
    [InlineData("1d")]
    [InlineData("s")]
    public void Bad_go_durations_are_refused(string text) => Assert.False(LigatoTemplate.TryParseGoDuration(text, out _));
}
