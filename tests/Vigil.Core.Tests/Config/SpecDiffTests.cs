using System.Collections.Immutable;
using System.Runtime.Versioning;
using CsCheck;
using Vigil.Config;
using Vigil.Health;
using Vigil.Specs;
using Xunit;

namespace Vigil.Tests.Config;

/// <summary>Unit: which config keys differ between two specs (what a reload calls changed).</summary>
[SupportedOSPlatform("linux")]
public sealed class SpecDiffTests
{
    private static ProcessSpec Worker() => new()
    {
        Name = "worker",
        Command = ["python3", "work.py"],
        Args = ["--batch", "1000"],
        Env = ImmutableDictionary<string, string?>.Empty.Add("A", "1").Add("B", null),
        Restart = RestartSpec.Default with { Schedule = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)] },
        Health = [new ProbeSpec(new ExecCheck(["./check.sh"])) { Period = TimeSpan.FromSeconds(5) }, new ProbeSpec(new HttpCheck(new Uri("http://127.0.0.1:8080/")))],
    };

    [Fact]
    public void Specs_built_separately_with_equal_content_are_unchanged_though_records_call_them_different()
    {
        var a = Worker();
        var b = Worker() with { Env = ImmutableDictionary<string, string?>.Empty.Add("B", null).Add("A", "1") };
        Assert.NotEqual(a, b); // ImmutableArray and ImmutableDictionary compare by reference inside a record
        Assert.Empty(SpecDiff.Fields(a, b));
    }

    [Fact]
    public void Defaults_written_out_equal_defaults_left_out_and_a_relative_cwd_its_absolute_form()
    {
        var bare = new ProcessSpec { Command = ["x"] };
        var spelled = bare with
        {
            Restart = new RestartSpec { Schedule = [.. RestartSpec.DefaultSchedule] },
            Stop = new StopSpec { Signal = 15, Timeout = TimeSpan.FromSeconds(10) },
            Log = new LogSpec(),
        };
        Assert.Empty(SpecDiff.Fields(bare, spelled));
        Assert.Empty(SpecDiff.Fields(bare with { Cwd = "jobs" }, bare with { Cwd = Path.GetFullPath("jobs") }));
    }

    [Theory]
    [InlineData("command")]
    [InlineData("args")]
    [InlineData("env")]
    [InlineData("restart")]
    [InlineData("health")]
    [InlineData("stop")]
    [InlineData("log")]
    [InlineData("cwd")]
    [InlineData("detach")]
    [InlineData("ipc")]
    [InlineData("script")]
    public void One_changed_key_is_named_alone(string key)
    {
        var a = Worker();
        var b = key switch
        {
            "command" => a with { Command = ["python3", "work2.py"] },
            "args" => a with { Args = ["--batch", "1001"] },
            "env" => a with { Env = a.Env.SetItem("B", "") },
            "restart" => a with { Restart = a.Restart with { Schedule = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(6)] } },
            "health" => a with { Health = a.Health.SetItem(0, a.Health[0] with { Period = TimeSpan.FromSeconds(6) }) },
            "stop" => a with { Stop = a.Stop with { Signal = 2 } },
            "log" => a with { Log = new LogSpec { File = "/var/log/w.log" } },
            "cwd" => a with { Cwd = "/srv" },
            "detach" => a with { Detach = true },
            "ipc" => a with { Ipc = true },
            _ => a with { Command = [], Script = "work.py" },
        };
        Assert.Equal(key == "script" ? ["command", "script"] : [key], SpecDiff.Fields(a, b));
    }

    [Fact]
    public void Several_changes_are_listed_in_the_documented_key_order()
    {
        var a = Worker();
        var b = a with { Health = [], Env = a.Env.Remove("A"), Command = ["python3", "other.py"] };
        Assert.Equal(["command", "env", "health"], SpecDiff.Fields(a, b));
    }

    [Fact]
    public void Library_probes_are_equal_only_to_themselves()
    {
        Func<IProbe> make = () => throw new InvalidOperationException();
        var custom = new ProcessSpec { Command = ["x"], Health = [new ProbeSpec(new CustomCheck("mine", make))] };
        Assert.Empty(SpecDiff.Fields(custom, custom with { }));
        Assert.Equal(["health"], SpecDiff.Fields(custom, custom with { Health = [new ProbeSpec(new CustomCheck("mine", () => throw new InvalidOperationException()))] }));
    }

    [Fact]
    public void Generated_specs_equal_their_rebuilt_copies_and_differ_from_a_changed_one() =>
        Check.Sample(SpecGen.Spec, spec =>
        {
            // A copy with every collection rebuilt: structurally the same, never reference-equal.
            var copy = spec with
            {
                Command = [.. spec.Command], Args = [.. spec.Args],
                Env = spec.Env.ToImmutableDictionary(StringComparer.Ordinal),
                Health = [.. spec.Health.Select(p => p with { })],
                Restart = spec.Restart with { Schedule = [.. spec.Restart.Schedule] },
            };
            Assert.Empty(SpecDiff.Fields(spec, copy));
            Assert.Equal(["args"], SpecDiff.Fields(spec, spec with { Args = [.. spec.Args, "x"] }));
        }, iter: 1000, threads: 1);
}
