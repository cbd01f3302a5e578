using Vigil.Health;
using Vigil.Specs;
using Vigil.Supervision;
using Xunit.Abstractions;

namespace Vigil.Tests.Health;

/// <summary>Small helpers of the resource and sd-notify probe tests.</summary>
internal static class ResourceProbeKit
{
    public const long Mib = 1 << 20;

    public static ProcessSpec WithProbes(this ProcessSpec s, params ProbeSpec[] probes) => s with { Health = [.. probes] };

    public static ProbeSpec Probe(ProbeCheck check, int periodMs, int failureThreshold = 1) =>
        new(check) { Period = TimeSpan.FromMilliseconds(periodMs), FailureThreshold = failureThreshold };

    /// <summary>Detection latency from <paramref name="since"/> to the event, written to the test output and returned.</summary>
    public static TimeSpan Latency(this ITestOutputHelper output, string what, DateTimeOffset since, UnitEvent e)
    {
        var latency = e.Time - since;
        output.WriteLine($"{what}: detected {latency.TotalMilliseconds:0} ms after {since:HH:mm:ss.fff}: {e.Reason}");
        return latency;
    }
}
