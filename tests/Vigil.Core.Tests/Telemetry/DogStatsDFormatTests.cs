using Vigil.Telemetry.DogStatsD;
using Xunit;

namespace Vigil.Tests.Telemetry;

/// <summary>The exact datagrams, per docs.datadoghq.com/developers/dogstatsd/datagram_shell.</summary>
public class DogStatsDFormatTests
{
    [Theory]
    [InlineData("page.views", 1, MetricKind.Count, 1, new string[0], "page.views:1|c")]
    [InlineData("heartbeat", 3, MetricKind.Count, 0.5, new[] { "app:TetherProcessPinger", "targetApp:kiosk" }, "heartbeat:3|c|@0.5|#app:TetherProcessPinger,targetApp:kiosk")]
    [InlineData("ping", 12.25, MetricKind.Gauge, 1, new[] { "debug" }, "ping:12.25|g|#debug")]
    [InlineData("fps", -0.001, MetricKind.Gauge, 1, new string[0], "fps:-0.001|g")]
    [InlineData("latency", 250, MetricKind.Histogram, 0.25, new string[0], "latency:250|h|@0.25")]
    [InlineData("huge", 1e21, MetricKind.Gauge, 1, new string[0], "huge:1E+21|g")]
    [InlineData("rate.above.one", 1, MetricKind.Count, 2, new string[0], "rate.above.one:1|c")]
    public void Metrics(string name, double value, MetricKind kind, double rate, string[] tags, string expected) =>
        Assert.Equal(expected, DogStatsDFormat.Metric(name, value, kind, rate, tags));

    [Fact]
    public void Characters_that_would_split_a_field_are_replaced()
    {
        Assert.Equal("a_b_c_d:1|c|#x_y_z,line_break,key:value", DogStatsDFormat.Metric("a|b:c@d", 1, MetricKind.Count, 1, ["x|y,z", "line\nbreak", "key:value"]));
    }

    [Fact]
    public void A_minimal_event()
    {
        Assert.Equal("_e{7,12}:timeout|no pong seen", DogStatsDFormat.Event(new DogStatsDEvent("timeout", "no pong seen"), []));
    }

    [Fact]
    public void Event_lengths_count_UTF8_bytes_of_the_escaped_text()
    {
        var e = new DogStatsDEvent("héllo ✓", "line one\nline|two\r\nthree");
        // "héllo ✓" is 10 bytes; the text escapes to "line one\\nline|two\\nthree", 25 bytes.
        Assert.Equal("_e{10,25}:héllo ✓|line one\\nline|two\\nthree", DogStatsDFormat.Event(e, []));
    }

    [Fact]
    public void An_event_with_every_field_in_order()
    {
        var e = new DogStatsDEvent("PM2 integration failure", "pm2 jlist failed")
        {
            Timestamp = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000),
            Hostname = "kiosk-1",
            AggregationKey = "pm2",
            Priority = EventPriority.Low,
            SourceType = "vigil",
            AlertType = EventAlertType.Error,
        };
        Assert.Equal("_e{23,16}:PM2 integration failure|pm2 jlist failed|d:1700000000|h:kiosk-1|k:pm2|p:low|s:vigil|t:error|#app:x,targetApp:y",
            DogStatsDFormat.Event(e, ["app:x", "targetApp:y"]));
    }

    [Fact]
    public void Service_checks()
    {
        Assert.Equal("_sc|redis.can_connect|0", DogStatsDFormat.ServiceCheck(new DogStatsDServiceCheck("redis.can_connect", ServiceCheckStatus.Ok), []));

        var check = new DogStatsDServiceCheck("vigil.unit|up", ServiceCheckStatus.Critical)
        {
            Timestamp = DateTimeOffset.FromUnixTimeSeconds(42),
            Hostname = "h1",
            Message = "worker#4121 hung:\nno pong; m:ore later",
        };
        Assert.Equal("_sc|vigil.unit_up|2|d:42|h:h1|#env:prod,unit:worker|m:worker#4121 hung:\\nno pong; m\\:ore later",
            DogStatsDFormat.ServiceCheck(check, ["env:prod", "unit:worker"]));
    }
}
