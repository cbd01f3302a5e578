using System.CommandLine;

namespace Vigil.Cli.Commands;

/// <summary>
/// <c>vigil completion bash|zsh|fish</c>: a script that completes vigil's commands, options and unit names. Each asks
/// vigil itself through System.CommandLine's suggest directive (<c>vigil "[suggest:POS]" "vigil LINE"</c>), so the
/// completions are always those of the installed version, unit names included (read from the running Vigil).
/// </summary>
internal static class CompletionCommand
{
    public static Command Build(CliContext ctx)
    {
        var shell = new Argument<string>("SHELL") { Description = "bash, zsh or fish" };
        shell.AcceptOnlyFromAmong("bash", "zsh", "fish");
        var command = new NotedCommand("completion", "print a shell completion script (bash, zsh, fish)", """
            Install: eval "$(vigil completion bash)" in ~/.bashrc; source <(vigil completion zsh) in ~/.zshrc (after
            compinit); vigil completion fish > ~/.config/fish/completions/vigil.fish. scripts/install puts all three
            where the shells look. Commands, options and the running Vigil's unit names complete.
            """) { shell };
        command.SetAction(parsed =>
        {
            ctx.Out.Write(Script(parsed.GetValue(shell)!));
            return ExitCodes.Ok;
        });
        return command;
    }

    // Each script rebuilds the line up to the cursor with "vigil" as its first word (the directive parses it as the
    // root command; "./vigil" or a full path would not match) and runs the executable the user typed.
    public static string Script(string shell) => shell switch
    {
        "bash" => """
            # vigil completion for bash: eval "$(vigil completion bash)"
            _vigil_complete()
            {
                local cur="${COMP_WORDS[COMP_CWORD]}" line="vigil" i
                for (( i = 1; i <= COMP_CWORD; i++ )); do line+=" ${COMP_WORDS[i]}"; done
                local IFS=$'\n'
                COMPREPLY=( $(compgen -W "$(command "${COMP_WORDS[0]}" "[suggest:${#line}]" "$line" 2>/dev/null)" -- "$cur") )
            }
            complete -o default -F _vigil_complete vigil

            """,
        "zsh" => """
            #compdef vigil
            # vigil completion for zsh: source <(vigil completion zsh) after compinit, or this file as _vigil in a
            # folder of $fpath (scripts/install: PREFIX/share/zsh/site-functions).
            _vigil() {
              local line="vigil ${(j: :)words[2,CURRENT]}"
              local -a candidates
              candidates=("${(@f)$(command ${words[1]} "[suggest:${#line}]" "$line" 2>/dev/null)}")
              candidates=(${candidates:#})
              if (( ${#candidates} )); then compadd -a candidates; else _files; fi
            }
            # Autoloaded from $fpath, this file is the body of _vigil and its first call must complete too; sourced,
            # it registers the function.
            if [[ $funcstack[1] == _vigil ]]; then _vigil "$@"; else compdef _vigil vigil; fi

            """,
        "fish" => """
            # vigil completion for fish: vigil completion fish > ~/.config/fish/completions/vigil.fish
            function __vigil_complete
                set -l words (commandline -opc)
                set -l line (string join -- ' ' vigil $words[2..-1] (commandline -ct))
                command $words[1] "[suggest:"(string length -- $line)"]" $line 2>/dev/null
            end
            complete -c vigil -f -a '(__vigil_complete)'

            """,
        _ => throw new UsageException($"completion: expected bash, zsh or fish, got '{shell}'"),
    };
}
