using Vigil.Health;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static Vigil.Tests.Health.ProbeKit;

namespace Vigil.Tests.Health;

/// <summary>Integration: the tcp probe against the fixture's real listening socket on loopback.</summary>
[Collection("processes")]
public sealed class TcpProbeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_closed_port_is_detected_within_a_period_and_restarted_and_an_open_one_is_left_alone()
    {
        int port = Ports.Free();
        var probe = Liveness(new TcpCheck("127.0.0.1", port), periodMs: 200, timeoutMs: 500);
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // Listens (never accepting: the kernel's backlog completes the connections) for 1.5 s, then closes the port.
        sup.Start(Fixture.Spec("db", "listen", "sleep", "1500", "unlisten", "hang").OnPort(port).WithSchedule(100).Probed(TcpStartup(port), probe));
        await rec.Event<ReadinessChanged>(r => r.Startup, "startup probe passed");
        var closed = await rec.Exactly("UNLISTENED");
        // The probe may see the closed port a moment before the UNLISTENED line is captured; a failure while the
        // port was open would come more than a second before it (and restart the run before it is printed).
        var unhealthy = await AssertHangRestarted(rec, probe, closed.Time, atLeast: -probe.Period, output, "tcp");
        Assert.Equal($"connection refused to 127.0.0.1:{port}", unhealthy.Why);
        // Healthy while the port was open: the only failure is the one after it closed.
        Assert.Single(rec.Events.OfType<Unhealthy>(), u => u.Pid == unhealthy.Pid);
        // The new run listens again and passes its startup probe on the same port.
        await rec.Count<ReadinessChanged>(2, r => r.Startup);
    }

    [Fact]
    public async Task Nothing_listening_is_connection_refused_right_away()
    {
        int port = Ports.Free();
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        sup.Start(Fixture.Spec("db", "hang").WithSchedule(100).Probed(Liveness(new TcpCheck("localhost", port), periodMs: 200, timeoutMs: 1000)));
        var unhealthy = await rec.Event<Unhealthy>();
        Assert.Equal($"connection refused to localhost:{port}", unhealthy.Why);
    }
}
