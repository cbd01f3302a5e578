using System.Text.Json;
using Vigil.Config;
using Vigil.Tests.Support;
using Vigil.Tether;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>The real <c>vigil run</c> operated from other processes through the real client commands and the socket.</summary>
[Collection("processes")]
public sealed class ControlEndToEndTests : HarnessTests
{

    private static string F => Fixture.Path;

    private async Task<VigilProcess> RunTwo()
    {
        H.Write("vigil.yaml", $$"""
            processes:
              - name: web
                command: ["{{F}}", marker, web-up, hang]
                stop: { timeout: 2s }
              - name: worker
                command: [sh, -c, "trap 'echo got-usr1' USR1; echo worker-up; while :; do sleep 0.05; done", "{{H.Token}}"]
                stop: { timeout: 2s }
            tether: { host: 127.0.0.1, port: 1884 }
            """);
        var vigil = H.Start("run");
        await vigil.WaitLine(l => l.Contains(" web#") && l.Contains(" spawned: "), "web spawned");
        await vigil.WaitLine(l => l.Contains(" worker#") && l.Contains(" spawned: "), "worker spawned");
        return vigil;
    }

    [Fact]
    public async Task Every_command_answers_in_text_and_in_its_json_shape()
    {
        var vigil = await RunTwo();

        // ls: the table and the JSON array with the documented fields.
        var (lsCode, table, _) = await H.Cli("ls");
        Assert.Equal(0, lsCode);
        var rows = table.Split('\n');
        Assert.StartsWith("NAME", rows[0]);
        foreach (var column in new[] { "STATE", "PID", "STATUS", "READY", "UPTIME", "RESTARTS", "LAST EXIT", "CPU%", "RSS" }) Assert.Contains(column, rows[0]);
        Assert.Contains(rows, r => r.StartsWith("web ") && r.Contains("running"));
        Assert.DoesNotContain('\e', table); // piped: no colour
        var units = await H.Json("ls");
        Assert.Equal(2, units.GetArrayLength());
        foreach (var u in units.EnumerateArray())
        {
            foreach (var field in new[] { "id", "name", "state", "pid", "status", "ready", "restarts", "uptimeSeconds", "lastExit" })
                Assert.True(u.TryGetProperty(field, out _), $"ls --json lacks {field}: {u}");
            Assert.Equal("running", u.GetProperty("state").GetString());
            Assert.Equal(JsonValueKind.Number, u.GetProperty("pid").ValueKind);
        }
        int webPid = (await H.Pids())["web"]!.Value;

        // status NAME
        var (statusCode, status, _) = await H.Cli("status", "web");
        Assert.Equal(0, statusCode);
        Assert.Contains($"web (unit ", status);
        Assert.Contains($"command    {F} marker web-up hang", status);
        var detail = (await H.Json("status", "web"))[0];
        Assert.Equal(webPid, detail.GetProperty("pid").GetInt32());
        Assert.Equal(F, detail.GetProperty("command").GetString());
        Assert.Equal("always", detail.GetProperty("restart").GetProperty("policy").GetString());
        Assert.Equal(JsonValueKind.Array, detail.GetProperty("recentEvents").ValueKind);

        // signal: delivered to the main process (the worker's trap prints it).
        var (sigCode, sigOut, _) = await H.Cli("signal", "USR1", "worker");
        Assert.Equal(0, sigCode);
        Assert.Matches(@"^worker#\d+ signalled", sigOut);

        // logs: one unit as written; all units prefixed.
        Assert.True(await CliHarness.Until(async () => (await H.Cli("logs", "worker")).Out.Contains("got-usr1")), "the trap never ran");
        var (_, workerLogs, _) = await H.Cli("logs", "worker");
        Assert.Contains("worker-up", workerLogs.Split('\n'));
        Assert.Contains("got-usr1", workerLogs.Split('\n'));
        var (_, allLogs, _) = await H.Cli("logs");
        Assert.Contains($"web | MARKER web-up pid={webPid}", allLogs.Split('\n'));
        Assert.Contains("worker | worker-up", allLogs.Split('\n'));
        var logJson = await H.Cli("logs", "web", "-n", "1");
        Assert.Equal($"MARKER web-up pid={webPid}", logJson.Out);

        // events: as vigil run printed them, and as JSON.
        var (_, events, _) = await H.Cli("events");
        var spawnedLine = vigil.Out.First(l => l.Contains($" web#{webPid} spawned: "));
        Assert.Contains(spawnedLine, events.Split('\n'));
        var eventsJson = await H.Json("events");
        Assert.Contains(eventsJson.EnumerateArray(), e => e.GetProperty("kind").GetString() == "spawned" && e.GetProperty("pid").GetInt32() == webPid);

        // stop, start, restart, kill: one line per unit with the outcome, and ls follows.
        var (stopCode, stopOut, _) = await H.Cli("stop", "web");
        Assert.Equal(0, stopCode);
        Assert.StartsWith($"web#{webPid} stopped", stopOut);
        Assert.Null((await H.Pids())["web"]);
        Assert.Equal("stopped", (await H.Json("ls"))[0].GetProperty("state").GetString());
        var (startCode, startOut, _) = await H.Cli("start", "web", "--json");
        Assert.Equal(0, startCode);
        var started = JsonDocument.Parse(startOut).RootElement[0];
        Assert.Equal("started", started.GetProperty("outcome").GetString());
        int newPid = started.GetProperty("pid").GetInt32();
        Assert.NotEqual(webPid, newPid);
        var (restartCode, restartOut, _) = await H.Cli("restart", "web");
        Assert.Equal(0, restartCode);
        Assert.Matches($@"^web#\d+ restarted: was pid {newPid}", restartOut);
        var (killCode, killOut, _) = await H.Cli("kill", "web");
        Assert.Equal(0, killCode);
        Assert.Contains("killed", killOut);
        Assert.Contains("killed by SIGKILL", killOut);

        // add, save, remove.
        var (addCode, addOut, addErr) = await H.Cli("add", "extra", "--restart", "never", "--", "sleep", H.Token);
        Assert.True(addCode == 0, addErr);
        Assert.Matches(@"^extra#\d+ added", addOut);
        Assert.True(await Procs.Eventually(() => Procs.WithArg(H.Token).Count == 2)); // worker's sh and the added sleep
        var (saveCode, saveOut, saveErr) = await H.Cli("save", "saved.yaml");
        Assert.True(saveCode == 0, saveErr);
        Assert.Equal($"vigil: saved 3 unit(s) to {H.Path("saved.yaml")}", saveOut);
        var saved = ConfigLoader.Load(H.Path("saved.yaml"), TestExtensions.Vigil);
        Assert.Equal(["web", "worker", "extra"], saved.Processes.Select(p => p.Name));
        // The tether: section is Vigil.Tether's, registered by the executable: save writes it back.
        Assert.Equal(new TetherSettings { Host = "127.0.0.1", Port = 1884 }, saved.Sections.Get(TetherConfig.Section));
        Assert.Equal(["sleep", H.Token], saved.Processes[2].Command.ToArray());
        var (removeCode, removeOut, _) = await H.Cli("remove", "extra");
        Assert.Equal(0, removeCode);
        Assert.Matches(@"^extra#\d+ removed", removeOut);
        Assert.DoesNotContain("extra", (await H.Pids()).Keys);

        // shutdown: returns once vigil has exited, and nothing is left.
        var (downCode, downOut, _) = await H.Cli("shutdown");
        Assert.Equal(0, downCode);
        Assert.Equal($"vigil: PID {vigil.Pid} stopped its units and exited", downOut);
        Assert.Equal(0, await vigil.WaitExit(TimeSpan.FromSeconds(5)));
        Assert.Contains(vigil.Out, l => l.Contains("shutdown requested by a client"));
        Assert.Empty(await Procs.LeftWithArg(H.Token));
        Assert.False(File.Exists(H.Socket()), "the socket file outlived vigil");
    }

    [Fact]
    public async Task A_name_several_units_share_acts_on_all_of_them()
    {
        H.Write("vigil.yaml", $$"""
            processes:
              - { name: w, command: [sleep, "{{H.Token}}"], stop: { timeout: 2s } }
              - { name: w, command: [sleep, "{{H.Token}}"], stop: { timeout: 2s } }
              - { name: other, command: [sleep, "{{H.Token}}"], stop: { timeout: 2s } }
            """);
        var vigil = H.Start("run");
        await H.LsUntil(u => u.EnumerateArray().All(x => x.GetProperty("state").GetString() == "running"), "three running units");
        var before = (await H.Json("ls")).EnumerateArray().Where(u => u.GetProperty("name").GetString() == "w")
            .Select(u => u.GetProperty("pid").GetInt32()).ToList();
        Assert.Equal(2, before.Count);

        var (code, output, _) = await H.Cli("restart", "w");
        Assert.Equal(0, code);
        var lines = output.Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Matches(@"^w#\d+ restarted", l));
        Assert.Equal(2, lines.Select(l => Procs.ParsePid(l, "w#")).Distinct().Count());
        Assert.Empty(lines.Select(l => Procs.ParsePid(l, "w#")).Intersect(before));

        var (stopCode, stopOut, _) = await H.Cli("stop", "w", "--json");
        Assert.Equal(0, stopCode);
        var outcomes = JsonDocument.Parse(stopOut).RootElement;
        Assert.Equal(2, outcomes.GetArrayLength());
        Assert.All(outcomes.EnumerateArray(), o => Assert.Equal("stopped", o.GetProperty("outcome").GetString()));
        var after = await H.Json("ls");
        Assert.Equal(["stopped", "stopped", "running"], after.EnumerateArray().Select(u => u.GetProperty("state").GetString()));
        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit());
        Assert.Empty(await Procs.LeftWithArg(H.Token));
    }

    [Fact]
    public async Task No_running_vigil_exits_3_and_an_unknown_unit_4_with_the_nearest_name()
    {
        var (code, _, err) = await H.Cli("ls");
        Assert.Equal(3, code);
        Assert.Equal($"vigil: no running vigil (no socket at {H.Socket()}); start one with 'vigil run'", err);
        var (explicitCode, _, explicitErr) = await H.Cli("restart", "web", "--socket", H.Path("elsewhere.sock"));
        Assert.Equal(3, explicitCode);
        Assert.Contains($"no socket at {H.Path("elsewhere.sock")}", explicitErr);

        var vigil = await RunTwo();
        var pids = await H.Pids();
        var (unknown, _, unknownErr) = await H.Cli("restart", "wbe");
        Assert.Equal(4, unknown);
        Assert.Equal("vigil: no unit named 'wbe'; did you mean 'web'?", unknownErr);
        // Nothing half-happened: one unknown name fails the whole request before anything is done.
        var (mixed, _, _) = await H.Cli("stop", "web", "nosuch");
        Assert.Equal(4, mixed);
        Assert.Equal(pids, await H.Pids());
        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit());
    }

    [Fact]
    public async Task A_client_finds_the_vigil_by_the_config_s_name_and_by_VIGIL_SOCKET()
    {
        H.Write("shop.yaml", $$"""
            name: shop
            processes:
              - { name: till, command: [sleep, "{{H.Token}}"], stop: { timeout: 2s } }
            """);
        var vigil = H.Start("run", "shop.yaml");
        await vigil.WaitLine(l => l.Contains(" till#") && l.Contains(" spawned: "), "till spawned");
        Assert.True(File.Exists(H.Socket("shop")));
        Assert.Equal(0, (await H.Cli("ls", "-c", "shop.yaml")).Code);
        Assert.Equal(3, (await H.Cli("ls")).Code); // no ./vigil.yaml: the name would be 'default'
        var (code, output, _) = await H.CliWith(new Dictionary<string, string?> { ["VIGIL_SOCKET"] = H.Socket("shop") }, "ls");
        Assert.Equal(0, code);
        Assert.Contains("till", output);
        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit());
    }

    [Fact]
    public async Task Run_dash_dash_supervises_one_command_named_after_it()
    {
        var vigil = H.Start("run", "--", "sleep", H.Token);
        await vigil.WaitLine(l => l.Contains(" sleep#") && l.Contains(" spawned: "), "sleep spawned");
        var units = await H.Json("ls");
        Assert.Equal("sleep", units[0].GetProperty("name").GetString());
        var (reload, _, err) = await H.Cli("reload");
        Assert.Equal(1, reload);
        Assert.Contains("nothing to reload", err);
        vigil.Signal(2);
        Assert.Equal(0, await vigil.WaitExit());
        Assert.Empty(await Procs.LeftWithArg(H.Token));
    }

    [Fact]
    public async Task Run_dash_dash_with_a_command_that_cannot_start_exits_2()
    {
        var (code, output, err) = await H.Cli("run", "--", "no-such-program-7781", "x");
        Assert.Equal(2, code);
        Assert.Contains("vigil: run -- no-such-program-7781: command: ", err);
        Assert.Contains("nothing was started", err);
        Assert.DoesNotContain("spawned", output);
    }

    [Fact]
    public async Task A_child_s_output_is_printed_after_its_spawned_line_in_every_run()
    {
        // Crash loops with a first line written at once: each run's line races its spawned event.
        H.Write("vigil.yaml", $$"""
            processes:
              - { name: a, command: ["{{F}}", marker, a, exit, "1"], restart: { schedule: [20ms] } }
              - { name: b, command: ["{{F}}", marker, b, exit, "1"], restart: { schedule: [20ms] } }
            """);
        var vigil = H.Start("run", "--attach-output");
        await Procs.Eventually(() => vigil.Out.Count(l => l.Contains("MARKER")) >= 20, TimeSpan.FromSeconds(60));
        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit());
        var lines = vigil.Out.ToList();
        var markers = lines.Select((l, i) => (l, i)).Where(x => x.l.Contains("| MARKER ")).ToList();
        Assert.True(markers.Count >= 20, string.Join('\n', lines));
        foreach (var (line, index) in markers)
        {
            var pid = line[(line.IndexOf("pid=", StringComparison.Ordinal) + 4)..];
            int spawned = lines.FindIndex(l => l.Contains($"#{pid} spawned: "));
            Assert.True(spawned >= 0 && spawned < index, $"'{line}' (line {index}) came before its spawned line ({spawned})");
        }
        // A unit's event lines never go back in time.
        foreach (var unit in new[] { " a", " b" })
        {
            var times = lines.Where(l => l.Length > 12 && l[2] == ':' && l[8] == '.' && (l[12..].StartsWith(unit + "#") || l[12..].StartsWith(unit + " ")))
                .Select(l => TimeSpan.ParseExact(l[..12], @"hh\:mm\:ss\.fff", System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.True(times.Count > 10);
            for (int i = 1; i < times.Count; i++) Assert.True(times[i] >= times[i - 1], $"{unit}'s time went back at event {i}: {times[i - 1]} then {times[i]}");
        }
    }
}
