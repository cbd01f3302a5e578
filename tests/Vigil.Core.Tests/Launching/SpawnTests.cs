using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Launching;

/// <summary>Real spawns: script interpreters, core dumps, clean signal state.</summary>
[Collection("processes")]
public sealed class SpawnTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-spawn-");
    public void Dispose() => _dir.Delete(recursive: true);

    private async Task<(List<string> Lines, Exited Exit)> RunToExit(ProcessSpec spec)
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        sup.Start(spec.WithSchedule(0));
        var exit = await rec.Event<Exited>();
        await rec.Event<NotRestarting>();
        await Procs.Eventually(() => rec.Lines.Count > 0, TimeSpan.FromSeconds(2)); // output may trail the exit by a moment
        return (rec.Lines.Select(l => l.Text).ToList(), exit);
    }

    [Fact]
    public async Task Sh_script_runs_under_bash_with_args()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "hello.sh"), "echo \"bash=${BASH_VERSION:+yes} args=$*\"\n");
        var (lines, exit) = await RunToExit(new ProcessSpec { Name = "sh", Script = "hello.sh", Args = ["a", "b c"], Cwd = _dir.FullName });
        Assert.Equal(0, exit.Status.Code);
        Assert.Contains("bash=yes args=a b c", lines);
    }

    [Fact]
    public async Task Py_script_runs_under_python3()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "hello.py"), "import sys\nprint('py', sys.version_info[0], sys.argv[1])\n");
        var (lines, exit) = await RunToExit(new ProcessSpec { Name = "py", Script = "hello.py", Args = ["x"], Cwd = _dir.FullName });
        Assert.Equal(0, exit.Status.Code);
        Assert.Contains("py 3 x", lines);
    }

    [Fact]
    public async Task Without_command_or_script_the_main_of_package_json_runs_under_node()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "package.json"), """{ "name": "t", "main": "server.js" }""");
        File.WriteAllText(Path.Combine(_dir.FullName, "server.js"), "console.log('node', process.argv.slice(2).join(','))\n");
        var (lines, exit) = await RunToExit(new ProcessSpec { Name = "node", Args = ["1", "2"], Cwd = _dir.FullName });
        Assert.Equal(0, exit.Status.Code);
        Assert.Contains("node 1,2", lines);
    }

    [Fact]
    public void Interpreters_are_chosen_by_extension()
    {
        Assert.Equal(["node"], CommandResolver.InterpreterFor("a.js")!);
        Assert.Equal(["python3"], CommandResolver.InterpreterFor("a.py")!);
        Assert.Equal(["dotnet"], CommandResolver.InterpreterFor("a.dll")!);
        Assert.Equal(["bash"], CommandResolver.InterpreterFor("a.sh")!);
        Assert.Null(CommandResolver.InterpreterFor("a.rb"));
    }

    [Fact]
    public async Task A_core_dump_is_reported_with_the_signal()
    {
        // The shell raises its own soft core limit and aborts itself; with core_pattern writing a file, the kernel dumps.
        var (_, exit) = await RunToExit(new ProcessSpec { Name = "core", Command = ["sh", "-c", "ulimit -c unlimited; kill -ABRT $$"], Cwd = _dir.FullName });
        Assert.Equal(6, exit.Status.Signal);
        var pattern = File.ReadAllText("/proc/sys/kernel/core_pattern").Trim();
        if (!pattern.StartsWith('|')) // a file pattern: the dump happened and must be flagged
            Assert.True(exit.Status.CoreDumped, "core dump not reported");
        Assert.Contains("killed by SIGABRT", exit.Reason);
    }

    [Fact]
    public async Task Children_start_with_default_signal_dispositions_and_an_empty_mask()
    {
        // The .NET runtime ignores SIGPIPE; an ignored disposition would survive exec. The child must not inherit it.
        var (lines, _) = await RunToExit(new ProcessSpec { Name = "sig", Command = ["sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status"] });
        // Bits 0-30 are signals 1-31. (32 and 33 are glibc-internal; sigfillset leaves them out, so posix_spawn
        // cannot reset them, and no program uses them.)
        ulong Mask(string key) => Convert.ToUInt64(lines.Single(l => l.StartsWith(key)).Split('\t')[1], 16);
        Assert.Equal(0UL, Mask("SigIgn:") & 0x7FFF_FFFF);
        Assert.Equal(0UL, Mask("SigBlk:"));
    }
}
