using System.CommandLine;
using System.Globalization;
using System.Text;
using Vigil.Config;
using Vigil.Specs;

namespace Vigil.Cli.Commands;

/// <summary><c>vigil startup systemd [--user] [-c FILE] [--install]</c>: a unit file that runs <c>vigil run -c FILE</c> at boot.</summary>
internal static class StartupCommand
{
    /// <summary>Beyond the longest stop of any unit: Vigil's own shutdown (probe actions, output drain, log flush).</summary>
    public static readonly TimeSpan StopMargin = TimeSpan.FromSeconds(10);

    public static Command Build(CliContext ctx)
    {
        var user = new Option<bool>("--user") { Description = "a user unit (systemctl --user), not a system one" };
        var config = new Option<string?>("--config", "-c") { Description = "the config to run (default: vigil.yaml)", HelpName = "FILE" };
        var install = new Option<bool>("--install")
        {
            Description = "write it to /etc/systemd/system/ (or ~/.config/systemd/user/ with --user) as vigil-<name>.service "
                + "and print the systemctl line to run",
        };
        var systemd = new NotedCommand("systemd", "print (or --install) a systemd unit that runs vigil run -c FILE", """
            Type=notify (Vigil reports READY=1 once its units are started), ExecReload by SIGHUP, KillMode=mixed,
            TimeoutStopSec the longest stop timeout + kill wait of the config's units plus a margin, Restart=on-failure,
            the absolute paths of this vigil and of FILE. --install writes vigil-<name>.service and prints the systemctl
            line to run; it does not run systemctl.
            """)
        {
            user, config, install,
        };
        systemd.SetAction(parsed => Execute(ctx, parsed.GetValue(config) ?? "vigil.yaml", parsed.GetValue(user), parsed.GetValue(install)));
        return new Command("startup", "start Vigil at boot (systemd)") { systemd };
    }

    private static int Execute(CliContext ctx, string file, bool user, bool install)
    {
        VigilConfig config;
        try { config = ConfigLoader.Load(file, ctx.Extensions); }
        catch (ConfigException e)
        {
            foreach (var err in e.Errors) ctx.Err.WriteLine(err);
            return ExitCodes.Usage;
        }
        var text = Unit(Environment.ProcessPath ?? "vigil", Path.GetFullPath(file), config, user,
            runAs: user || Environment.UserName is "root" or "" ? null : Environment.UserName);
        if (!install)
        {
            ctx.Out.Write(text);
            return ExitCodes.Ok;
        }
        var dir = user ? UserUnitFolder() : "/etc/systemd/system";
        var name = $"vigil-{config.Name}.service";
        var path = Path.Combine(dir, name);
        try
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(path, text);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ctx.Err.WriteLine($"vigil: cannot write {path}: {e.Message}{(user ? "" : " (as root, or with --user for a user unit)")}");
            return ExitCodes.Failure;
        }
        ctx.Out.WriteLine($"vigil: wrote {path}");
        ctx.Out.WriteLine($"Now run: systemctl {(user ? "--user " : "")}enable --now {name}");
        return ExitCodes.Ok;
    }

    private static string UserUnitFolder()
    {
        var configHome = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } x && Path.IsPathRooted(x) ? x
            : Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? throw new UsageException("startup: HOME is not set"), ".config");
        return Path.Combine(configHome, "systemd", "user");
    }

    /// <summary>The unit file's text. <paramref name="runAs"/>: the <c>User=</c> of a system unit, null for root.</summary>
    public static string Unit(string vigil, string configPath, VigilConfig config, bool user, string? runAs)
    {
        var longest = config.Processes.Select(p => p.Stop.Timeout + p.Stop.KillWait)
            .DefaultIfEmpty(StopSpec.Default.Timeout + StopSpec.Default.KillWait).Max();
        var timeout = (long)Math.Ceiling((longest + StopMargin).TotalSeconds);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"""
            # Written by `vigil startup systemd` for {configPath}.
            # Reload the config: systemctl {(user ? "--user " : "")}reload vigil-{config.Name}; its output: journalctl {(user ? "--user-unit" : "-u")} vigil-{config.Name}
            [Unit]
            Description=Vigil supervising {Specifiers(configPath)}
            After=network-online.target
            Wants=network-online.target

            [Service]
            Type=notify
            NotifyAccess=main
            ExecStart={Quote(vigil)} run -c {Quote(configPath)}
            ExecReload=/bin/kill -HUP $MAINPID
            KillMode=mixed
            TimeoutStopSec={timeout}
            Restart=on-failure
            WorkingDirectory={Specifiers(Path.GetDirectoryName(configPath) ?? "/")}

            """);
        if (runAs is not null) sb.Append("User=").Append(runAs).Append('\n');
        sb.Append(CultureInfo.InvariantCulture, $"""

            [Install]
            WantedBy={(user ? "default.target" : "multi-user.target")}

            """);
        return sb.ToString();
    }

    /// <summary>One word of a systemd command line (systemd.service(5), "Command lines"): quoted when it has spaces,
    /// with <c>%</c> and <c>$</c> doubled so they are not taken for specifiers or variables.</summary>
    public static string Quote(string word)
    {
        var escaped = Specifiers(word).Replace("$", "$$", StringComparison.Ordinal);
        if (escaped.Length > 0 && !escaped.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\' or ';')) return escaped;
        return "\"" + escaped.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }

    private static string Specifiers(string text) => text.Replace("%", "%%", StringComparison.Ordinal);
}
