using System.Collections.Immutable;
using System.Runtime.Versioning;
using Vigil.Config;
using Vigil.Specs;
using Xunit;

namespace Vigil.Tests.Config;

/// <summary>The start-up checks: a command that cannot be found or run, or a missing folder, is a config error at its
/// key (<see cref="ConfigLoader.LoadChecked"/>) or a message for <c>vigil add</c> (<see cref="ConfigChecks.Check"/>).
/// Real files in a temporary folder; the lookup is the launcher's own.</summary>
[SupportedOSPlatform("linux")]
public sealed class StartupCheckTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-checks-");
    private string Dir => _dir.FullName;

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>A file in the test folder; executable unless told.</summary>
    private string Make(string name, bool executable = true, string text = "#!/bin/sh\nexit 0\n")
    {
        var path = Path.Combine(Dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, executable ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute : UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    private string Config(string text)
    {
        var path = Path.Combine(Dir, "vigil.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    private static ConfigError[] Errors(string path) => [.. Assert.Throws<ConfigException>(() => ConfigLoader.LoadChecked(path)).Errors];

    [Fact]
    public void A_mistyped_command_is_an_error_at_its_key_with_the_nearest_name_in_PATH()
    {
        Make("bin/worker-tool");
        var path = Config($"""
            processes:
              - name: ok
                command: [sh, -c, "exit 0"]
              - name: also-ok
                command: [worker-tool]
                env: {"{"} PATH: "{Dir}/bin" {"}"}
              - name: typo
                env: {"{"} PATH: "{Dir}/bin:/nonexistent" {"}"}
                command: [wroker-tool, --fast]
            """);
        var e = Assert.Single(Errors(path));
        Assert.Equal((path, 9, 5, "processes[2].command"), (e.File, e.Line, e.Column, e.KeyPath));
        Assert.Equal($"cannot execute 'wroker-tool': command not found in PATH ({Dir}/bin:/nonexistent); did you mean 'worker-tool'?", e.Message);
        Assert.StartsWith($"{path}:9:5: processes[2].command: cannot execute 'wroker-tool'", e.ToString());
        // The plain load does not check: the same file loads.
        Assert.Equal(3, ConfigLoader.Load(path).Processes.Count);
    }

    [Fact]
    public void The_units_own_PATH_is_searched_and_without_it_Vigils()
    {
        Make("tools/only-here");
        Assert.Empty(ConfigChecks.Check(new ProcessSpec { Command = ["only-here"], Env = ImmutableDictionary<string, string?>.Empty.Add("PATH", Dir + "/tools") }));
        var problem = Assert.Single(ConfigChecks.Check(new ProcessSpec { Command = ["only-here"] }));
        Assert.StartsWith("command: cannot execute 'only-here': command not found in PATH (", problem);
        // A unit that removes PATH gets the spawn's default search path.
        var noPath = Assert.Single(ConfigChecks.Check(new ProcessSpec { Command = ["only-here"], Env = ImmutableDictionary<string, string?>.Empty.Add("PATH", null) }));
        Assert.Contains("(/usr/local/bin:/usr/bin:/bin)", noPath);
        Assert.Empty(ConfigChecks.Check(new ProcessSpec { Command = ["sh"], Env = ImmutableDictionary<string, string?>.Empty.Add("PATH", null) }));
    }

    [Fact]
    public void A_relative_command_is_found_against_the_units_cwd_and_must_be_executable()
    {
        Make("app/run.sh");
        Make("app/notes.txt", executable: false);
        Directory.CreateDirectory(Path.Combine(Dir, "app/folder"));
        var cwd = Path.Combine(Dir, "app");
        Assert.Empty(ConfigChecks.Check(new ProcessSpec { Command = ["./run.sh"], Cwd = cwd }));
        Assert.Equal([$"command: cannot execute './notes.txt': {cwd}/notes.txt is not executable (chmod +x, or run it through an interpreter)"],
            ConfigChecks.Check(new ProcessSpec { Command = ["./notes.txt"], Cwd = cwd }));
        Assert.Equal([$"command: cannot execute './gone.sh': {cwd}/gone.sh does not exist"], ConfigChecks.Check(new ProcessSpec { Command = ["./gone.sh"], Cwd = cwd }));
        Assert.Equal([$"command: cannot execute './folder': {cwd}/folder is a directory"], ConfigChecks.Check(new ProcessSpec { Command = ["./folder"], Cwd = cwd }));
        // In the config, relative to the cwd key, not to Vigil's folder.
        var path = Config("processes:\n  - { command: ./run.sh, cwd: app }\n  - { command: ./run.sh }\n");
        var e = Assert.Single(Errors(path));
        Assert.Equal(("processes[1].command", 3, 7), (e.KeyPath, e.Line, e.Column));
    }

    [Fact]
    public void A_missing_cwd_or_a_file_as_cwd_is_an_error_at_the_cwd_key_and_the_command_is_not_judged_without_it()
    {
        Make("plain-file");
        var path = Config($"""
            processes:
              - name: a
                command: [sh]
                cwd: does/not/exist
              - name: b
                cwd: plain-file
                command: [no-such-program-either]
            """);
        var errors = Errors(path);
        Assert.Equal(2, errors.Length);
        Assert.Equal(("processes[0].cwd", 4, 5, $"working directory '{Dir}/does/not/exist' does not exist"), (errors[0].KeyPath, errors[0].Line, errors[0].Column, errors[0].Message));
        Assert.Equal(("processes[1].cwd", 6, 5, $"working directory '{Dir}/plain-file' is not a folder"), (errors[1].KeyPath, errors[1].Line, errors[1].Column, errors[1].Message));
    }

    [Fact]
    public void A_script_must_exist_in_the_cwd_and_its_interpreter_in_PATH()
    {
        Make("app.py", text: "print('hi')\n");
        Make("app.js", text: "console.log('hi')\n");
        Make("tool", text: "#!/bin/sh\n");
        Make("notexec", executable: false);
        var noNode = ImmutableDictionary<string, string?>.Empty.Add("PATH", "/nonexistent");
        Assert.Empty(ConfigChecks.Check(new ProcessSpec { Script = "app.py", Cwd = Dir }));
        Assert.Empty(ConfigChecks.Check(new ProcessSpec { Script = "tool", Cwd = Dir })); // no known extension: runs itself
        Assert.Equal([$"script: script 'missing.py' not found in {Dir}"], ConfigChecks.Check(new ProcessSpec { Script = "missing.py", Cwd = Dir }));
        Assert.Equal(["script: cannot execute 'node': command not found in PATH (/nonexistent) (the interpreter for app.js)"],
            ConfigChecks.Check(new ProcessSpec { Script = "app.js", Cwd = Dir, Env = noNode }));
        Assert.Equal([$"script: cannot execute './notexec': {Dir}/notexec is not executable (chmod +x, or run it through an interpreter)"],
            ConfigChecks.Check(new ProcessSpec { Script = "notexec", Cwd = Dir }));
        var path = Config("processes:\n  - name: s\n    cwd: .\n    script: missing.js\n");
        var e = Assert.Single(Errors(path));
        Assert.Equal(("processes[0].script", 4, 5), (e.KeyPath, e.Line, e.Column));
    }

    [Fact]
    public void Every_failing_unit_is_reported_at_once_detached_ones_too()
    {
        var path = Config("""
            processes:
              - { name: a, command: [no-such-a] }
              - { name: b, command: [sh, -c, "true"] }
              - { name: c, command: no-such-c --flag, detach: true }
            """);
        var errors = Errors(path);
        Assert.Equal(["processes[0].command", "processes[2].command"], errors.Select(e => e.KeyPath));
        Assert.All(errors, e => Assert.Contains("command not found in PATH", e.Message));
        Assert.Equal([2, 4], errors.Select(e => e.Line));
    }

    [Fact]
    public void Load_errors_come_before_checks_and_are_thrown_alone()
    {
        var path = Config("processes:\n  - { command: [no-such-x], restart: { policy: sometimes } }\n");
        var e = Assert.Single(Errors(path));
        Assert.Equal("processes[0].restart.policy", e.KeyPath);
        Assert.Contains("file does not exist", Assert.Single(Errors(Path.Combine(Dir, "absent.yaml"))).Message);
    }

    [Fact]
    public void A_unit_without_command_or_script_is_checked_through_its_package_json()
    {
        Make("pkg/package.json", executable: false, text: """{ "main": "server.js" }""");
        var path = Config("processes:\n  - name: pkg\n    cwd: pkg\n");
        var e = Assert.Single(Errors(path));
        Assert.Equal(("processes[0]", 2, 5), (e.KeyPath, e.Line, e.Column));
        Assert.Equal($"script 'server.js' not found in {Dir}/pkg", e.Message);
    }
}
