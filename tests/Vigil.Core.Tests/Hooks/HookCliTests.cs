using System.Text.Json;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Hooks;

/// <summary>End to end with the real vigil executable: a unit's exec hook and the top-level webhooks run for a crash, a
/// failing hook is printed as hook-failed, a SIGHUP reload brings new top-level hooks, and SIGTERM still exits 0.</summary>
[Collection("processes")]
public sealed class HookCliTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-hookcli-");

    private readonly List<string[]> _argvs = [];

    public void Dispose()
    {
        Procs.KillAll(_argvs.SelectMany(a => Procs.WithArgv(a)));
        _dir.Delete(recursive: true);
    }

    private string Config(int port, int refused, string extra = "") => $$"""
        processes:
          - name: crashy
            command: ["{{Fixture.Path}}", exit, "3"]
            restart: { policy: never }
            hooks:
              exited: { shell: "cat > got.json.tmp && mv got.json.tmp got.json", cwd: "{{_dir.FullName}}" }
        hooks:
          exited:
            - { webhook: "http://127.0.0.1:{{port}}/exited" }
            - { webhook: "http://127.0.0.1:{{refused}}/nobody", timeout: 10s }
        {{extra}}
        """;

    [Fact]
    public async Task Vigil_run_runs_exec_and_webhook_hooks_prints_hook_failed_and_reloads_top_level_hooks()
    {
        using var receiver = new HookReceiver();
        int refused = Ports.Free();
        var config = Path.Combine(_dir.FullName, "vigil.yaml");
        File.WriteAllText(config, Config(receiver.Port, refused));
        await using var vigil = VigilProcess.Start(_dir.FullName, "run", "-c", config);

        var exited = await vigil.WaitLine(l => l.Contains(" crashy#") && l.Contains(" exited: exited with code 3"), "crashy exited");
        int pid = Procs.ParsePid(exited, " crashy#");
        var posted = Assert.Single(await receiver.WaitFor("/exited"));
        Assert.Equal("crashy", posted.Json.GetProperty("unit").GetString());
        Assert.Equal(pid, posted.Json.GetProperty("pid").GetInt32());
        var file = Path.Combine(_dir.FullName, "got.json");
        Assert.True(await Procs.Eventually(() => File.Exists(file), TimeSpan.FromSeconds(30)), "the exec hook never wrote got.json");
        var json = JsonDocument.Parse(File.ReadAllText(file)).RootElement;
        Assert.Equal("exited", json.GetProperty("event").GetString());
        Assert.Equal(pid, json.GetProperty("pid").GetInt32());
        await vigil.WaitLine(l => l.Contains(" crashy#") && l.Contains($" hook-failed: exited hook webhook http://127.0.0.1:{refused}/nobody failed: connection refused"),
            "the refused webhook's hook-failed line");

        // A reload brings new top-level hooks: this one runs for the reload's own event.
        File.WriteAllText(config, Config(receiver.Port, refused, $"  reloaded: {{ webhook: \"http://127.0.0.1:{receiver.Port}/reloaded\" }}"));
        vigil.Signal(1);
        var reloaded = Assert.Single(await receiver.WaitFor("/reloaded"));
        Assert.Equal("vigil", reloaded.Json.GetProperty("unit").GetString());

        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit());
    }

    [Fact]
    public async Task Sigterm_with_a_hook_in_flight_kills_it_and_its_setsid_grandchild_and_exits_0()
    {
        string[] escaped = ["sleep", Procs.UniqueSleep()], waiting = ["sleep", Procs.UniqueSleep()];
        _argvs.AddRange([escaped, waiting]);
        File.WriteAllText(Path.Combine(_dir.FullName, "vigil.yaml"), $$"""
            processes:
              - name: crashy
                command: ["{{Fixture.Path}}", exit, "3"]
                restart: { policy: never }
                hooks: { exited: { shell: "setsid sleep {{escaped[1]}} & sleep {{waiting[1]}}", timeout: 10m } }
            """);
        await using var vigil = VigilProcess.Start(_dir.FullName, "run");
        Assert.True(await Procs.Eventually(() => Procs.WithArgv(escaped).Count > 0 && Procs.WithArgv(waiting).Count > 0, TimeSpan.FromSeconds(30)),
            "the hook never ran:\n" + string.Join('\n', vigil.Out));

        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit(TimeSpan.FromSeconds(60)));
        Assert.Empty(Procs.WithArgv(escaped));
        Assert.Empty(Procs.WithArgv(waiting));
        Assert.Contains(vigil.Out, l => l.Contains(" hook-failed: exited hook shell 'setsid sleep") && l.EndsWith("failed: stopped: Vigil is shutting down (its processes were killed)"));
    }
}
