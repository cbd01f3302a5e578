using System.Net;
using System.Text.Json;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Clients;

/// <summary>End to end, under the real vigil executable: a Node app on the vigil-client package (clients/node, driven by
/// tests/fixtures/node/client-app.cjs) and a .NET app on Vigil.Client (tests/fixtures/Vigil.ClientApp), which take the
/// same options and print the same lines. Smoke: .ci/run runs them again against the Native AOT vigil (its IPC channel
/// and notify path included).</summary>
[Collection("processes")]
[Trait("Category", VigilProcess.Smoke)]
public sealed class ClientTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-node-client-");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>node's full path (the unit's PATH is taken away in one test).</summary>
    private static string NodePath { get; } = new[] { "/usr/bin/node", "/usr/local/bin/node" }.First(File.Exists);

    /// <summary>vigil run --attach-output of one unit, app; returns once it has printed "up PID".</summary>
    private async Task<(VigilProcess Vigil, int Pid)> RunAsync(string unit)
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "vigil.yaml"), "processes:\n" + unit);
        var vigil = VigilProcess.Start(_dir.FullName, "run", "--attach-output");
        var up = await vigil.WaitLine(l => l.StartsWith("app | up "), "the app's up line", Wait);
        return (vigil, int.Parse(up["app | up ".Length..], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>SIGTERM to vigil: it stops the unit and exits 0, leaving nothing behind.</summary>
    private static async Task ShutdownAsync(VigilProcess vigil, int pid)
    {
        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit(Wait));
        Assert.False(Procs.Alive(pid));
    }

    [Theory]
    [InlineData("node")]
    [InlineData("dotnet")]
    public async Task An_app_is_ready_through_sd_notify_and_its_stopping_hook_runs_on_the_IPC_message(string lang)
    {
        var (vigil, pid) = await RunAsync($$"""
              - name: app
                {{ClientApp.Command(lang, ipc: true, "--ready")}}
                stop: { timeout: 60s }
                health:
                  - { kind: sd-notify, role: readiness }
            """);
        await using var _ = vigil;
        var ready = await vigil.WaitLine(l => l.Contains($" app#{pid} ready: "), "the sd-notify probe's ready event", Wait);
        Assert.Contains("READY=1", ready);
        await vigil.WaitLine(l => l.Equals("app | ready sent: true", StringComparison.OrdinalIgnoreCase), "ready() saying it sent", Wait);
        await ShutdownAsync(vigil, pid);
        // The message, not SIGTERM (a 60 s stop timeout would keep it from coming before the test's wait ends).
        Assert.Contains("app | stopping via message", vigil.Out);
        Assert.Contains("app | cleaned up", vigil.Out);
        Assert.Contains(vigil.Out, l => l.Contains($" app#{pid} stop-requested: ") && l.Contains("""sent {"stopping":true} on its IPC channel"""));
        Assert.Contains(vigil.Out, l => l.Contains($" app#{pid} exited: exited with code 0"));
        Assert.DoesNotContain(vigil.Out, l => l.Contains("stop-escalated"));
    }

    [Fact]
    public async Task Node_sd_notify_goes_over_the_IPC_channel_without_systemd_notify()
    {
        // No PATH: the app cannot find systemd-notify, so only the channel can carry READY=1.
        var (vigil, pid) = await RunAsync($$"""
              - name: app
                command: [{{NodePath}}, {{ClientApp.NodeScript}}, --ready]
                ipc: true
                env: { PATH: /nonexistent }
                stop: { timeout: 60s }
                health:
                  - { kind: sd-notify, role: readiness }
            """);
        await using var _ = vigil;
        var ready = await vigil.WaitLine(l => l.Contains($" app#{pid} ready: "), "the sd-notify probe's ready event", Wait);
        Assert.Contains("READY=1", ready);
        await vigil.WaitLine(l => l == "app | ready sent: true", "ready() saying it sent", Wait);
        await ShutdownAsync(vigil, pid);
    }

    [Fact]
    public async Task Node_sd_notify_without_a_channel_goes_through_systemd_notify()
    {
        // No channel (a node command without ipc): ready() runs systemd-notify, which sends with the app's PID as root.
        var (vigil, pid) = await RunAsync($$"""
              - name: app
                {{ClientApp.Command("node", ipc: false, "--ready")}}
                stop: { timeout: 60s }
                health:
                  - { kind: sd-notify, role: readiness }
            """);
        await using var _ = vigil;
        var ready = await vigil.WaitLine(l => l.Contains($" app#{pid} ready: "), "the sd-notify probe's ready event", Wait);
        Assert.Contains("READY=1", ready);
        await vigil.WaitLine(l => l == "app | ready sent: true", "ready() saying it sent", Wait);
        await ShutdownAsync(vigil, pid);
        Assert.Contains("app | stopping via SIGTERM", vigil.Out);
    }

    [Theory]
    [InlineData("node")]
    [InlineData("dotnet")]
    public async Task Watchdog_pings_keep_an_sd_notify_watchdog_passing_while_a_silent_twin_is_found_hung(string lang)
    {
        // Both units are the same app with the same probe; only 'beating' pings. By the time the silent one is declared
        // hung (no WATCHDOG=1 for 1 s after its start), the beating one has been checked through the same window.
        File.WriteAllText(Path.Combine(_dir.FullName, "vigil.yaml"), $$"""
            processes:
              - name: beating
                {{ClientApp.Command(lang, ipc: true, "--watchdog", "200")}}
                stop: { timeout: 60s }
                health:
                  - { kind: sd-notify, watchdog: 1s, period: 200ms, action: kill }
              - name: silent
                {{ClientApp.Command(lang, ipc: true)}}
                stop: { timeout: 60s }
                restart: { policy: never }
                health:
                  - { kind: sd-notify, watchdog: 1s, period: 200ms, action: kill }
            """);
        var vigil = VigilProcess.Start(_dir.FullName, "run", "--attach-output");
        await using var _ = vigil;
        var hung = await vigil.WaitLine(l => l.Contains(" silent#") && l.Contains(" unhealthy: "), "the silent unit found hung", Wait);
        Assert.Contains("no WATCHDOG=1", hung);
        // Two more checks of the beating one after that, then it must still be healthy.
        await vigil.WaitLine(l => l.Contains(" silent#") && l.Contains(" killed: "), "the silent unit killed", Wait);
        Assert.DoesNotContain(vigil.Out, l => l.Contains(" beating#") && (l.Contains(" unhealthy: ") || l.Contains(" killed: ")));
        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit(Wait));
    }

    [Theory]
    [InlineData("node")]
    [InlineData("dotnet")]
    public async Task Without_a_channel_the_stopping_hook_runs_on_SIGTERM(string lang)
    {
        var (vigil, pid) = await RunAsync($$"""
              - name: app
                {{ClientApp.Command(lang, ipc: false)}}
                stop: { timeout: 60s }
            """);
        await using var _ = vigil;
        await ShutdownAsync(vigil, pid);
        Assert.Contains("app | stopping via SIGTERM", vigil.Out);
        Assert.Contains("app | cleaned up", vigil.Out);
        Assert.Contains(vigil.Out, l => l.Contains($" app#{pid} exited: exited with code 0"));
        Assert.DoesNotContain(vigil.Out, l => l.Contains("IPC channel"));
    }

    [Theory]
    [InlineData("node")]
    [InlineData("dotnet")]
    public async Task A_stopping_hook_slower_than_the_stop_timeout_is_escalated_to_SIGKILL(string lang)
    {
        var (vigil, pid) = await RunAsync($$"""
              - name: app
                {{ClientApp.Command(lang, ipc: true, "--slow-stop", "600000")}}
                stop: { timeout: 500ms }
            """);
        await using var _ = vigil;
        await ShutdownAsync(vigil, pid);
        Assert.Contains("app | stopping via message", vigil.Out);
        Assert.DoesNotContain("app | cleaned up", vigil.Out);
        Assert.Contains(vigil.Out, l => l.Contains($" app#{pid} stop-escalated: ") && l.Contains(pid.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Contains(vigil.Out, l => l.Contains($" app#{pid} killed: killed by SIGKILL"));
    }

    [Theory]
    [InlineData("node")]
    [InlineData("dotnet")]
    public async Task The_COPS_responder_answers_the_HTTP_heartbeat_with_the_counter_set_and_its_pid(string lang)
    {
        var (vigil, pid) = await RunAsync($$"""
              - name: app
                {{ClientApp.Command(lang, ipc: true, "--cops-http")}}
                stop: { timeout: 60s }
            """);
        await using var _ = vigil;
        var port = int.Parse((await vigil.WaitLine(l => l.StartsWith("app | cops-http "), "the HTTP port", Wait))["app | cops-http ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = Wait };
        Assert.Equal(HttpStatusCode.Conflict, (await http.GetAsync("/site/cops")).StatusCode); // nothing set yet: not a pass
        foreach (var n in new[] { 1L, 2L, 9007199254740991L })
        {
            using var set = await http.PutAsync("/site/cops/cops_heartbeat", new StringContent(n.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.Equal(HttpStatusCode.NoContent, set.StatusCode);
            using var get = await http.GetAsync("/site/cops");
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal("application/json", get.Content.Headers.ContentType?.MediaType);
            using var reply = JsonDocument.Parse(await get.Content.ReadAsStringAsync());
            Assert.Equal(n, reply.RootElement.GetProperty("cops_heartbeat").GetInt64());
            Assert.Equal(pid, reply.RootElement.GetProperty("pid").GetInt32());
            Assert.Equal("test-1", reply.RootElement.GetProperty("version_tag").GetString());
        }
        using var bad = await http.PutAsync("/site/cops/cops_heartbeat", new StringContent("not a number"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/other/cops")).StatusCode);
        await ShutdownAsync(vigil, pid);
    }

    [Theory]
    [InlineData("node")]
    [InlineData("dotnet")]
    public async Task Vigils_cops_probe_passes_on_the_client_responder_and_kills_a_frozen_app_by_the_pid_it_reported(string lang)
    {
        // COPS end to end: the client library answers Vigil's own kind: cops probe. Frozen (SIGSTOP), the app stops
        // answering; the probe's kill action kills it by the PID it last reported, and the restart answers again.
        int port = Ports.Free();
        var (vigil, pid) = await RunAsync($$"""
              - name: app
                {{ClientApp.Command(lang, ipc: true, "--cops-http-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture))}}
                stop: { timeout: 5s }
                restart: { schedule: [100ms] }
                health:
                  - { kind: cops, http: "http://127.0.0.1:{{port}}/site", period: 300ms, timeout: 1s, failureThreshold: 2, action: kill }
            """);
        await using var _ = vigil;
        Assert.True(await Procs.Eventually(() => CopsPassing(pid), Wait), $"the cops probe never passed on pid {pid}");

        Assert.Equal(0, Vigil.Launching.Native.kill(pid, Vigil.Launching.Signals.SIGSTOP));
        var hung = await vigil.WaitLine(l => l.Contains($" app#{pid} unhealthy: "), "the cops probe's unhealthy event", Wait);
        Assert.Contains("Process app is hung or dead", hung);
        Assert.Contains($"last reported pid {pid}", hung);
        await vigil.WaitLine(l => l.Contains($" app#{pid} ") && l.Contains("killed by SIGKILL"), "the kill by the reported pid", Wait);
        var again = await vigil.WaitLine(l => l.StartsWith("app | up ") && l != $"app | up {pid}", "the restarted app's up line", Wait);
        int next = int.Parse(again["app | up ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(await Procs.Eventually(() => CopsPassing(next), Wait), $"the cops probe never passed on the restarted pid {next}");
        await ShutdownAsync(vigil, next);

        // vigil status: the unit runs as pidNow and its cops probe's last check passed.
        async Task<bool> CopsPassing(int pidNow)
        {
            var (code, output, _) = await VigilCli("status", "app", "--json");
            if (code != 0) return false;
            using var doc = JsonDocument.Parse(output);
            var unit = doc.RootElement[0];
            return unit.GetProperty("pid").ValueKind == JsonValueKind.Number && unit.GetProperty("pid").GetInt32() == pidNow
                && unit.GetProperty("probes").EnumerateArray().Any(p => p.GetProperty("kind").GetString() == "cops" && p.GetProperty("result").GetString() == "ok");
        }
    }

    private async Task<(int Code, string Out, string Err)> VigilCli(params string[] args)
    {
        await using var p = VigilProcess.StartWith(_dir.FullName, new Dictionary<string, string?>(), args);
        int code = await p.WaitExit(Wait);
        return (code, string.Join('\n', p.Out), string.Join('\n', p.Err));
    }
}
