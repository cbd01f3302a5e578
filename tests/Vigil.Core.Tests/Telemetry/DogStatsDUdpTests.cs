using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Vigil.Telemetry.DogStatsD;
using Xunit;

namespace Vigil.Tests.Telemetry;

/// <summary>Through a real UDP socket on loopback to a listener standing in for the agent.</summary>
public sealed class DogStatsDUdpTests : IDisposable
{
    readonly UdpClient _agent = new(new IPEndPoint(IPAddress.Loopback, 0));
    int Port => ((IPEndPoint)_agent.Client.LocalEndPoint!).Port;

    public void Dispose() => _agent.Dispose();

    async Task<string> ReceiveAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var result = await _agent.ReceiveAsync(cts.Token);
        return Encoding.UTF8.GetString(result.Buffer);
    }

    [Fact]
    public async Task The_agent_receives_each_datagram_exactly()
    {
        using var sink = new UdpDogStatsDSink("127.0.0.1", Port);
        var writer = new DogStatsDWriter(sink, ["app:TetherProcessPinger"]);

        writer.Count("heartbeat", tags: "targetApp:kiosk");
        writer.Gauge("ping", 3.25, "targetApp:kiosk");
        writer.Histogram("rtt", 12, 1, "a|b", "c,d");
        writer.Event(new DogStatsDEvent("timeout", "no pong\nfor 5000 ms ✓") { AlertType = EventAlertType.Error, Tags = ["targetApp:kiosk"] });
        writer.ServiceCheck(new DogStatsDServiceCheck("vigil.up", ServiceCheckStatus.Critical) { Message = "m:x\ny" });

        Assert.Equal("heartbeat:1|c|#app:TetherProcessPinger,targetApp:kiosk", await ReceiveAsync());
        Assert.Equal("ping:3.25|g|#app:TetherProcessPinger,targetApp:kiosk", await ReceiveAsync());
        Assert.Equal("rtt:12|h|#app:TetherProcessPinger,a_b,c_d", await ReceiveAsync());
        Assert.Equal("_e{7,24}:timeout|no pong\\nfor 5000 ms ✓|t:error|#app:TetherProcessPinger,targetApp:kiosk", await ReceiveAsync());
        Assert.Equal("_sc|vigil.up|2|#app:TetherProcessPinger|m:m\\:x\\ny", await ReceiveAsync());
        Assert.Equal(5, sink.Sent);
        Assert.Equal(0, sink.Failed);
        Assert.Null(sink.LastError);
    }

    [Fact]
    public async Task Localhost_from_the_environment_defaults_reaches_a_loopback_agent()
    {
        var options = DogStatsDOptions.FromEnvironment(name => name == "DD_DOGSTATSD_PORT" ? Port.ToString() : null) with { GlobalTags = ["g"] };
        Assert.Equal("localhost", options.Host);
        var writer = new DogStatsDWriter(options);

        writer.Count("restartProcess");

        Assert.Equal("restartProcess:1|c|#g", await ReceiveAsync());
        Assert.Equal(1, ((UdpDogStatsDSink)writer.Sink).Sent);
    }

    [Fact]
    public void Sends_to_a_closed_port_are_counted_not_thrown()
    {
        int closedPort;
        using (var gone = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0))) closedPort = ((IPEndPoint)gone.Client.LocalEndPoint!).Port;
        using var sink = new UdpDogStatsDSink("127.0.0.1", closedPort);

        // Linux reports the ICMP "port unreachable" of one datagram on a later send of the connected socket.
        var clock = Stopwatch.StartNew();
        while (sink.Failed == 0 && clock.Elapsed < TimeSpan.FromSeconds(10)) sink.Send("x:1|c");

        Assert.True(sink.Failed > 0, "no send failed within 10 s");
        Assert.Contains("ConnectionRefused", sink.LastError);
    }

    [Fact]
    public void A_datagram_larger_than_UDP_allows_is_counted_not_thrown()
    {
        using var sink = new UdpDogStatsDSink("127.0.0.1", Port);
        sink.Send("big:1|c|#" + new string('t', 70_000));
        Assert.Equal(1, sink.Failed);
        Assert.Equal(0, sink.Sent);
        Assert.NotNull(sink.LastError);
    }
}
