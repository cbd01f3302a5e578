using Vigil.Health;
using Vigil.Specs;
using Vigil.Supervision;

namespace Vigil.Cli;

/// <summary>
/// <c>vigil demo</c>: the main job on an embedded default. Needs nothing beyond the build and /bin/sh: a healthy
/// ticker, a crasher that walks the elife restart schedule (100ms, 500ms, 1s, 10s, …), a process that hangs and is
/// detected by its output-stall probe and restarted, and a status table.
/// </summary>
public static class DemoCommand
{
    public static readonly ArgParser.Option[] Options =
    [
        new("for", null, TakesValue: true),
        new("status-every", null, TakesValue: true),
    ];

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

    public static async Task<int> ExecuteAsync(Dictionary<string, string?> opts)
    {
        TimeSpan? runFor = null;
        if (opts.GetValueOrDefault("for") is { } f)
            runFor = Durations.TryParse(f, out var d) ? d : throw new UsageException($"--for: expected {Durations.Expected}, got '{f}'");
        var every = TimeSpan.FromSeconds(5);
        if (opts.GetValueOrDefault("status-every") is { } s && !Durations.TryParse(s, out every))
            throw new UsageException($"--status-every: expected {Durations.Expected}, got '{s}'");

        Console.WriteLine("vigil demo: 'healthy' ticks every second; 'crasher' exits with code 3 after 0.3 s and is");
        Console.WriteLine("restarted on the default schedule (100ms, 500ms, 1s, 10s, 30s, 1m, 5m, then every 15m).");
        Console.WriteLine("'hanger' works for 3 s and then hangs without exiting; its output-stall probe (2 s) finds it");
        Console.WriteLine("and Vigil restarts it, printing the reason.");
        Console.WriteLine(runFor is null ? "Press Ctrl-C to stop everything." : $"Stopping by itself after {Durations.Format(runFor.Value)}.");
        // One demo per user at a time, and a killed demo's children are stopped by the next one.
        return await RunCommand.SuperviseAsync(Specs, attachOutput: true, runFor, (sup, cancel) => _ = StatusLoop(sup, every, cancel),
            identity: "vigil-demo").ConfigureAwait(false);
    }

    private static async Task StatusLoop(Supervisor sup, TimeSpan every, CancellationToken cancel)
    {
        try
        {
            while (true)
            {
                await Task.Delay(every, cancel).ConfigureAwait(false);
                Console.WriteLine(StatusTable.Render(sup.Snapshot(), sup.Time.GetUtcNow()));
            }
        }
        catch (OperationCanceledException) { }
    }
}

/// <summary>A plain-text table of unit snapshots (the future `vigil ls`).</summary>
public static class StatusTable
{
    public static string Render(IReadOnlyList<UnitSnapshot> units, DateTimeOffset now)
    {
        var rows = new List<string[]> { new[] { "NAME", "STATE", "PID", "STATUS", "READY", "UPTIME", "RESTARTS", "LAST EXIT" } };
        foreach (var u in units)
        {
            var state = u.State.ToString().ToLowerInvariant() + (u.NextRestartIn is { } n ? $" ({Durations.Format(n)})" : "");
            rows.Add([u.Name, state, u.Pid?.ToString() ?? "-", ProcessStatuses.Describe(u.Status),
                u.Ready switch { true => "yes", false => "no", null => "-" },
                u.Pid is null ? "-" : Durations.Format(TimeSpan.FromSeconds(Math.Floor(u.UptimeAt(now).TotalSeconds))),
                u.RestartCount.ToString(), u.LastExit?.ToString() ?? "-"]);
        }
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        return string.Join('\n', rows.Select(r => string.Join("  ", r.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd()));
    }
}
