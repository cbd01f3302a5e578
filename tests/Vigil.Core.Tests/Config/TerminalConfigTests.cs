using System.Runtime.Versioning;
using Vigil.Config;
using Vigil.Specs;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Config;

/// <summary>Unit: the <c>tty:</c> and <c>tmux:</c> keys of a process, read, refused and written back.</summary>
[SupportedOSPlatform("linux")]
public sealed class TerminalConfigTests
{
    private const string Base = "/srv/app";

    private static VigilConfig Parse(string text) => ConfigLoader.Parse(text, "vigil.yaml", Base, TestExtensions.Vigil);

    private static string[] Errors(string text) =>
        [.. Assert.Throws<ConfigException>(() => Parse(text)).Errors.Select(e => e.ToString())];

    [Fact]
    public void Tty_true_is_80_by_24_false_is_none_and_a_mapping_sets_the_size()
    {
        var c = Parse("""
            processes:
              - { command: a, tty: true }
              - { command: b, tty: false }
              - { command: c, tty: { columns: 132, rows: 50 } }
              - { command: d, tty: { rows: 40 } }
              - { command: e }
            """);
        Assert.Equal(TerminalSpec.Default, c.Processes[0].Tty);
        Assert.Equal(new TerminalSpec { Columns = 80, Rows = 24 }, c.Processes[0].Tty);
        Assert.Null(c.Processes[1].Tty);
        Assert.Equal(new TerminalSpec { Columns = 132, Rows = 50 }, c.Processes[2].Tty);
        Assert.Equal(new TerminalSpec { Columns = 80, Rows = 40 }, c.Processes[3].Tty);
        Assert.Null(c.Processes[4].Tty);
    }

    [Fact]
    public void Bad_tty_values_are_errors_at_their_keys()
    {
        var notBool = Assert.Single(Errors("processes:\n  - { command: a, tty: maybe }\n"));
        Assert.StartsWith("vigil.yaml:2:19: processes[0].tty: expected true or false, got ", notBool);
        Assert.Contains("maybe", notBool);
        Assert.Equal(["vigil.yaml:2:26: processes[0].tty.columns: must be between 1 and 65535"],
            Errors("processes:\n  - { command: a, tty: { columns: 0 } }\n"));
        Assert.Equal(["vigil.yaml:2:26: processes[0].tty.rows: must be between 1 and 65535"],
            Errors("processes:\n  - { command: a, tty: { rows: 70000 } }\n"));
        Assert.Contains("processes[0].tty.cols: unknown key", Assert.Single(Errors("processes:\n  - { command: a, tty: { cols: 100 } }\n")));
        Assert.Contains("processes[0].tty: cannot be combined with detach: true", Assert.Single(Errors("processes:\n  - { command: a, detach: true, tty: true }\n")));
    }

    [Fact]
    public void Tty_round_trips_through_the_writer_and_counts_as_a_change_on_reload()
    {
        var c = Parse("""
            processes:
              - { command: a, tty: true }
              - { command: b, tty: { columns: 100, rows: 30 } }
              - { command: c }
            """);
        var yaml = ConfigWriterTests.RoundTrip(c.Processes);
        Assert.Contains("tty: true", yaml);
        Assert.Equal(["tty"], SpecDiff.Fields(c.Processes[2], c.Processes[2] with { Tty = TerminalSpec.Default }));
        Assert.Equal(["tty"], SpecDiff.Fields(c.Processes[0], c.Processes[1] with { Command = ["a"] }));
    }

    [Fact]
    public void The_api_refuses_a_bad_size_naming_the_key()
    {
        var errors = new ProcessSpec { Command = ["a"], Tty = new TerminalSpec { Columns = -1 } }.Validate();
        Assert.Equal("tty.columns: must be between 1 and 65535", Assert.Single(errors).ToString());
    }

    [Fact]
    public void Tmux_takes_a_session_name_or_a_mapping_with_the_windows_size()
    {
        var c = Parse("""
            processes:
              - { command: a, tmux: work }
              - { command: b, tmux: { session: work, columns: 120, rows: 40 } }
            """);
        Assert.Equal(new TmuxSpec("work"), c.Processes[0].Tmux);
        Assert.Equal(new TmuxSpec("work") { Size = new TerminalSpec { Columns = 120, Rows = 40 } }, c.Processes[1].Tmux);
        var yaml = ConfigWriterTests.RoundTrip(c.Processes);
        Assert.Contains("session: work", yaml);
        Assert.Equal(["tmux"], SpecDiff.Fields(c.Processes[0], c.Processes[0] with { Tmux = new TmuxSpec("other") }));
    }

    [Fact]
    public void Bad_tmux_values_are_errors_at_their_keys()
    {
        Assert.Contains("processes[0].tmux.session: needs the tmux session's name", Assert.Single(Errors("processes:\n  - { command: a, tmux: { rows: 30 } }\n")));
        Assert.Contains("processes[0].tmux.session: 'a:b' is not a tmux session name", Assert.Single(Errors("processes:\n  - { command: a, tmux: 'a:b' }\n")));
        Assert.Contains("processes[0].tmux.columns: must be between 1 and 65535", Assert.Single(Errors("processes:\n  - { command: a, tmux: { session: w, columns: 0 } }\n")));
        Assert.Contains("processes[0].tty: cannot be combined with tmux", Assert.Single(Errors("processes:\n  - { command: a, tty: true, tmux: w }\n")));
        Assert.Contains("processes[0].tmux: cannot be combined with detach: true", Assert.Single(Errors("processes:\n  - { command: a, detach: true, tmux: w }\n")));
    }
}
