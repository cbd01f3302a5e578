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

    public void Dispose() => _dir.Delete(recursive: true);

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
}
