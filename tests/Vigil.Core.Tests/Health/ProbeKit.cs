using Vigil.Health;
using Vigil.Logs;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Vigil.Tests.Health;

/// <summary>Builds probed fixture units and checks the one thing every hang test checks: the hang is seen within
/// timeout + one period of when it began, and the unit is restarted.</summary>
internal static class ProbeKit
{
    /// <summary>Scheduling and event delivery on a loaded 2-core machine; never part of what a probe is judged on.</summary>
    public static readonly TimeSpan Slack = TimeSpan.FromSeconds(1.5);

    public static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);

    public static ProbeSpec Liveness(ProbeCheck check, int periodMs, int timeoutMs) =>
        new(check) { Period = Ms(periodMs), Timeout = Ms(timeoutMs), FailureThreshold = 1 };

    public static Uri Url(int port, string path = "/health") => new($"http://127.0.0.1:{port}{path}");

    /// <summary>Holds the liveness probes back until the fixture's HTTP server answers (it takes the fixture a moment
    /// to start; a liveness probe with failureThreshold 1 would otherwise see "connection refused" first).</summary>
    public static ProbeSpec HttpStartup(int port) =>
        new(new HttpCheck(Url(port, "/startup"))) { Name = "started", Role = ProbeRole.Startup, Period = Ms(100), Timeout = Ms(1000), FailureThreshold = 300 };

    public static ProbeSpec TcpStartup(int port) =>
        new(new TcpCheck("127.0.0.1", port)) { Name = "started", Role = ProbeRole.Startup, Period = Ms(100), Timeout = Ms(1000), FailureThreshold = 300 };

    public static ProcessSpec Probed(this ProcessSpec s, params ProbeSpec[] probes) => s with { Health = [.. probes] };

    /// <summary>The fixture's http/listen steps bind this port (so the probe's URL is known before the spawn).</summary>
    public static ProcessSpec OnPort(this ProcessSpec s, int port) => s with { Env = s.Env.SetItem("VIGIL_FIXTURE_PORT", port.ToString()) };

    /// <summary>Waits for the liveness failure and the restart; asserts the failure came from the first run, between
    /// <paramref name="atLeast"/> and timeout + one period (+ <see cref="Slack"/>) after <paramref name="hangBegan"/>.
    /// Callers that see the start of the hang through captured output (which may lag on a loaded machine) pass half
    /// the window as the lower bound: enough to catch a verdict that ignores the window.</summary>
    public static async Task<Unhealthy> AssertHangRestarted(Recorder rec, ProbeSpec probe, DateTimeOffset hangBegan, TimeSpan atLeast,
        ITestOutputHelper output, string what)
    {
        var unhealthy = await rec.Event<Unhealthy>(timeout: TimeSpan.FromSeconds(30));
        var spawns = await rec.Count<Spawned>(2, timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(spawns[0].Pid, unhealthy.Pid);
        Assert.NotEqual(spawns[0].Pid, spawns[1].Pid);
        Assert.Equal(1, spawns[1].RestartCount);
        Assert.Equal(probe.Name, unhealthy.Probe);
        Assert.Equal(ProbeAction.Restart, unhealthy.Action);
        Assert.True(unhealthy.Time < spawns[1].Time);
        var latency = unhealthy.Time - hangBegan;
        var limit = probe.Timeout + probe.Period + Slack;
        output.WriteLine($"{what}: detected {latency.TotalMilliseconds:F0} ms after the hang began (timeout {Durations.Format(probe.Timeout)}, period {Durations.Format(probe.Period)}): {unhealthy.Why}");
        Assert.True(latency >= atLeast, $"{what}: detected too early, {latency.TotalMilliseconds:F0} ms < {atLeast.TotalMilliseconds} ms after the hang: {unhealthy.Why}");
        Assert.True(latency <= limit, $"{what}: detected {latency.TotalMilliseconds:F0} ms after the hang, over {limit.TotalMilliseconds} ms: {unhealthy.Why}");
        return unhealthy;
    }

    /// <summary>The first output line that is exactly <paramref name="text"/>.</summary>
    public static Task<OutputLine> Exactly(this Recorder rec, string text, TimeSpan? timeout = null) =>
        rec.Line(l => l.Text == text, $"line '{text}'", timeout ?? TimeSpan.FromSeconds(30));
}
