using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>Reloading a running Vigil's config, through <c>vigil reload</c> and through SIGHUP, and the start-up checks
/// that refuse a config whose units could never start.</summary>
[Collection("processes")]
public sealed class ReloadTests : HarnessTests
{

    private string Before => $$"""
        processes:
          - { name: keep, command: [sleep, "{{H.Token}}"], stop: { timeout: 2s } }
          - { name: change, command: [sleep, "{{H.Token}}"], stop: { timeout: 2s } }
          - { name: gone, command: [sleep, "{{H.Token}}"], stop: { timeout: 2s } }
        """;

    private string After => $$"""
        processes:
          - { name: keep, command: [sleep, "{{H.Token}}"], stop: { timeout: 2s } }
          - { name: change, command: [sleep, "{{H.Token}}"], env: { CHANGED: "1" }, stop: { timeout: 2s } }
          - { name: new, command: [sleep, "{{H.Token}}"], stop: { timeout: 2s } }
        """;

    private const string Invalid = """
        processes:
          - name: keep
            comand: [sleep, "1"]
        """;

    private async Task<(VigilProcess Vigil, Dictionary<string, int?> Pids)> StartBefore()
    {
        H.Write("vigil.yaml", Before);
        var vigil = H.Start("run");
        await H.LsUntil(u => u.GetArrayLength() == 3 && u.EnumerateArray().All(x => x.GetProperty("state").GetString() == "running"), "three running units");
        return (vigil, await H.Pids());
    }

    private void AssertApplied(Dictionary<string, int?> before, Dictionary<string, int?> after)
    {
        Assert.Equal(["keep", "change", "new"], after.Keys);
        Assert.Equal(before["keep"], after["keep"]);                 // unchanged: same process
        Assert.NotNull(after["change"]);
        Assert.NotEqual(before["change"], after["change"]);         // changed: restarted
        Assert.NotNull(after["new"]);                                // added: started
        Assert.False(Procs.Alive(before["gone"]!.Value), "the removed unit's process still runs");
        Assert.False(Procs.Alive(before["change"]!.Value), "the changed unit's old process still runs");
    }

    [Fact]
    [Trait("Category", VigilProcess.Smoke)]
    public async Task Vigil_reload_applies_the_diff_dry_run_changes_nothing_and_an_invalid_config_is_refused()
    {
        var (vigil, before) = await StartBefore();
        H.Write("vigil.yaml", After);

        var (dryCode, dry, _) = await H.Cli("reload", "--dry-run");
        Assert.Equal(0, dryCode);
        var dryLines = dry.Split('\n');
        Assert.Contains(dryLines, l => l.StartsWith("~ change (") && l.Contains("env"));
        Assert.Contains("+ new", dryLines);
        Assert.Contains("- gone", dryLines);
        Assert.Equal("dry run: nothing was changed", dryLines[^1]);
        Assert.Equal(before, await H.Pids());

        var (code, diff, err) = await H.Cli("reload");
        Assert.True(code == 0, err);
        Assert.Contains("+ new", diff.Split('\n'));
        Assert.Contains("- gone", diff.Split('\n'));
        var after = await H.Pids();
        AssertApplied(before, after);
        await vigil.WaitLine(l => l.Contains(" vigil reloaded: ") && l.Contains("+ new"), "the reloaded event");

        H.Write("vigil.yaml", Invalid);
        var (bad, _, badErr) = await H.Cli("reload");
        Assert.Equal(2, bad);
        Assert.Contains($"{H.Path("vigil.yaml")}:3:5: processes[0].comand: unknown key; did you mean 'command'?", badErr);
        Assert.Contains("nothing was changed", badErr);
        Assert.Equal(after, await H.Pids());

        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit());
        Assert.Empty(await Procs.LeftWithArg(H.Token));
    }

    [Fact]
    [Trait("Category", VigilProcess.Smoke)]
    public async Task SIGHUP_reloads_the_same_way_and_an_invalid_config_keeps_vigil_running_unchanged()
    {
        var (vigil, before) = await StartBefore();
        H.Write("vigil.yaml", After);
        vigil.Signal(1);
        var reloaded = await vigil.WaitLine(l => l.Contains(" vigil reloaded: "), "the reloaded event");
        Assert.Contains("+ new", reloaded);
        Assert.Contains("- gone", reloaded);
        var after = await H.Pids();
        AssertApplied(before, after);

        H.Write("vigil.yaml", Invalid);
        vigil.Signal(1);
        await vigil.WaitLine(l => l.Contains("vigil: reload refused: "), "the refusal");
        Assert.Contains(vigil.Out, l => l.Contains("vigil.yaml:3:5: processes[0].comand: unknown key"));
        Assert.True(Procs.Alive(vigil.Pid));
        Assert.Equal(after, await H.Pids());

        vigil.Signal(15);
        Assert.Equal(0, await vigil.WaitExit());
        Assert.Empty(await Procs.LeftWithArg(H.Token));
    }

    [Theory]
    [InlineData("command: [no-such-program-7781]", "vigil.yaml:4:5: processes[1].command")]
    [InlineData("command: [sleep, \"1\"]\n    cwd: ./no-such-folder", "vigil.yaml:5:5: processes[1].cwd")]
    public async Task A_unit_that_could_never_start_is_a_config_error_and_nothing_starts(string bad, string where)
    {
        var marker = H.Path("started");
        H.Write("vigil.yaml", $$"""
            processes:
              - { name: fine, command: [sh, -c, "touch {{marker}}; exec sleep {{H.Token}}"] }
              - name: broken
                {{bad}}
            """);
        await using var vigil = VigilProcess.Start(H.Dir.FullName, "run");
        Assert.Equal(2, await vigil.WaitExit());
        var err = string.Join('\n', vigil.Err);
        Assert.Contains(where, err);
        Assert.Contains("nothing was started", err);
        Assert.False(File.Exists(marker), "the valid unit was started anyway");
        Assert.Empty(Procs.WithArg(H.Token));
    }
}
