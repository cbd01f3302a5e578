using Vigil.Health;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static Vigil.Tests.Health.ProbeKit;

namespace Vigil.Tests.Health;

/// <summary>Integration: the http probe against the fixture's real HTTP server on loopback.</summary>
[Collection("processes")]
public sealed class HttpProbeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_server_that_stops_answering_is_detected_within_timeout_plus_a_period_and_restarted()
    {
        int port = Ports.Free();
        var probe = Liveness(new HttpCheck(Url(port)) { BodyContains = "\"status\":\"ok\"" }, periodMs: 300, timeoutMs: 600);
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // The startup probe takes the first answer; the liveness probe gets two, then the server hangs.
        sup.Start(Fixture.Spec("web", "http", "3", "hang").OnPort(port).WithSchedule(100).Probed(HttpStartup(port), probe));
        var hung = await rec.Exactly("HTTP answered 3");
        var unhealthy = await AssertHangRestarted(rec, probe, hung.Time, atLeast: probe.Timeout / 2, output, "http");
        Assert.Equal($"no answer from http://127.0.0.1:{port}/health within 600ms", unhealthy.Why);
        Assert.Single(rec.Events.OfType<Unhealthy>(), u => u.Pid == unhealthy.Pid);
    }

    [Fact]
    public async Task A_server_that_answers_is_not_restarted_over_several_periods()
    {
        int port = Ports.Free();
        var probe = Liveness(new HttpCheck(Url(port)) { StatusMin = 200, StatusMax = 200, BodyContains = "processed" }, periodMs: 200, timeoutMs: 500);
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // 1 startup check + 8 liveness checks answered: 8 periods of a healthy server.
        var unit = sup.Start(Fixture.Spec("web", "http", "9", "hang").OnPort(port).WithSchedule(100).Probed(HttpStartup(port), probe));
        await rec.Event<ReadinessChanged>(r => r.Startup, "startup probe passed");
        await rec.Exactly("HTTP answered 9");
        Assert.Empty(rec.Events.OfType<Unhealthy>());
        Assert.Single(rec.Events.OfType<Spawned>());
        Assert.Equal(UnitState.Running, unit.State);
    }

    [Theory]
    [InlineData(204, 204, null, "HTTP 200 from {url} (expected 204)")]
    [InlineData(500, 599, null, "HTTP 200 from {url} (expected 500-599)")]
    [InlineData(200, 299, "\"status\":\"down\"", "HTTP 200 from {url} without \"\"status\":\"down\"\" in the body")]
    public async Task A_wrong_status_or_body_fails_with_what_was_wrong(int min, int max, string? body, string why)
    {
        int port = Ports.Free();
        var url = Url(port);
        var probe = Liveness(new HttpCheck(url) { StatusMin = min, StatusMax = max, BodyContains = body }, periodMs: 200, timeoutMs: 1000);
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        sup.Start(Fixture.Spec("web", "http", "100", "hang").OnPort(port).WithSchedule(100).Probed(HttpStartup(port), probe));
        var unhealthy = await rec.Event<Unhealthy>();
        Assert.Equal(why.Replace("{url}", url.ToString()), unhealthy.Why);
        await rec.Count<Spawned>(2);
    }

    [Fact]
    public async Task Nothing_listening_is_connection_refused()
    {
        int port = Ports.Free();
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        sup.Start(Fixture.Spec("web", "hang").WithSchedule(100).Probed(Liveness(new HttpCheck(Url(port, "/")), periodMs: 200, timeoutMs: 1000)));
        var unhealthy = await rec.Event<Unhealthy>();
        Assert.Equal($"connection refused by http://127.0.0.1:{port}/", unhealthy.Why);
    }
}
