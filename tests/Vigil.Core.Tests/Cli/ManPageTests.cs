using System.CommandLine;
using System.Diagnostics;
using Vigil.Cli;
using Vigil.Cli.Commands;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>vigil(1), written by the hidden <c>vigil man</c> from the command tree.</summary>
public sealed class ManPageTests
{
    private static readonly RootCommand Root = global::Vigil.Cli.Cli.Build(new CliContext { Out = TextWriter.Null, Err = TextWriter.Null }, null);

    [Fact]
    public void The_page_has_every_section_and_every_visible_command_with_its_options()
    {
        var page = ManCommand.Page(Root);
        Assert.StartsWith(".TH VIGIL 1 ", page);
        var sections = page.Split('\n').Where(l => l.StartsWith(".SH ", StringComparison.Ordinal)).ToList();
        Assert.Equal([".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH COMMANDS", ".SH OPTIONS", ".SH EXIT STATUS", ".SH FILES",
            ".SH ENVIRONMENT", ".SH SEE ALSO"], sections);
        foreach (var c in Root.Subcommands.Where(c => !c.Hidden))
            Assert.Contains($".SS {ManCommand.Escape("vigil " + c.Name)}\n", page);   // save-template's '-' is escaped
        Assert.DoesNotContain(".SS vigil man", page);                 // hidden
        Assert.DoesNotContain("daemon\\-child", page);                // a hidden option
        Assert.Contains(".SS vigil startup systemd\n", page);         // subcommands too
        Assert.Contains(".B \\-f, \\-\\-follow\n", page);
        Assert.Contains(".B \\-c, \\-\\-config \\fIFILE\\fR\n", page);
        foreach (var code in new[] { 0, 1, 2, 3, 4 }) Assert.Contains($".TP\n.B {code}\n", page);
        Assert.Contains(".B VIGIL_SOCKET\n", page);
    }

    [Theory]
    [InlineData("plain text", "plain text")]
    [InlineData("--follow", "\\-\\-follow")]
    [InlineData("a\\b", "a\\eb")]
    [InlineData(".starts with a dot", "\\&.starts with a dot")]
    [InlineData("'quote first", "\\&'quote first")]
    [InlineData("NAME…", "NAME\\[u2026]")]
    public void Text_is_escaped_so_roff_prints_it_as_written(string text, string roff) => Assert.Equal(roff, ManCommand.Escape(text));

    [NeedsFact("groff")]
    public async Task Groff_formats_the_page_of_the_executable_without_a_warning()
    {
        await using var vigil = VigilProcess.Start(Path.GetTempPath(), "man");
        Assert.Equal(0, await vigil.WaitExit());
        var psi = new ProcessStartInfo("groff", ["-man", "-Tutf8", "-ww", "-z"])
        {
            RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var groff = Process.Start(psi)!;
        await groff.StandardInput.WriteAsync(string.Join('\n', vigil.Out) + "\n");
        groff.StandardInput.Close();
        var warnings = await groff.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await groff.WaitForExitAsync(cts.Token);
        Assert.Equal(0, groff.ExitCode);
        Assert.True(warnings.Length == 0, "groff: " + warnings);
    }
}
