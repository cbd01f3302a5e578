using System.Collections.Concurrent;
using Vigil.Telemetry.DogStatsD;
using Xunit;

namespace Vigil.Tests.Telemetry;

public class DogStatsDWriterTests
{
    sealed class RecordingSink : IDogStatsDSink
    {
        public ConcurrentQueue<string> Datagrams { get; } = new();
        public void Send(string datagram) => Datagrams.Enqueue(datagram);
    }

    [Fact]
    public void Global_tags_come_first_on_everything()
    {
        var sink = new RecordingSink();
        var writer = new DogStatsDWriter(sink, ["app:TetherProcessPinger", "targetApp:kiosk"]);

        writer.Count("heartbeat");
        writer.Gauge("ping", 4.5, "extra");
        writer.Histogram("rtt", 7);
        writer.Event(new DogStatsDEvent("timeout", "late") { AlertType = EventAlertType.Error, Tags = ["x"] });
        writer.ServiceCheck(new DogStatsDServiceCheck("up", ServiceCheckStatus.Warning) { Message = "slow" });

        Assert.Equal(
        [
            "heartbeat:1|c|#app:TetherProcessPinger,targetApp:kiosk",
            "ping:4.5|g|#app:TetherProcessPinger,targetApp:kiosk,extra",
            "rtt:7|h|#app:TetherProcessPinger,targetApp:kiosk",
            "_e{7,4}:timeout|late|t:error|#app:TetherProcessPinger,targetApp:kiosk,x",
            "_sc|up|1|#app:TetherProcessPinger,targetApp:kiosk|m:slow",
        ], sink.Datagrams);
    }

    [Fact]
    public void A_sample_rate_sends_that_fraction_and_says_so()
    {
        var sink = new RecordingSink();
        var draws = new Queue<double>([0.7, 0.3, 0.49, 0.5]);
        var writer = new DogStatsDWriter(sink, random: draws.Dequeue);

        for (int i = 0; i < 4; i++) writer.Count("c", 1, sampleRate: 0.5);

        Assert.Equal(["c:1|c|@0.5", "c:1|c|@0.5"], sink.Datagrams);
        Assert.Empty(draws);
    }

    [Fact]
    public void Values_the_agent_cannot_parse_are_skipped_and_counted()
    {
        var sink = new RecordingSink();
        var writer = new DogStatsDWriter(sink);

        writer.Gauge("fps", double.NaN);
        writer.Histogram("rtt", double.PositiveInfinity);
        writer.Gauge("fps", 60);

        Assert.Equal(["fps:60|g"], sink.Datagrams);
        Assert.Equal(2, writer.Skipped);
    }

    [Theory]
    [InlineData(null, null, "localhost", 8125)]
    [InlineData("10.0.0.7", "9125", "10.0.0.7", 9125)]
    [InlineData("  ", "not-a-port", "localhost", 8125)]
    [InlineData("agent", "70000", "agent", 8125)]
    public void Options_follow_DD_AGENT_HOST_and_DD_DOGSTATSD_PORT(string? host, string? port, string expectedHost, int expectedPort)
    {
        var env = new Dictionary<string, string?> { ["DD_AGENT_HOST"] = host, ["DD_DOGSTATSD_PORT"] = port };
        var options = DogStatsDOptions.FromEnvironment(name => env.GetValueOrDefault(name));
        Assert.Equal(expectedHost, options.Host);
        Assert.Equal(expectedPort, options.Port);
    }
}
