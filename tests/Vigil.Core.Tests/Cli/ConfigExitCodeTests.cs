using Vigil.Specs;
using Vigil.Tests.Config;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>Issue 10 §8 through the real `vigil` executable: bad input is exit 2 with <c>file:line:col: key: message</c>,
/// never an unhandled exception (exit 134) or a child started with a cut argument; EACCES says "permission denied".</summary>
[Collection("processes")]
public sealed class ConfigExitCodeTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-badcfg-");

    public void Dispose() => _dir.Delete(recursive: true);

    private async Task<(int Code, string Err)> Run(string yaml)
    {
        var path = Path.Combine(_dir.FullName, "vigil.yaml");
        await File.WriteAllTextAsync(path, yaml);
        await using var vigil = VigilProcess.Start(_dir.FullName, "run", "-c", path);
        int code = await vigil.WaitExit(TimeSpan.FromSeconds(30));
        return (code, string.Join('\n', vigil.Err));
    }

    [Theory]
    [InlineData("processes:\n  - command: [echo, \"a\\0b\"]\n", "vigil.yaml:2:21: processes[0].command[1]: ")]
    [InlineData("processes:\n  - command: [echo, hi]\n    cwd: \"a\\0b\"\n", "vigil.yaml:3:5: processes[0].cwd: ")]
    [InlineData("processes:\n  - command: [echo, hi]\n    log: { file: \"a\\0b\" }\n", "vigil.yaml:3:12: processes[0].log.file: ")]
    [InlineData("processes:\n  - command: [echo, hi]\n    env: { A: \"\\0\" }\n", "vigil.yaml:3:12: processes[0].env.A: ")]
    [InlineData("processes:\n  - command: [echo, hi]\n    health: [{ kind: exec, command: [\"a\\0\"] }]\n", "vigil.yaml:3:38: processes[0].health[0].command[0]: ")]
    public async Task A_NUL_byte_exits_2_with_the_key(string yaml, string where)
    {
        var (code, err) = await Run(yaml);
        Assert.Equal(2, code);
        Assert.Contains(where + Limits.NulMessage, err);
        Assert.DoesNotContain("Unhandled exception", err);
    }

    [Theory]
    [InlineData("    log: { ringLines: 5000000 }\n", "vigil.yaml:3:12: processes[0].log.ringLines: must be at most 1,000,000")]
    [InlineData("    stop: { killWait: 50d }\n", "vigil.yaml:3:13: processes[0].stop.killWait: must be at most 24d")]
    [InlineData("    health: [{ kind: output-stall, timeout: 30d }]\n", "vigil.yaml:3:36: processes[0].health[0].timeout: must be at most 24d")]
    public async Task A_number_past_its_bound_exits_2(string section, string error)
    {
        var (code, err) = await Run("processes:\n  - command: [echo, hi]\n" + section);
        Assert.Equal(2, code);
        Assert.Contains(error, err);
    }

    [Fact]
    public async Task A_billion_laughs_file_exits_2_quickly()
    {
        var started = DateTime.UtcNow;
        var (code, err) = await Run(BadInputTests.BillionLaughs());
        Assert.Equal(2, code);
        Assert.Contains("vigil.yaml:5:45: too many alias expansions", err);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(20), "vigil took too long to refuse it");
    }

    /// <summary>Tests run as root, whom no folder mode stops: vigil runs as nobody (setpriv) against a 0700 folder of root.
    /// The start-up checks refuse the config (exit 2, nothing started), each error at its key, in the words of EACCES.</summary>
    [Fact]
    public async Task A_cwd_or_command_behind_a_folder_of_another_user_is_permission_denied_not_missing()
    {
        var root = _dir.FullName;
        File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);   // 0755: nobody reads the config
        var priv = Directory.CreateDirectory(Path.Combine(root, "private"));
        File.SetUnixFileMode(priv.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);   // 0700, owner root
        Directory.CreateDirectory(Path.Combine(priv.FullName, "work"));
        File.Copy("/bin/true", Path.Combine(priv.FullName, "prog"));
        var config = Path.Combine(root, "vigil.yaml");
        await File.WriteAllTextAsync(config, $"""
            processes:
              - name: incwd
                command: [/bin/true]
                cwd: {priv.FullName}/work
                restart: {"{"} policy: never {"}"}
              - name: byslash
                command: [{priv.FullName}/prog]
                restart: {"{"} policy: never {"}"}
              - name: bypath
                command: [prog]
                env: {"{"} PATH: {priv.FullName} {"}"}
                restart: {"{"} policy: never {"}"}
              - name: missing
                command: [/bin/true]
                cwd: {root}/nowhere
                restart: {"{"} policy: never {"}"}
            """);
        File.SetUnixFileMode(config, (UnixFileMode)0b110_100_100);

        await using var vigil = VigilProcess.StartWrapped(root, ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"], "run", "-c", config);
        Assert.Equal(2, await vigil.WaitExit());
        var incwd = vigil.Err.Single(l => l.StartsWith($"{config}:4:5: processes[0].cwd: "));
        var byslash = vigil.Err.Single(l => l.StartsWith($"{config}:7:5: processes[1].command: "));
        var bypath = vigil.Err.Single(l => l.StartsWith($"{config}:10:5: processes[2].command: "));
        var missing = vigil.Err.Single(l => l.StartsWith($"{config}:15:5: processes[3].cwd: "));
        Assert.Contains(vigil.Err, l => l == $"vigil: {config}: 4 error(s); nothing was started");
        Assert.DoesNotContain(vigil.Out, l => l.Contains("spawned"));
        Assert.Contains($"working directory '{priv.FullName}/work': permission denied", incwd);
        Assert.Contains($"cannot execute '{priv.FullName}/prog': permission denied for {priv.FullName}/prog", byslash);
        Assert.Contains($"cannot execute 'prog': permission denied for {priv.FullName}/prog", bypath);
        Assert.All(new[] { incwd, byslash, bypath }, l => Assert.DoesNotContain("does not exist", l));
        Assert.Contains($"working directory '{root}/nowhere' does not exist", missing);   // ENOENT is still "does not exist"
    }
}
