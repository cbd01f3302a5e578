using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Vigil.Cli.Output;
using Vigil.Control;

namespace Vigil.Cli.Commands;

/// <summary>Commands about the running Vigil as a whole: reload, save, shutdown.</summary>
internal static class InstanceCommands
{
    public static Command Reload(CliContext ctx)
    {
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "only show what would change" };
        var json = ListCommands.Json();
        return Client.Command(ctx, "reload", "re-read the config and apply the difference", """
            Prints the diff: '+ name' added and started, '- name' removed and stopped, '~ name (command, env)' changed and
            restarted; unchanged units keep running with the same PID. An invalid config (or a command that cannot be
            found, a cwd that does not exist) is refused with its file:line:col errors, exit 2, and nothing changes.
            SIGHUP to vigil run does the same.
            """,
            async (parsed, control, cancel) =>
            {
                var result = await control.ReloadAsync(parsed.GetValue(dryRun), cancel).ConfigureAwait(false);
                if (parsed.GetValue(json)) ctx.Out.WriteLine(JsonSerializer.Serialize(result, ControlJson.Default.ReloadResult));
                else foreach (var line in Views.ReloadDiff(result)) ctx.Out.WriteLine(line);
                return ExitCodes.Ok;
            }, dryRun, json);
    }

    public static Command Save(CliContext ctx)
    {
        var file = new Argument<string?>("FILE")
        {
            Description = "where to write (default: the config file Vigil runs from; '-': standard output)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        return Client.Command(ctx, "save", "write the running units as a config file", """
            The running set, units added with vigil add included, as YAML that vigil run -c accepts: to the config file
            Vigil runs from (default), to FILE, or to standard output (-).
            """,
            async (parsed, control, cancel) =>
            {
                var saved = await control.SaveAsync(cancel).ConfigureAwait(false);
                var target = parsed.GetValue(file);
                if (target == "-")
                {
                    ctx.Out.Write(saved.Yaml);
                    return ExitCodes.Ok;
                }
                var path = target is not null ? Path.GetFullPath(target) : saved.ConfigPath
                    ?? throw new UsageException("save: this Vigil runs without a config file (vigil run -- CMD); give a FILE, or - for standard output");
                if (WriteReplacing(path, saved.Yaml) is { } error)
                {
                    ctx.Err.WriteLine($"vigil: save: cannot write {path}: {error}");
                    return ExitCodes.Failure;
                }
                ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"vigil: saved {saved.Units} unit(s) to {path}"));
                return ExitCodes.Ok;
            }, file);
    }

    /// <summary>Writes beside the file and renames over it: a crash or a full disk never leaves half a config. Returns
    /// why it could not, or null.</summary>
    internal static string? WriteReplacing(string path, string text)
    {
        var temp = Path.Combine(Path.GetDirectoryName(path) ?? ".", $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllText(temp, text);
            if (File.Exists(path)) File.SetUnixFileMode(temp, File.GetUnixFileMode(path));
            File.Move(temp, path, overwrite: true);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temp); }
            catch (IOException) { } // the folder itself may be missing or unwritable: nothing was created then
            catch (UnauthorizedAccessException) { }
            return e.Message;
        }
    }

    public static Command Shutdown(CliContext ctx) =>
        Client.Command(ctx, "shutdown", "stop every unit and Vigil itself", "Returns once Vigil has exited (as SIGTERM to vigil run would).",
            async (parsed, control, cancel) =>
            {
                var info = await control.InfoAsync(cancel).ConfigureAwait(false);
                await control.ShutdownAsync(cancel).ConfigureAwait(false);
                ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"vigil: PID {info.Pid} stopped its units and exited"));
                return ExitCodes.Ok;
            });
}
