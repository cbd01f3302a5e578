using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Vigil.Telemetry;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Telemetry;

/// <summary>
/// The DogStatsD exporter over a meter of the test's own with the engine's instrument names, to a UDP listener
/// standing in for the agent: the pinger's names where they overlap (heartbeat, ping, pong fields, restartProcess),
/// counters sent as what they grew by, and only this meter's instruments.
/// </summary>
public sealed class DogStatsDExporterTests : IDisposable
{
    readonly UdpClient _agent = new(new IPEndPoint(IPAddress.Loopback, 0));
    readonly Meter _meter = new(EngineMetrics.MeterName);
    readonly FakeTimeProvider _time = new(); // the flush timer never fires: the test flushes

    public void Dispose()
    {
        _meter.Dispose();
        _agent.Dispose();
    }

    DogStatsDExporter Exporter(string prefix = "") => new(_meter,
        DogStatsDSettings.Default with { Enabled = true, Host = "127.0.0.1", Port = ((IPEndPoint)_agent.Client.LocalEndPoint!).Port, Prefix = prefix, Tags = ["site:lab"] },
        _time);

    /// <summary>Every datagram that arrives until none has for a moment.</summary>
    async Task<List<string>> Received()
    {
        var got = new List<string>();
        while (true)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(got.Count == 0 ? 10 : 1));
            try { got.Add(Encoding.UTF8.GetString((await _agent.ReceiveAsync(cts.Token)).Buffer)); }
            catch (OperationCanceledException) { return got; }
        }
    }

    [Fact]
    public async Task A_passed_tether_check_is_a_heartbeat_and_its_round_trip_and_pong_fields_are_the_pingers_gauges()
    {
        var checks = _meter.CreateCounter<long>("vigil.probe.checks");
        _meter.CreateObservableGauge("vigil.probe.value", () => new[]
        {
            new Measurement<double>(12.5, new("unit", "kiosk"), new("name", "ping_ms")),
            new Measurement<double>(60, new("unit", "kiosk"), new("name", "fps")),
        });
        using var exporter = Exporter();
        checks.Add(1, new("unit", "kiosk"), new("probe", "tether"), new("kind", "tether"), new("result", "ok"));
        checks.Add(1, new("unit", "kiosk"), new("probe", "http"), new("kind", "http"), new("result", "ok"));     // not a heartbeat
        checks.Add(1, new("unit", "kiosk"), new("probe", "tether"), new("kind", "tether"), new("result", "failed")); // not one either
        exporter.Flush();

        var got = await Received();
        Assert.Single(got, d => d.StartsWith("heartbeat:", StringComparison.Ordinal));
        Assert.Contains("heartbeat:1|c|#site:lab,targetApp:kiosk", got);
        Assert.Contains("vigil.probe.checks:1|c|#site:lab,targetApp:kiosk,probe:tether,kind:tether,result:ok", got);
        Assert.Contains("ping:12.5|g|#site:lab,targetApp:kiosk", got);
        Assert.Contains("fps:60|g|#site:lab,targetApp:kiosk", got);
        Assert.Contains("vigil.probe.value:12.5|g|#site:lab,targetApp:kiosk,name:ping_ms", got);
    }

    [Fact]
    public async Task Cumulative_counters_are_sent_as_what_they_grew_by_and_restarts_also_as_restartProcess()
    {
        long restarts = 2;
        _meter.CreateObservableCounter("vigil.unit.restarts", () => new Measurement<long>(restarts, new("unit", "w"), new("reason", "exit")));
        using var exporter = Exporter(prefix: "vigil_test.");

        exporter.Flush();
        Assert.Equal(["vigil_test.vigil.unit.restarts:2|c|#site:lab,targetApp:w,reason:exit", "vigil_test.restartProcess:2|c|#site:lab,targetApp:w"], await Received());
        exporter.Flush(); // nothing grew: nothing sent
        restarts = 5;
        exporter.Flush();
        Assert.Equal(["vigil_test.vigil.unit.restarts:3|c|#site:lab,targetApp:w,reason:exit", "vigil_test.restartProcess:3|c|#site:lab,targetApp:w"], await Received());
    }

    [Fact]
    public async Task Another_meter_of_the_same_name_is_not_exported()
    {
        using var other = new Meter(EngineMetrics.MeterName);
        other.CreateObservableGauge("vigil.unit.up", () => new Measurement<int>(1, new KeyValuePair<string, object?>("unit", "elsewhere")));
        _meter.CreateObservableGauge("vigil.unit.up", () => new Measurement<int>(1, new KeyValuePair<string, object?>("unit", "ours")));
        using var exporter = Exporter();
        exporter.Flush();

        Assert.Equal(["vigil.unit.up:1|g|#site:lab,targetApp:ours"], await Received());
    }
}
