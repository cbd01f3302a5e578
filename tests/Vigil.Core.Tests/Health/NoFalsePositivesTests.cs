using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Vigil.Tests.Health;

/// <summary>Integration: healthy processes are not restarted while other processes keep both cores busy.</summary>
[Collection("processes")]
public sealed class NoFalsePositivesTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Healthy_units_under_stall_heartbeat_resource_and_watchdog_probes_survive_two_busy_cores()
    {
        var dir = Directory.CreateTempSubdirectory("vigil-nfp-");
        try
        {
            // Two spinning processes load both cores (under their own supervisor, with no probes).
            await using var load = new Supervisor();
            using var loadRec = new Recorder(load);
            load.Start(Fixture.Spec("load1", "marker", "spin", "busy"));
            load.Start(Fixture.Spec("load2", "marker", "spin", "busy"));
            var spinners = (await loadRec.WaitFor((_, l) => l.Count(x => x.Text.StartsWith("MARKER spin")) >= 2 ? l : null, "both loaders spinning"))
                .Select(l => l.Pid).ToList();
            var loadStart = spinners.Select(CpuTicks).ToList();

            var cpu = ResourceProbeKit.Probe(new CpuCheck(MaxPercent: 90, MinPercent: null, TimeSpan.FromSeconds(2)), periodMs: 500);
            var memory = ResourceProbeKit.Probe(new MemoryCheck(500 * ResourceProbeKit.Mib), periodMs: 500);
            var beat = Path.Combine(dir.FullName, "beat");
            await using var sup = new Supervisor();
            using var rec = new Recorder(sup);
            sup.Start(Fixture.Spec("ticker", "tick", "200", "0").WithProbes(
                ResourceProbeKit.Probe(new OutputStallCheck(), periodMs: 500) with { Timeout = TimeSpan.FromSeconds(2) }, cpu, memory));
            sup.Start(Fixture.Spec("beater", "touch", beat, "200", "0").WithProbes(
                ResourceProbeKit.Probe(new HeartbeatFileCheck(beat), periodMs: 500) with { Timeout = TimeSpan.FromSeconds(2) }, cpu, memory));
            sup.Start(Fixture.Spec("pinger", "notify", "READY=1", "watchdog", "200", "0").WithProbes(
                ResourceProbeKit.Probe(new SdNotifyCheck(TimeSpan.FromSeconds(2)), periodMs: 500) with { Timeout = TimeSpan.FromSeconds(2) }, cpu, memory));

            // 50 ticks of 200 ms: at least 10 s of probing (20 checks of every probe, five full cpu windows).
            var began = DateTimeOffset.Now;
            await rec.Line(l => l.Text == "tick 50", "50 ticks", TimeSpan.FromSeconds(60));
            var ran = DateTimeOffset.Now - began;

            Assert.Empty(rec.Events.OfType<Unhealthy>());
            Assert.Equal(3, rec.Events.OfType<Spawned>().Count());
            Assert.Contains(rec.Events.OfType<ReadinessChanged>(), r => r.Name == "pinger" && r.Ready);
            Assert.All(sup.Units, u => Assert.Equal(UnitState.Running, u.State));
            Assert.All(sup.Units, u => Assert.True(u.Snapshot.Gauges.ContainsKey("cpu_percent") && u.Snapshot.Gauges.ContainsKey("rss_bytes"), u.Name));
            // The load was real: each spinner used a good part of a core the whole time.
            var used = spinners.Select((pid, i) => (CpuTicks(pid) - loadStart[i]) / (double)ProcFs.ClockTicksPerSecond / ran.TotalSeconds).ToList();
            output.WriteLine($"ran {ran.TotalSeconds:0.0} s; loaders used {string.Join(", ", used.Select(u => $"{u:P0}"))} of a core; load average {File.ReadAllText("/proc/loadavg").Trim()}");
            Assert.All(used, u => Assert.True(u > 0.3, $"a loader used only {u:P0} of a core"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static ulong CpuTicks(int pid) => ProcFs.TryReadStat(pid, out var st) ? st.CpuTicks : 0;
}
