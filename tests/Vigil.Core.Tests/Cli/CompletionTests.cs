using System.Diagnostics;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>`vigil completion bash` loaded into a real bash, completing as the shell would on Tab.</summary>
[Collection("processes")]
public sealed class CompletionTests
{
    /// <summary>Sources the script in bash (vigil on its PATH), sets the line as bash would and returns COMPREPLY.</summary>
    private static async Task<(List<string> Words, string Registered)> Complete(params string[] words)
    {
        var array = string.Join(' ', words.Select(w => "'" + w + "'"));
        var script = $"""
            eval "$(vigil completion bash)"
            complete -p vigil
            COMP_WORDS=({array}); COMP_CWORD={words.Length - 1}; COMP_LINE="${"{"}COMP_WORDS[*]{"}"}"; COMP_POINT=${"{"}#COMP_LINE{"}"}
            _vigil_complete
            printf 'word:%s\n' "${"{"}COMPREPLY[@]{"}"}"
            """;
        var psi = new ProcessStartInfo("bash", ["-c", script]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.Environment["PATH"] = Path.GetDirectoryName(VigilProcess.Path) + ":" + Environment.GetEnvironmentVariable("PATH");
        // No running Vigil to ask for unit names: a socket path where nothing listens.
        psi.Environment["VIGIL_SOCKET"] = Path.Combine(Path.GetTempPath(), "vigil-completion-test-none.sock");
        using var bash = Process.Start(psi)!;
        var output = await bash.StandardOutput.ReadToEndAsync();
        var err = await bash.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await bash.WaitForExitAsync(cts.Token);
        Assert.True(bash.ExitCode == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return ([.. lines.Where(l => l.StartsWith("word:")).Select(l => l[5..]).Where(w => w.Length > 0)], lines[0]);
    }

    [Fact]
    public async Task The_bash_script_registers_and_completes_commands_options_and_arguments()
    {
        var (commands, registered) = await Complete("vigil", "st");
        Assert.Equal("complete -o default -F _vigil_complete vigil", registered);
        Assert.Equal(["start", "startup", "status", "stop"], commands);

        var (options, _) = await Complete("vigil", "logs", "--f");
        Assert.Equal(["--follow"], options);

        var (shells, _) = await Complete("vigil", "completion", "");
        Assert.Equal(["bash", "fish", "zsh"], shells.Where(w => !w.StartsWith('-'))); // and the options, for an empty word

        // Typed as a path, the first word is still vigil to the parser.
        var (byPath, _) = await Complete(VigilProcess.Path, "rel");
        Assert.Equal(["reload"], byPath);
    }
}
