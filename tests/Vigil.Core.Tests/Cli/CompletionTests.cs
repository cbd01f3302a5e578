using System.Diagnostics;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>`vigil completion bash|zsh|fish` loaded into the real shells, completing as they would on Tab.</summary>
[Collection("processes")]
[Trait("Category", VigilProcess.Smoke)]
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
    public async Task Report_completes_with_its_options()
    {
        var (commands, _) = await Complete("vigil", "rep");
        Assert.Equal(["report"], commands);
        var (options, _) = await Complete("vigil", "report", "--");
        Assert.Superset(new HashSet<string> { "--since", "--json", "--html", "--socket" }, options.ToHashSet());
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

    /// <summary>Runs a script in <paramref name="shell"/> with vigil on PATH and the completion script in
    /// <paramref name="folder"/> as <paramref name="file"/> (where scripts/install puts it); returns its output lines.</summary>
    private static async Task<List<string>> InShell(string shell, string file, string script, params string[] shellArgs)
    {
        var folder = Directory.CreateTempSubdirectory("vigil-completion-");
        try
        {
            await using (var gen = VigilProcess.Start(folder.FullName, "completion", shell))
            {
                Assert.Equal(0, await gen.WaitExit());
                File.WriteAllText(Path.Combine(folder.FullName, file), string.Join('\n', gen.Out) + "\n");
            }
            var psi = new ProcessStartInfo(shell, [.. shellArgs, script.Replace("FOLDER", folder.FullName, StringComparison.Ordinal)])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = folder.FullName,
            };
            psi.Environment["PATH"] = Path.GetDirectoryName(VigilProcess.Path) + ":" + Environment.GetEnvironmentVariable("PATH");
            psi.Environment["HOME"] = folder.FullName; // no user's rc files, no history
            psi.Environment["VIGIL_SOCKET"] = Path.Combine(folder.FullName, "none.sock");
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEndAsync();
            var err = await p.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await p.WaitForExitAsync(cts.Token);
            Assert.True(p.ExitCode == 0, $"{shell} exited {p.ExitCode}: {err}");
            Assert.True(err.Length == 0, $"{shell} complained: {err}");
            return [.. (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries)];
        }
        finally { folder.Delete(recursive: true); }
    }

    [NeedsFact("zsh")]
    public async Task The_zsh_script_completes_on_its_first_call_when_autoloaded_from_fpath_and_when_sourced()
    {
        // compinit finds _vigil in $fpath by its #compdef line, as for PREFIX/share/zsh/site-functions. compadd (a
        // builtin of the completion system, usable only inside a Tab) is replaced by one that prints the candidates
        // matching the word, as compadd would offer them.
        const string Stubs = """
            compadd() { [[ $1 == -a ]] && print -rl -- ${(M)${(@P)2}:#${words[CURRENT]}*} }
            _files() { print FILES }
            """;
        var autoloaded = await InShell("zsh", "_vigil", $$"""
            fpath=(FOLDER $fpath); autoload -Uz compinit && compinit -u -d FOLDER/zcompdump
            print -r -- "registered: $_comps[vigil]"
            {{Stubs}}
            words=(vigil st); CURRENT=2; _vigil
            print -- --
            words=(vigil logs --f); CURRENT=3; _vigil
            """, "-f", "-c");
        Assert.Equal(["registered: _vigil", "start", "startup", "status", "stop", "--", "--follow"], autoloaded);

        var sourced = await InShell("zsh", "_vigil", $$"""
            autoload -Uz compinit && compinit -u -d FOLDER/zcompdump
            source FOLDER/_vigil
            print -r -- "registered: $_comps[vigil]"
            {{Stubs}}
            words=(vigil completion ''); CURRENT=3; _vigil
            """, "-f", "-c");
        Assert.Equal(["registered: _vigil", "bash", "fish", "zsh"], sourced.Where(w => !w.StartsWith('-')));
    }

    [NeedsFact("fish")]
    public async Task The_fish_script_completes_commands_options_and_arguments_from_its_vendor_folder()
    {
        // fish's own completion engine (complete -C), loading vigil.fish from a folder of $fish_complete_path as it
        // loads PREFIX/share/fish/vendor_completions.d.
        var lines = await InShell("fish", "vigil.fish", """
            set -p fish_complete_path FOLDER
            complete -C 'vigil st'; echo ==
            complete -C 'vigil logs --f'; echo ==
            complete -C 'vigil completion '
            """, "--no-config", "-c");
        var words = lines.Select(l => l.Split('\t')[0]).ToList();
        int first = words.IndexOf("=="), second = words.IndexOf("==", first + 1);
        Assert.Equal(["start", "startup", "status", "stop"], words[..first]);
        Assert.Equal(["--follow"], words[(first + 1)..second]);
        Assert.Equal(["bash", "fish", "zsh"], words[(second + 1)..].Where(w => !w.StartsWith('-')));
    }
}
