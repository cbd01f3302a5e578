using System.CommandLine;
using System.Runtime.InteropServices;
using Vigil.Control;

namespace Vigil.Cli.Commands;

/// <summary><c>vigil attach NAME</c>: the operator's terminal on a tmux unit's window, live.</summary>
internal static class AttachCommand
{
    public static Command Build(CliContext ctx)
    {
        var name = ListCommands.Name();
        name.CompletionSources.Add(UnitNames.Source(ctx, withAll: false));
        var print = new Option<bool>("--print") { Description = "print the tmux command instead of running it" };
        return Client.Command(ctx, "attach", "attach this terminal to a tmux unit's window", """
            For a unit with tmux: { session: NAME }: asks the running Vigil for its tmux server's socket and the unit's
            window, then becomes 'tmux -S SOCKET attach -t =SESSION:=WINDOW' (detach again with the tmux prefix, C-b d;
            the unit keeps running). --print: only print that command, one argument a line. A unit without tmux: exit 1.
            """,
            async (parsed, control, cancel) =>
            {
                var units = await control.StatusAsync(parsed.GetValue(name)!, cancel).ConfigureAwait(false);
                if (units.FirstOrDefault(u => u.Tmux is not null)?.Tmux is not { } tmux)
                {
                    ctx.Err.WriteLine($"vigil: {parsed.GetValue(name)} does not run in tmux (give it tmux: {{ session: NAME }} in the config)");
                    return ExitCodes.Failure;
                }
                string[] argv = ["tmux", "-S", tmux.Socket, "attach-session", "-t", tmux.Target];
                if (parsed.GetValue(print))
                {
                    foreach (var a in argv) ctx.Out.WriteLine(a);
                    return ExitCodes.Ok;
                }
                // tmux cannot draw without knowing the terminal; its own words ("missing or unsuitable terminal") do not
                // say that the variable is what is missing.
                if (Environment.GetEnvironmentVariable("TERM") is null or "" or "dumb")
                {
                    ctx.Err.WriteLine("vigil: attach needs a terminal, and TERM is not set (or is dumb): run it from a terminal, or use --print");
                    return ExitCodes.Failure;
                }
                ctx.Out.Flush();
                // Only returns when exec failed; on success this process is tmux from here on.
                Exec(argv);
                ctx.Err.WriteLine($"vigil: cannot run tmux: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
                return ExitCodes.Failure;
            }, name, print);
    }

    [DllImport("libc", SetLastError = true)] private static extern unsafe int execvp(byte* file, byte** argv);
    [DllImport("libc", SetLastError = true)] private static extern unsafe int unsetenv(byte* name);

    /// <summary>Replaces this process with <paramref name="argv"/> (looked up in PATH); returns only on failure.</summary>
    private static unsafe void Exec(string[] argv)
    {
        fixed (byte* tmuxVar = "TMUX\0"u8) unsetenv(tmuxVar); // inside another tmux, attach would refuse to nest
        var z = new byte*[argv.Length + 1];
        for (int i = 0; i < argv.Length; i++)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(argv[i] + "\0");
            z[i] = (byte*)NativeMemory.Alloc((nuint)bytes.Length);
            bytes.CopyTo(new Span<byte>(z[i], bytes.Length));
        }
        fixed (byte** p = z) execvp(p[0], p);
        for (int i = 0; i < argv.Length; i++) NativeMemory.Free(z[i]);
    }
}
