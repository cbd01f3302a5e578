using System.Text.Json;
using Vigil.Config;
using Vigil.Tests.Cli;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Ligato;

/// <summary>End to end with the real vigil executable: a folder of Ligato templates, vigil start of a template that
/// waits, templates ls/show, save-template, a bad template, and vigil run --templates with reload.</summary>
[Collection("processes")]
public sealed class TemplateCliTests : HarnessTests
{
    private void Templates(string folder = "templates")
    {
        Directory.CreateDirectory(H.Path(folder));
        // Go's encoding/json spelling, started with Vigil, restarted always.
        H.Write($"{folder}/a.json", $$$"""{"name":"a","cmd":"sleep","p_options":{"args":["{{{H.Token}}}"],"restart":-1,"run_on_startup":true,"notify":true}}""");
        // protobuf JSON's camelCase, waiting for vigil start.
        H.Write($"{folder}/b.json", $$$"""{"name":"b","cmd":"sleep","pOptions":{"args":["{{{H.Token}}}"],"restart":2}}""");
        // Pinned to CPU 0.
        H.Write($"{folder}/c.json", $$$"""{"name":"c","cmd":"sleep","p_options":{"args":["{{{H.Token}}}"],"run_on_startup":true,"cpu_affinity_list":"0"}}""");
    }

    private static string State(JsonElement units, string name) =>
        units.EnumerateArray().First(u => u.GetProperty("name").GetString() == name).GetProperty("state").GetString()!;

    [Fact]
    public async Task Templates_start_with_vigil_or_wait_for_vigil_start_and_are_listed_shown_and_saved()
    {
        Templates();
        H.Write("vigil.yaml", "templates: ./templates\n");
        H.Start("run");
        var units = await H.LsUntil(u => u.GetArrayLength() == 3 && State(u, "a") == "running" && State(u, "c") == "running", "a and c running");
        Assert.Equal("initial", State(units, "b"));

        var pids = await H.Pids();
        Assert.Null(pids["b"]);
        var allowed = File.ReadLines($"/proc/{pids["c"]}/status").First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
        Assert.Equal("0", allowed.Split(':')[1].Trim());

        var (code, _, err) = await H.Cli("start", "b");
        Assert.True(code == 0, err);
        await H.LsUntil(u => State(u, "b") == "running", "b running");

        var ls = await H.Json("templates", "ls");
        Assert.Equal(["a", "b", "c"], ls.EnumerateArray().Select(t => t.GetProperty("name").GetString()));
        var b = ls[1];
        Assert.Equal((2, false, "running"), (b.GetProperty("restart").GetInt32(), b.GetProperty("runOnStartup").GetBoolean(), b.GetProperty("state").GetString()));
        Assert.Equal(H.Path("templates/b.json"), b.GetProperty("file").GetString());

        var (showCode, shown, _) = await H.Cli("templates", "show", "c");
        Assert.Equal(0, showCode);
        Assert.Contains("\"cpu_affinity_list\": \"0\"", shown, StringComparison.Ordinal);
        Assert.Contains($"# {H.Path("templates/c.json")}", shown, StringComparison.Ordinal);
        var (missing, _, missingErr) = await H.Cli("templates", "show", "bb");
        Assert.Equal(4, missing);
        Assert.Contains("no template named 'bb'", missingErr, StringComparison.Ordinal);

        var (saveCode, saveOut, saveErr) = await H.Cli("save-template", "a", "--dir", H.Path("saved"));
        Assert.True(saveCode == 0, saveErr);
        Assert.Contains($"saved template a to {H.Path("saved/a.json")}", saveOut, StringComparison.Ordinal);
        var back = ConfigLoader.LoadTemplate(H.Path("saved/a.json"));
        var original = ConfigLoader.LoadTemplate(H.Path("templates/a.json"));
        Assert.Empty(SpecDiff.Fields(original.ToSpec(), back.ToSpec()));
    }

    [Fact]
    public async Task Save_keeps_the_templates_folder_and_external_units_and_the_saved_config_runs_the_same_units()
    {
        Templates();
        using var outside = OutsideProcess.Start("marker", "up", "hang", H.Token);
        await outside.Marker("up");
        H.Write("legacy.pid", $"{outside.Pid}\n");
        H.Write("vigil.yaml", $$"""
            templates: ./templates
            processes:
              - { name: p, command: [sleep, "{{H.Token}}"] }
              - { name: legacy, attach: { pidfile: legacy.pid } }
            """);
        H.Start("run");
        await H.LsUntil(u => u.GetArrayLength() == 5 && State(u, "a") == "running" && State(u, "legacy") == "running", "a and legacy running");

        var (code, yaml, err) = await H.Cli("save", "-");
        Assert.True(code == 0, err);
        Assert.Contains($"templates: {H.Path("templates")}", yaml, StringComparison.Ordinal);
        // The template units are not copied into processes: (they would be defined twice on the next start).
        foreach (var template in new[] { "a", "b", "c" }) Assert.DoesNotContain($"name: {template}\n", yaml, StringComparison.Ordinal);
        Assert.Contains($"pidfile: {H.Path("legacy.pid")}", yaml, StringComparison.Ordinal);

        // Read back: the same five units, b still waiting for vigil start, legacy still external.
        var saved = ConfigLoader.Parse(yaml, "saved.yaml", H.Dir.FullName, TestExtensions.Vigil);
        Assert.Equal(["p", "legacy", "a", "b", "c"], saved.Units.Select(u => u.Name));
        Assert.False(saved.Units.Single(u => u.Name == "b").Autostart);
        Assert.Equal(H.Path("legacy.pid"), saved.Units.Single(u => u.Name == "legacy").Attach?.PidFile);
    }

    [Fact]
    public async Task Out_writer_copies_the_stdout_lines_to_vigils_stdout_as_they_are_and_err_stays_in_the_log()
    {
        Directory.CreateDirectory(H.Path("t"));
        var said = "said-" + H.Token;
        H.Write("t/e.json", $$$"""{"name":"e","cmd":"{{{Fixture.Path}}}","p_options":{"args":["print","{{{said}}}","eprint","err-{{{said}}}","marker","up","hang"],"out_writer":true,"run_on_startup":true}}""");
        var vigil = H.Start("run", "--templates", "t");
        await vigil.WaitLine(l => l == said, "the echoed line", TimeSpan.FromSeconds(60));
        await H.LsUntil(u => State(u, "e") == "running", "e running");
        var (_, logs, _) = await H.Cli("logs", "e");
        Assert.Contains($"err-{said}", logs, StringComparison.Ordinal); // captured, though not echoed
        Assert.DoesNotContain(vigil.Out.Concat(vigil.Err), l => l.EndsWith($"err-{said}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_bad_template_names_its_file_line_column_and_field_and_nothing_starts()
    {
        Templates();
        H.Write("templates/bad.json", "{\n  \"name\": \"bad\",\n  \"cmd\": \"sleep\",\n  \"p_options\": { \"restart\": -5 }\n}\n");
        H.Write("vigil.yaml", $$"""
            templates: ./templates
            processes:
              - { name: own, command: [sleep, "{{H.Token}}"] }
            """);
        var vigil = H.Start("run");
        var code = await vigil.WaitExit(TimeSpan.FromSeconds(60));
        Assert.Equal(2, code);
        var err = string.Join('\n', vigil.Err);
        Assert.Contains($"{H.Path("templates/bad.json")}:4:18: p_options.restart: expected 0 (no restart), -1 (always) or a number of restarts, got -5", err, StringComparison.Ordinal);
        Assert.Contains("nothing was started", err, StringComparison.Ordinal);
        Assert.Empty(Procs.WithArg(H.Token));
    }

    [Fact]
    public async Task A_config_reload_reads_its_templates_folder_again_and_a_new_waiting_template_is_defined_not_started()
    {
        Templates();
        H.Write("vigil.yaml", $$"""
            templates: ./templates
            processes:
              - { name: own, command: [sleep, "{{H.Token}}"] }
            """);
        H.Start("run");
        await H.LsUntil(u => u.GetArrayLength() == 4 && State(u, "own") == "running" && State(u, "a") == "running", "own and a running");
        H.Write("templates/e.json", $$$"""{"name":"e","cmd":"sleep","p_options":{"args":["{{{H.Token}}}"]}}""");
        var (code, output, err) = await H.Cli("reload");
        Assert.True(code == 0, err);
        Assert.Contains("+ e", output, StringComparison.Ordinal);
        var units = await H.LsUntil(u => u.GetArrayLength() == 5, "five units");
        Assert.Equal(["own", "a", "b", "c", "e"], units.EnumerateArray().Select(u => u.GetProperty("name").GetString()));
        Assert.Equal("initial", State(units, "e"));
        Assert.Equal("running", State(units, "a"));
    }

    [Fact]
    public async Task Run_with_templates_alone_and_reload_reads_the_folder_again()
    {
        Templates("tpl");
        H.Start("run", "--templates", "tpl");
        await H.LsUntil(u => u.GetArrayLength() == 3 && State(u, "a") == "running", "a running");
        File.Delete(H.Path("tpl/c.json"));
        H.Write("tpl/d.json", $$$"""{"name":"d","cmd":"sleep","p_options":{"args":["{{{H.Token}}}"],"run_on_startup":true}}""");
        var (code, output, err) = await H.Cli("reload");
        Assert.True(code == 0, err);
        Assert.Contains("+ d", output, StringComparison.Ordinal);
        Assert.Contains("- c", output, StringComparison.Ordinal);
        var units = await H.LsUntil(u => u.GetArrayLength() == 3 && State(u, "d") == "running", "d running, c gone");
        Assert.Equal(["a", "b", "d"], units.EnumerateArray().Select(u => u.GetProperty("name").GetString()));
        Assert.Equal("initial", State(units, "b"));
    }
}
