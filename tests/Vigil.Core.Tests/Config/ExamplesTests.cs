using System.Runtime.Versioning;
using Vigil.Config;
using Xunit;

namespace Vigil.Tests.Config;

[SupportedOSPlatform("linux")]
public class ExamplesTests
{
    internal static string ExamplesDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Vigil.slnx"))) return Path.Combine(dir.FullName, "examples");
        throw new DirectoryNotFoundException("no Vigil.slnx above " + AppContext.BaseDirectory);
    }

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(ExamplesDir()).Order(StringComparer.Ordinal))
            if (Path.GetExtension(f) is ".yaml" or ".yml" or ".json") data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_example_loads_without_errors(string file)
    {
        var config = ConfigLoader.Load(Path.Combine(ExamplesDir(), file));
        Assert.NotEmpty(config.Processes);
    }

    [Fact]
    public void The_basic_yaml_and_json_examples_say_the_same_thing()
    {
        var yaml = ConfigLoader.Load(Path.Combine(ExamplesDir(), "basic.yaml")).Processes;
        var json = ConfigLoader.Load(Path.Combine(ExamplesDir(), "basic.json")).Processes;
        Assert.Equal(yaml.Count, json.Count);
        for (int i = 0; i < yaml.Count; i++)
        {
            Assert.Equal(yaml[i].Name, json[i].Name);
            Assert.Equal(yaml[i].Command.ToArray(), json[i].Command.ToArray());
            Assert.Equal(yaml[i].Args.ToArray(), json[i].Args.ToArray());
            Assert.Equal(yaml[i].Cwd, json[i].Cwd);
            Assert.Equal(yaml[i].Env.OrderBy(e => e.Key), json[i].Env.OrderBy(e => e.Key));
            Assert.Equal(yaml[i].Restart.Policy, json[i].Restart.Policy);
            Assert.Equal(yaml[i].Restart.Schedule.ToArray(), json[i].Restart.Schedule.ToArray());
            Assert.Equal(yaml[i].Restart.ResetAfter, json[i].Restart.ResetAfter);
            Assert.Equal(yaml[i].Restart.Backoff, json[i].Restart.Backoff);
            Assert.Equal(yaml[i].Restart.Limit, json[i].Restart.Limit);
            Assert.Equal(yaml[i].Stop, json[i].Stop);
            Assert.Equal(yaml[i].Detach, json[i].Detach);
        }
    }
}
