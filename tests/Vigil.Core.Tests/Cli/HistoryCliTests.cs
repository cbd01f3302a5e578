using System.Diagnostics;
using System.Text.Json;
using Vigil.Launching;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>The real <c>vigil run</c> with its history: statistics that survive a SIGKILL of Vigil, <c>vigil report</c> in
/// text, JSON and HTML (opened in a real headless Chromium), and a state.db someone else prepared refused.</summary>
[Collection("processes")]
public sealed class HistoryCliTests : HarnessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private string Config() => H.Write("vigil.yaml", $$"""
        processes:
          - name: crasher
            command: [sleep, "{{H.Token}}"]
            restart: { schedule: [100ms] }
          - name: steady
            command: [sleep, "{{H.Token}}"]
        """);

    /// <summary>SIGKILLs crasher's process <paramref name="times"/> times (a crash Vigil did not ask for), each time
    /// waiting for its restart.</summary>
    private async Task Crash(int times)
    {
        for (int i = 0; i < times; i++)
        {
            var before = (await H.Pids())["crasher"];
            Assert.NotNull(before);
            ProcessIdentity.Of(before.Value)?.Signal(Signals.SIGKILL);
            Assert.True(await CliHarness.Until(async () => (await H.Pids())["crasher"] is { } p && p != before, Wait), "crasher was not restarted");
        }
    }

    private async Task<JsonElement> Reliability(string unit)
    {
        var status = await H.Json("status", unit);
        return status[0].GetProperty("reliability");
    }

    /// <summary>The figures of the retention period (the lifetime view): the last window of status.</summary>
    private static JsonElement Lifetime(JsonElement windows) => windows[windows.GetArrayLength() - 1];

    [Fact]
    [Trait("Category", VigilProcess.Smoke)]
    public async Task History_survives_a_SIGKILL_of_vigil_and_the_counts_continue()
    {
        Config();
        var first = H.Start("run");
        await first.WaitLine(l => l.Contains(" crasher#") && l.Contains(" spawned: "), "crasher spawned");
        await first.WaitLine(l => l.Contains(" steady#") && l.Contains(" spawned: "), "steady spawned");
        await Crash(3);

        var windows = await Reliability("crasher");
        Assert.Equal(["1h", "1d", "30d"], windows.EnumerateArray().Select(w => w.GetProperty("window").GetString()));
        var life = Lifetime(windows);
        Assert.Equal(3, life.GetProperty("restarts").GetInt32());
        Assert.Equal(3, life.GetProperty("failures").GetInt32());
        var cause = Assert.Single(life.GetProperty("causes").EnumerateArray());
        Assert.Equal("killed by SIGKILL", cause.GetProperty("cause").GetString());
        Assert.Equal(3, cause.GetProperty("count").GetInt32());

        // A reload (one unit more) keeps the history and its counts.
        H.Write("vigil.yaml", File.ReadAllText(H.Path("vigil.yaml")) + "\n" + $$"""
              - name: extra
                command: [sleep, "{{H.Token}}"]

            """);
        var (code, _, err) = await H.Cli("reload");
        Assert.True(code == 0, err);
        await first.WaitLine(l => l.Contains(" extra#") && l.Contains(" spawned: "), "extra spawned");
        Assert.Equal(3, Lifetime(await Reliability("crasher")).GetProperty("restarts").GetInt32());

        // Vigil dies without a word; its units are left running (the next one stops them before starting anything).
        first.Signal(Signals.SIGKILL);
        await first.WaitExit(Wait);

        var second = H.Start("run");
        await second.WaitLine(l => l.Contains(" crasher#") && l.Contains(" spawned: "), "crasher spawned again");
        await second.WaitLine(l => l.Contains(" steady#") && l.Contains(" spawned: "), "steady spawned again");
        var ls = await H.Json("ls");
        Assert.All(ls.EnumerateArray(), u => Assert.Equal(0, u.GetProperty("restarts").GetInt32())); // ls: this run's count
        life = Lifetime(await Reliability("crasher"));
        Assert.Equal(3, life.GetProperty("restarts").GetInt32()); // the new Vigil's first start is no restart
        Assert.Equal(3, life.GetProperty("failures").GetInt32());

        await Crash(1);
        life = Lifetime(await Reliability("crasher"));
        Assert.Equal(4, life.GetProperty("restarts").GetInt32());
        Assert.Equal(4, life.GetProperty("causes")[0].GetProperty("count").GetInt32());
        Assert.Equal(4, life.GetProperty("recoveries").GetInt32());
        Assert.InRange(life.GetProperty("worstTimeToRecoverSeconds").GetDouble(), 0.1, 30); // schedule 100ms, on a loaded machine

        // The report: both units, the gap while no Vigil ran (a timeline of crasher in more than one piece), and the
        // steady unit never down.
        var report = await H.Json("report");
        var units = report.GetProperty("units").EnumerateArray().ToDictionary(u => u.GetProperty("name").GetString()!);
        Assert.Equal(["crasher", "steady", "extra"], units.Keys);
        Assert.Equal(4, units["crasher"].GetProperty("figures").GetProperty("failures").GetInt32());
        Assert.Equal(0, units["steady"].GetProperty("figures").GetProperty("failures").GetInt32());
        Assert.Equal(100, units["steady"].GetProperty("figures").GetProperty("availabilityPercent").GetDouble());
        Assert.All(units["steady"].GetProperty("timeline").EnumerateArray(), b => Assert.Equal("up", b.GetProperty("kind").GetString()));
        Assert.Contains(units["crasher"].GetProperty("timeline").EnumerateArray(), b => b.GetProperty("kind").GetString() == "down");
        Assert.EndsWith("state.db", report.GetProperty("database").GetString());
        Assert.StartsWith(H.Path("state"), report.GetProperty("database").GetString());

        second.Signal(Signals.SIGTERM);
        Assert.Equal(0, await second.WaitExit(Wait));
        Assert.Empty(await Procs.LeftWithArg(H.Token));
    }

    [Fact]
    public async Task Report_prints_a_table_its_since_is_checked_and_the_html_page_shows_every_unit_in_chromium()
    {
        H.Write("vigil.yaml", $$"""
            processes:
              - name: crasher
                command: [sh, -c, "sleep 0.2; exit 3", "{{H.Token}}"]
                restart: { schedule: [100ms] }
              - name: steady
                command: [sleep, "{{H.Token}}"]
              - name: "odd <name> & co"
                command: [sleep, "{{H.Token}}"]
            """);
        var vigil = H.Start("run");
        await vigil.WaitLine(l => l.Contains(" steady#") && l.Contains(" spawned: "), "steady spawned");
        Assert.True(await CliHarness.Until(async () => (await H.Json("report")).GetProperty("units")[0].GetProperty("figures").GetProperty("failures").GetInt32() >= 3, Wait),
            "crasher never failed 3 times");

        var (code, text, err) = await H.Cli("report", "--since", "1h");
        Assert.True(code == 0, err);
        var lines = text.Split('\n');
        Assert.StartsWith("reliability of 'default' from ", lines[0]);
        Assert.StartsWith("NAME", lines[1]);
        Assert.Contains(lines, l => l.StartsWith("crasher ") && l.Contains("exited with code 3 ×"));
        Assert.Contains(lines, l => l.StartsWith("steady ") && l.Contains("100%"));

        (code, _, err) = await H.Cli("report", "--since", "yesterday-ish");
        Assert.Equal(2, code);
        Assert.Contains("--since: expected a duration like 100ms", err);
        Assert.Contains("got 'yesterday-ish'", err);

        var page = H.Path("report.html");
        (code, text, err) = await H.Cli("report", "--html", page);
        Assert.True(code == 0, err);
        Assert.Contains($"wrote {page} (3 unit(s))", text);
        var html = File.ReadAllText(page);
        Assert.DoesNotContain("http://", html);
        Assert.DoesNotContain("https://", html);
        Assert.Contains("odd &lt;name&gt; &amp; co", html);

        var seen = await Browser(page);
        Assert.Empty(seen.GetProperty("requests").EnumerateArray()); // nothing fetched: the page works offline
        Assert.Equal("Vigil report: default", seen.GetProperty("title").GetString());
        var units = seen.GetProperty("units").EnumerateArray().ToDictionary(u => u.GetProperty("name").GetString()!);
        Assert.Equal(["crasher", "steady", "odd <name> & co"], units.Keys);
        Assert.All(units.Values, u => Assert.True(u.GetProperty("visible").GetBoolean()));
        Assert.Equal("odd <name> & co", units["odd <name> & co"].GetProperty("heading").GetString());
        var crasherBands = units["crasher"].GetProperty("bands").EnumerateArray().ToList();
        Assert.Contains(crasherBands, b => b.GetProperty("kind").GetString() == "down" && b.GetProperty("width").GetDouble() >= 1);
        Assert.Contains(crasherBands, b => b.GetProperty("kind").GetString() == "up");
        var bar = Assert.Single(units["crasher"].GetProperty("causes").EnumerateArray());
        Assert.StartsWith("exited with code 3 ×", bar.GetProperty("label").GetString());
        Assert.True(bar.GetProperty("count").GetInt32() >= 3);
        Assert.True(bar.GetProperty("width").GetDouble() > 100, $"the cause's bar is {bar.GetProperty("width")} px wide");
        Assert.Empty(units["steady"].GetProperty("causes").EnumerateArray());
        Assert.All(units["steady"].GetProperty("bands").EnumerateArray(), b => Assert.Equal("up", b.GetProperty("kind").GetString()));
        var rows = seen.GetProperty("rows").EnumerateArray().Select(r => r.EnumerateArray().Select(c => c.GetString()).ToList()).ToList();
        Assert.Equal(["crasher", "steady", "odd <name> & co"], rows.Select(r => r[0]));
        Assert.Equal("100%", rows[1][4]);

        vigil.Signal(Signals.SIGTERM);
        Assert.Equal(0, await vigil.WaitExit(Wait));
    }

    [Fact]
    public async Task A_symlinked_state_db_is_refused_and_nothing_starts()
    {
        var config = Config();
        var folder = Path.Combine(H.Path("state"), "vigil", Membership.InstanceFor(config));
        Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(Path.GetDirectoryName(folder)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var target = H.Path("precious");
        File.WriteAllText(target, "keep me");
        File.CreateSymbolicLink(Path.Combine(folder, "state.db"), target);

        var vigil = H.Start("run");
        Assert.Equal(1, await vigil.WaitExit(Wait));
        var err = string.Join('\n', vigil.Err);
        Assert.Contains($"vigil: history: refusing to use {Path.Combine(folder, "state.db")}: it is a symbolic link", err);
        Assert.Contains("turn history off with 'history: false'", err);
        Assert.Contains("nothing was started", err);
        Assert.Equal("keep me", File.ReadAllText(target));
        Assert.Empty(Procs.WithArg(H.Token));
        Assert.DoesNotContain(vigil.Out, l => l.Contains(" spawned: "));
    }

    [Fact]
    public async Task A_corrupt_state_db_is_moved_aside_with_a_warning_and_vigil_runs()
    {
        var config = Config();
        var folder = Path.Combine(H.Path("state"), "vigil", Membership.InstanceFor(config));
        Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(Path.GetDirectoryName(folder)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var db = Path.Combine(folder, "state.db");
        File.WriteAllText(db, "SQLite format 3\0 but then garbage " + new string('#', 5000));
        File.SetUnixFileMode(db, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var vigil = H.Start("run");
        await vigil.WaitLine(l => l.Contains(" steady#") && l.Contains(" spawned: "), "steady spawned");
        var aside = Assert.Single(Directory.GetFiles(folder, "state.db.corrupt-*"));
        Assert.StartsWith("SQLite format 3", File.ReadAllText(aside));
        Assert.Contains(vigil.Err, l => l.Contains($"history: {db} is not a usable database") && l.Contains($"moved it aside to {aside}"));
        Assert.Equal(0, Lifetime(await Reliability("steady")).GetProperty("failures").GetInt32()); // the new database works
        vigil.Signal(Signals.SIGTERM);
        Assert.Equal(0, await vigil.WaitExit(Wait));
    }

    [Fact]
    public async Task With_history_off_there_is_no_state_db_status_has_no_statistics_and_report_says_why()
    {
        H.Write("vigil.yaml", $$"""
            processes:
              - name: steady
                command: [sleep, "{{H.Token}}"]
            history: false
            """);
        var vigil = H.Start("run");
        await vigil.WaitLine(l => l.Contains(" steady#") && l.Contains(" spawned: "), "steady spawned");
        var status = await H.Json("status", "steady");
        Assert.Equal(JsonValueKind.Null, status[0].GetProperty("reliability").ValueKind);
        var (code, _, err) = await H.Cli("report");
        Assert.Equal(1, code);
        Assert.Contains("history is off in this vigil's config (history: false)", err);
        Assert.False(Directory.Exists(H.Path("state")));
        (code, _, err) = await H.Cli("save", H.Path("saved.yaml"));
        Assert.True(code == 0, err);
        Assert.Contains("\nhistory: false\n", File.ReadAllText(H.Path("saved.yaml")));
        vigil.Signal(Signals.SIGTERM);
        Assert.Equal(0, await vigil.WaitExit(Wait));
    }

    /// <summary>What Chromium shows of <paramref name="page"/> (tests/fixtures/node/report-page.mjs).</summary>
    private static async Task<JsonElement> Browser(string page)
    {
        var node = Path.Combine(ShippedBinary.Repo, "tests", "fixtures", "node");
        var psi = new ProcessStartInfo("node", [Path.Combine(node, "report-page.mjs"), page])
        {
            WorkingDirectory = node, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try { await p.WaitForExitAsync(bound.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }
        Assert.True(p.ExitCode == 0, $"report-page.mjs exited {p.ExitCode}: {await error}");
        using var doc = JsonDocument.Parse(await output);
        return doc.RootElement.Clone();
    }
}
