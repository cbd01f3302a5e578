using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tether.Pinger;
using Vigil.Tether.Tests.Pinger;
using Xunit;

namespace Vigil.Tether.Tests.Telemetry;

/// <summary>Integration: a <c>kind: tether</c> probe against the real tether-agent through mosquitto gives the engine's
/// meter what the pinger gives Datadog: the round trip and the pong's numeric fields as the unit's probe values, and a
/// passed tether check per pong (the pinger's heartbeat).</summary>
public sealed class TetherMetricsTests
{
    [Fact]
    public async Task A_tether_probes_round_trip_and_pong_fields_are_probe_values_of_the_unit_on_the_meter()
    {
        await using var broker = await PingPongTests.StartBrokerAsync();
        await using var target = await PingPongTests.StartTargetAsync(broker, "worker1");
        await using var tether = new TetherProbes(new TetherSettings { Host = broker.Host, Port = broker.Port });
        await using var sup = new Supervisor(new SupervisorOptions { ProbeProviders = [tether] });
        sup.Start(new ProcessSpec
        {
            Name = "kiosk",
            Command = ["sleep", "600"],
            Health = [new ProbeSpec(new TetherCheck("worker1")) { Period = TimeSpan.FromMilliseconds(300), Timeout = TimeSpan.FromSeconds(2) }],
        });

        var values = new ConcurrentDictionary<string, double>();
        long heartbeats = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (i, l) =>
            {
                if (ReferenceEquals(i.Meter, sup.Metrics.Meter) && i.Name is "vigil.probe.value" or "vigil.probe.checks") l.EnableMeasurementEvents(i);
            },
        };
        listener.SetMeasurementEventCallback<double>((_, v, tags, _) =>
        {
            string? unit = null, name = null;
            foreach (var (k, t) in tags) { if (k == "unit") unit = t as string; else if (k == "name") name = t as string; }
            if (unit == "kiosk" && name is not null) values[name] = v;
        });
        listener.SetMeasurementEventCallback<long>((_, v, tags, _) =>
        {
            bool kiosk = false, tetherKind = false, ok = false;
            foreach (var (k, t) in tags)
                switch (k)
                {
                    case "unit": kiosk = t as string == "kiosk"; break;
                    case "kind": tetherKind = t as string == "tether"; break;
                    case "result": ok = t as string == "ok"; break;
                }
            if (kiosk && tetherKind && ok) Interlocked.Add(ref heartbeats, v);
        });
        listener.Start();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!(values.ContainsKey("ping_ms") && values.ContainsKey("fps") && Interlocked.Read(ref heartbeats) >= 2) && DateTime.UtcNow < deadline)
        {
            listener.RecordObservableInstruments();
            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System); // polling interval of a bounded wait
        }
        Assert.True(Interlocked.Read(ref heartbeats) >= 2, $"passed tether checks: {heartbeats}");
        Assert.Equal(60, values["fps"]);
        Assert.Equal(2, values["sessions"]);
        Assert.InRange(values["ping_ms"], 0.001, 2000);
    }
}
