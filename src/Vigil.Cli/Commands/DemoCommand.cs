using System.CommandLine;
using Vigil.Cli.Output;
using Vigil.Control;
using Vigil.Health;
using Vigil.Specs;
using Vigil.Supervision;

namespace Vigil.Cli.Commands;

/// <summary>
/// <c>vigil demo</c>: the main job on an embedded default. Needs nothing beyond the build and /bin/sh: a healthy
/// ticker, a crasher that walks the elife restart schedule (100ms, 500ms, 1s, 10s, …), a process that hangs and is
/// detected by its output-stall probe and restarted, and a status table.
/// </summary>
internal static class DemoCommand
{
    public static Command Build()
    {
        var runFor = new Option<string?>("--for") { Description = "stop by itself after this long (e.g. 30s)", HelpName = "DURATION" };
        var every = new Option<string?>("--status-every") { Description = "how often to print the status table (default 5s)", HelpName = "DURATION" };
        var command = new NotedCommand("demo", "run the built-in demo: processes that crash, hang and recover", """
            A healthy process, a crasher walking the restart schedule (100ms, 500ms, 1s, 10s, …), and a process that
            hangs, is found by its output-stall probe and is restarted; with a status table every few seconds.
            """) { runFor, every };
        command.SetAction((parsed, _) => ExecuteAsync(parsed.GetValue(runFor), parsed.GetValue(every)));
        return command;
    }

    public static IReadOnlyList<ProcessSpec> Specs { get; } =
    [
        new ProcessSpec
        {
            Name = "healthy",
            Command = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo \"tick $i\"; sleep 1; done"],
        },
        new ProcessSpec
        {
            Name = "crasher",
            Command = ["sh", "-c", "echo 'starting up'; sleep 0.3; echo 'something went wrong' >&2; exit 3"],
            // The default schedule (elife's restartAt): 100ms, 500ms, 1s, 10s, 30s, 1m, 5m, then 15m.
        },
        new ProcessSpec
        {
            Name = "hanger",
            // Works for 3 s, then hangs: still running, but silent. The output-stall probe notices within its 2 s
            // window (+ one 250 ms period) and the unit is stopped and restarted like a crash.
            Command = ["sh", "-c", "for i in 1 2 3; do echo \"working $i\"; sleep 1; done; echo 'now hung (alive, but silent)'; exec sleep 100000"],
            Restart = RestartSpec.Default with { Schedule = [TimeSpan.FromSeconds(1)] },
            Health = [new ProbeSpec(new OutputStallCheck()) { Timeout = TimeSpan.FromSeconds(2), Period = TimeSpan.FromMilliseconds(250) }],
        },
    ];

    private static async Task<int> ExecuteAsync(string? runForText, string? everyText)
    {
        TimeSpan? runFor = null;
        if (runForText is { } f)
            runFor = Durations.TryParse(f, out var d) ? d : throw new UsageException($"--for: expected {Durations.Expected}, got '{f}'");
        var every = TimeSpan.FromSeconds(5);
        if (everyText is { } s && !Durations.TryParse(s, out every))
            throw new UsageException($"--status-every: expected {Durations.Expected}, got '{s}'");

        Console.WriteLine("vigil demo: 'healthy' ticks every second; 'crasher' exits with code 3 after 0.3 s and is");
        Console.WriteLine("restarted on the default schedule (100ms, 500ms, 1s, 10s, 30s, 1m, 5m, then every 15m).");
        Console.WriteLine("'hanger' works for 3 s and then hangs without exiting; its output-stall probe (2 s) finds it");
        Console.WriteLine("and Vigil restarts it, printing the reason.");
        Console.WriteLine(runFor is null ? "Press Ctrl-C to stop everything." : $"Stopping by itself after {Durations.Format(runFor.Value)}.");
        // One demo per user at a time, and a killed demo's children are stopped by the next one.
        return await new RunSession(new RunPlan
        {
            Specs = Specs,
            AttachOutput = true,
            RunFor = runFor,
            Identity = "vigil-demo",
            HangupStops = true,
            Extra = (control, printer, cancel) => _ = StatusLoop(control, printer, every, cancel),
        }).RunAsync().ConfigureAwait(false);
    }

    private static async Task StatusLoop(IVigilControl control, EventPrinter printer, TimeSpan every, CancellationToken cancel)
    {
        try
        {
            while (true)
            {
                await Task.Delay(every, cancel).ConfigureAwait(false);
                printer.Notice(UnitTable.Render(await control.ListAsync(cancel).ConfigureAwait(false), Style.Plain));
            }
        }
        catch (OperationCanceledException) { }
    }
}
