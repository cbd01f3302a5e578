using System.CommandLine;
using System.Text;

namespace Vigil.Cli.Commands;

/// <summary>
/// <c>vigil man</c> (hidden): the manual page vigil(1) in roff, written from the command tree itself (each command's
/// description, arguments, options and notes), so it says what this build's <c>--help</c> says. scripts/install and
/// scripts/package install its output as share/man/man1/vigil.1.
/// </summary>
internal static class ManCommand
{
    public static Command Build(CliContext ctx)
    {
        var command = new Command("man", "print the manual page vigil(1) in roff (scripts/install writes it)") { Hidden = true };
        command.SetAction(parsed =>
        {
            ctx.Out.Write(Page((RootCommand)parsed.RootCommandResult.Command));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The whole page for <paramref name="root"/>.</summary>
    public static string Page(RootCommand root)
    {
        var version = Cli.Version.Split('+')[0];
        var page = new StringBuilder();
        page.Append(".TH VIGIL 1 \"\" \"vigil ").Append(version).Append("\" \"User Commands\"\n");
        page.Append(".SH NAME\nvigil \\- ").Append(Escape(root.Description!.Split('—', 2)[^1].Trim())).Append('\n');

        page.Append(".SH SYNOPSIS\n");
        foreach (var c in Visible(root.Subcommands))
            page.Append(".B vigil\n").Append(Escape(Usage(c))).Append("\n.br\n");
        page.Append(".B vigil\n\\-\\-version | \\-\\-help\n");

        page.Append(".SH DESCRIPTION\n").Append(Escape("""
            Vigil starts processes and keeps them alive and responsive: it restarts one that exits (with a restart schedule
            or backoff and a crash-loop budget), and one that is still running but hung, as its health probes see it
            (http, tcp, exec, heartbeat-file, output-stall, progress, memory, cpu, sd-notify, tether, cops). It captures
            every line the processes write into logs, and answers a control socket for the commands below.
            The configuration (YAML or JSON) lists the processes; vigil run supervises them in the foreground, or in the
            background with -d.
            """.ReplaceLineEndings(" ").Trim())).Append('\n');

        page.Append(".SH COMMANDS\n");
        foreach (var c in Visible(root.Subcommands)) Describe(page, c, "vigil " + c.Name);

        page.Append(".SH OPTIONS\n");
        page.Append(".TP\n.B \\-\\-version\nprint vigil's version and exit\n");
        page.Append(".TP\n.BR \\-h \", \" \\-\\-help\nprint the help of vigil or of a command and exit\n");

        page.Append(".SH EXIT STATUS\n");
        Terms(page, "B",
        [
            ($"{ExitCodes.Ok}", "success"),
            ($"{ExitCodes.Failure}", "a runtime failure"),
            ($"{ExitCodes.Usage}", "a usage or configuration error, printed as file:line:col: key: message; nothing was started or changed"),
            ($"{ExitCodes.NotRunning}", "no running Vigil answers on the control socket"),
            ($"{ExitCodes.NoSuchUnit}", "no unit by that name (the nearest name is suggested)"),
        ]);

        page.Append(".SH FILES\n");
        Terms(page, "I",
        [
            ("vigil.yaml", "the configuration vigil run reads when none is given"),
            ("$XDG_RUNTIME_DIR/vigil/NAME.sock", "the control socket of the instance NAME (the config's name:, default: default); /run/vigil/NAME.sock for root, /tmp/vigil-UID/NAME.sock without a runtime directory"),
            ("$XDG_RUNTIME_DIR/vigil/NAME.log", "the output of a Vigil started with vigil run -d"),
            ("/etc/systemd/system/vigil-NAME.service", "the unit vigil startup systemd --install writes (~/.config/systemd/user/ with --user)"),
        ]);

        page.Append(".SH ENVIRONMENT\n");
        Terms(page, "B",
        [
            ("VIGIL_SOCKET", "the control socket to serve (vigil run) and to reach (every client command), instead of the default"),
            ("XDG_RUNTIME_DIR", "the folder of the default control socket"),
            ("NO_COLOR", "when set, no colour even on a terminal"),
            ("NOTIFY_SOCKET, WATCHDOG_USEC", "set by systemd: vigil run reports READY=1, STATUS=, RELOADING=1, STOPPING=1 and feeds the watchdog"),
        ]);

        page.Append(".SH SEE ALSO\n.BR systemd.service (5),\n.BR supervisord (1)\n");
        return page.ToString();
    }

    /// <summary>One command (and its subcommands, after it): usage line, description, notes and options.</summary>
    private static void Describe(StringBuilder page, Command c, string path)
    {
        var subcommands = Visible(c.Subcommands).ToList();
        page.Append(".SS ").Append(Escape(path)).Append('\n');
        page.Append(".B ").Append(Escape(path)).Append('\n').Append(Escape(Arguments(c))).Append("\n.PP\n");
        page.Append(Escape(c.Description ?? "")).Append('\n');
        if (c is NotedCommand { Notes: { } notes })
            page.Append(".PP\n").Append(Escape(notes.ReplaceLineEndings(" ").Trim())).Append('\n');
        foreach (var a in c.Arguments.Where(a => !a.Hidden && a.Description is not null))
            page.Append(".TP\n.I ").Append(Escape(a.HelpName ?? a.Name)).Append('\n').Append(Escape(a.Description!)).Append('\n');
        foreach (var o in c.Options.Where(o => !o.Hidden && o.Name is not "--help"))
        {
            page.Append(".TP\n.B ").Append(Escape(string.Join(", ", o.Aliases.Order().Append(o.Name))));
            if (!IsFlag(o)) page.Append(" \\fI").Append(Escape(o.HelpName ?? "VALUE")).Append("\\fR");
            page.Append('\n').Append(Escape(o.Description ?? "")).Append('\n');
        }
        foreach (var sub in subcommands) Describe(page, sub, path + " " + sub.Name);
    }

    /// <summary>A list of terms (in bold B or italic I) each with its paragraph.</summary>
    private static void Terms(StringBuilder page, string font, (string Term, string Text)[] items)
    {
        foreach (var (term, text) in items)
            page.Append(".TP\n.").Append(font).Append(' ').Append(Escape(term)).Append('\n').Append(Escape(text)).Append('\n');
    }

    private static IEnumerable<Command> Visible(IEnumerable<Command> commands) => commands.Where(c => !c.Hidden);

    private static bool IsFlag(Option o) => o.ValueType == typeof(bool);

    private static string Usage(Command c)
    {
        var subs = Visible(c.Subcommands).Select(s => s.Name).ToList();
        return subs.Count > 0 ? $"{c.Name} {string.Join(" | ", subs)} …" : $"{c.Name} {Arguments(c)}".TrimEnd();
    }

    /// <summary>The command's options and arguments as in a usage line: <c>[--json] [NAME…]</c>.</summary>
    private static string Arguments(Command c)
    {
        var words = new List<string>();
        if (c.Options.Any(o => !o.Hidden && o.Name is not "--help")) words.Add("[OPTIONS]");
        foreach (var a in c.Arguments.Where(a => !a.Hidden))
        {
            var name = a.HelpName ?? a.Name;
            if (a.Arity.MaximumNumberOfValues > 1) name += "…";
            words.Add(a.Arity.MinimumNumberOfValues == 0 ? $"[{name}]" : name);
        }
        if (Visible(c.Subcommands).Any()) words.Add("COMMAND");
        return string.Join(' ', words);
    }

    /// <summary>Text as roff reads it literally: backslashes and hyphens escaped, other than ASCII as \[uXXXX] (groff
    /// reads its input as Latin-1 unless preconv ran), and no line starting with a control character ('.' or ').</summary>
    public static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length);
        foreach (var ch in text)
        {
            if (ch == '\\') escaped.Append("\\e");
            else if (ch == '-') escaped.Append("\\-");
            else if (ch > '~') escaped.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\[u{(int)ch:X4}]");
            else escaped.Append(ch);
        }
        return escaped.Length > 0 && escaped[0] is '.' or '\'' ? "\\&" + escaped : escaped.ToString();
    }
}
