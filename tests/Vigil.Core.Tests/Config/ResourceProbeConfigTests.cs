using Vigil.Config;
using Vigil.Health;
using Vigil.Specs;
using Xunit;

namespace Vigil.Tests.Config;

/// <summary>The memory, cpu and sd-notify keys of <c>health:</c>.</summary>
public sealed class ResourceProbeConfigTests
{
    private static IReadOnlyList<ProbeSpec> Probes(string probes) =>
        ConfigLoader.Parse("processes:\n  - name: w\n    command: x\n    health:\n" + probes, "vigil.yaml", "/srv/app").Processes[0].Health;

    private static string[] Errors(string probes) =>
        [.. Assert.Throws<ConfigException>(() => Probes(probes)).Errors.Select(e => e.ToString())];

    private static TimeSpan S(double s) => TimeSpan.FromSeconds(s);

    [Fact]
    public void Memory_takes_a_size_and_the_common_keys()
    {
        var p = Assert.Single(Probes("      - { kind: memory, max: 2GB, period: 1s, failureThreshold: 3 }\n"));
        Assert.Equal(new MemoryCheck(2L << 30), p.Check);
        Assert.Equal(S(1), p.Period);
        Assert.Equal(3, p.FailureThreshold);
        Assert.Equal(ProbeRole.Liveness, p.Role);
        Assert.Equal(ProbeAction.Restart, p.Action);
    }

    [Fact]
    public void Memory_defaults_sample_every_5s_and_fail_after_3_in_a_row()
    {
        var p = Assert.Single(Probes("      - { kind: memory, max: 512MB }\n"));
        Assert.Equal(512L << 20, ((MemoryCheck)p.Check).MaxBytes);
        Assert.Equal(S(5), p.Period);
        Assert.Equal(3, p.FailureThreshold);
    }

    [Fact]
    public void Cpu_takes_percentages_of_a_core_and_a_window()
    {
        var p = Assert.Single(Probes("      - { kind: cpu, max: 95%, min: 0.5%, window: 1m }\n"));
        Assert.Equal(new CpuCheck(95, 0.5, TimeSpan.FromMinutes(1)), p.Check);
        Assert.Equal(S(5), p.Period); // a quarter of the window, at most 5 s
        Assert.Equal(1, p.FailureThreshold); // the window is the persistence
    }

    [Fact]
    public void Cpu_window_defaults_to_a_minute_and_a_short_window_samples_four_times_in_it()
    {
        Assert.Equal(new CpuCheck(150, null, TimeSpan.FromMinutes(1)), Assert.Single(Probes("      - { kind: cpu, max: 150 }\n")).Check);
        var p = Assert.Single(Probes("      - { kind: cpu, min: 1%, window: 2s }\n"));
        Assert.Equal(TimeSpan.FromMilliseconds(500), p.Period);
        Assert.Equal(TimeSpan.FromMilliseconds(200), Assert.Single(Probes("      - { kind: cpu, min: 1%, window: 2s, period: 200ms }\n")).Period);
    }

    [Fact]
    public void Sd_notify_with_a_watchdog_checks_four_times_per_window_up_to_once_a_second()
    {
        var p = Assert.Single(Probes("      - { kind: sd-notify, watchdog: 2s }\n"));
        Assert.Equal(new SdNotifyCheck(S(2)), p.Check);
        Assert.Equal(S(2), p.Timeout);
        Assert.Equal(TimeSpan.FromMilliseconds(500), p.Period);
        Assert.Equal(1, p.FailureThreshold);
        Assert.Equal(S(1), Assert.Single(Probes("      - { kind: sd-notify, watchdog: 10s }\n")).Period);
    }

    [Fact]
    public void Sd_notify_without_a_watchdog_is_readiness_only()
    {
        var p = Assert.Single(Probes("      - kind: sd-notify\n"));
        Assert.Equal(new SdNotifyCheck(null), p.Check);
        Assert.Equal(ProbeRole.Liveness, p.Role);
        var r = Assert.Single(Probes("      - { kind: sd-notify, role: readiness }\n"));
        Assert.Equal(ProbeRole.Readiness, r.Role);
    }

    [Fact]
    public void Sd_notify_accepts_only_the_main_process_unless_notify_access_is_all()
    {
        Assert.Equal(NotifyAccess.Main, Assert.IsType<SdNotifyCheck>(Assert.Single(Probes("      - kind: sd-notify\n")).Check).Access);
        Assert.Equal(NotifyAccess.Main, Assert.IsType<SdNotifyCheck>(Assert.Single(Probes("      - { kind: sd-notify, notifyAccess: main }\n")).Check).Access);
        Assert.Equal(NotifyAccess.All, Assert.IsType<SdNotifyCheck>(Assert.Single(Probes("      - { kind: sd-notify, notifyAccess: all }\n")).Check).Access);
        Assert.Equal(["vigil.yaml:5:28: processes[0].health[0].notifyAccess: expected main or all, got 'exec'"],
            Errors("      - { kind: sd-notify, notifyAccess: exec }\n"));
    }

    [Fact]
    public void Bad_values_are_named_with_their_file_position_and_key() =>
        Assert.Equal(
            [
                "vigil.yaml:5:9: processes[0].health[0].max: this memory probe needs max: 2GB",
                "vigil.yaml:6:25: processes[0].health[1].max: expected a size like 512, 64KB, 50MB or 2GB, got 'lots'",
                "vigil.yaml:7:22: processes[0].health[2].max: expected a percentage of one core like 95% (100% = one full core), got 'fast'",
                "vigil.yaml:8:9: processes[0].health[3].max/min: give max (e.g. 95%) or min (e.g. 1%) or both",
                "vigil.yaml:9:28: processes[0].health[4].watchdog: expected a duration like 100ms, 1.5s, 5m, 1h or integer milliseconds, got 'soon'",
                "vigil.yaml:10:9: processes[0].health[5].max: this memory probe needs max: 2GB",
                "vigil.yaml:10:25: processes[0].health[5].maxx: unknown key; did you mean 'max'?",
            ],
            Errors("      - { kind: memory }\n      - { kind: memory, max: lots }\n      - { kind: cpu, max: fast }\n      - { kind: cpu, window: 5s }\n"
                + "      - { kind: sd-notify, watchdog: soon }\n      - { kind: memory, maxx: 1GB }\n"));
}
