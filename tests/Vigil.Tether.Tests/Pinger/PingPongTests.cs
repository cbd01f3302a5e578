using System.Collections.Concurrent;
using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Tests.Support;
using Vigil.Tether.Agent;
using Vigil.Tether.Mqtt;
using Vigil.Tether.Pinger;
using Vigil.Tether.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Vigil.Tether.Tests.Pinger;

/// <summary>The ping/pong core and the kind: tether probe on a real mosquitto, with the npm tether-agent 3.2.1 as the target.</summary>
public class PingPongTests(ITestOutputHelper output)
{
    static readonly TimeSpan Wait = ClientEvents.Wait;

    internal static Task<Mosquitto> StartBrokerAsync() =>
        Mosquitto.StartAsync(new MosquittoSettings { Username = Username, Password = Password });

    internal static string Username => TetherDefaults.Username;
    internal static string Password => TetherDefaults.Password;

    /// <summary>A tether-target.cjs with role kiosk (or <c>--role R</c> first in <paramref name="options"/>: tether-agent 3.2
    /// uses the client id tether-ROLE, so two targets of one role knock each other off the broker).</summary>
    internal static async Task<NodeScript> StartTargetAsync(Mosquitto broker, string id, params string[] options)
    {
        string role = "kiosk";
        if (options is ["--role", var r, ..]) (role, options) = (r, options[2..]);
        var node = NodeScript.Start("tether-target.cjs", [broker.Host, broker.Port.ToString(), role, id, .. options]);
        await node.WaitForLineAsync("ready", Wait);
        return node;
    }

    static MqttClientOptions On(Mosquitto broker, TimeProvider? time = null) =>
        TetherDefaults.Broker with { Host = broker.Host, Port = broker.Port, TimeProvider = time ?? TimeProvider.System, ReconnectDelay = TimeSpan.FromMilliseconds(20) };

    [Fact]
    public async Task Pong_from_the_JS_agent_gives_the_round_trip_and_its_numeric_fields()
    {
        await using var broker = await StartBrokerAsync();
        await using var target = await StartTargetAsync(broker, "screen1", "--fields", """{"fps":60,"sessions":2,"name":"x","load":0.25}""");
        await using var hub = await PingHub.ConnectAsync(On(broker));
        var pinger = hub.CreatePinger("processPinger", "p1", null);
        Assert.Equal(("processPinger/p1/ping", "+/+/pong"), (pinger.PingTopic, pinger.PongFilter));
        await pinger.ListenAsync();

        var rtts = new List<double>();
        for (int i = 0; i < 20; i++)
        {
            var a = Assert.IsType<PingOutcome.Answered>(await pinger.PingAsync(TimeSpan.FromSeconds(5)));
            Assert.Equal(new TetherTopic("kiosk", "screen1", "pong"), a.Pong.From);
            Assert.Equal(new Dictionary<string, double> { ["fps"] = 60, ["sessions"] = 2, ["load"] = 0.25 }, a.Pong.Fields);
            Assert.Null(a.Pong.DecodeError);
            Assert.InRange(a.RoundTrip, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(5));
            rtts.Add(a.RoundTrip.TotalMilliseconds);
        }
        rtts.Sort();
        output.WriteLine($"ping→pong through mosquitto and tether-agent 3.2.1: median {rtts[10]:0.00} ms, max {rtts[^1]:0.00} ms over 20");
    }

    [Fact]
    public async Task Timeout_is_declared_when_the_timeout_has_passed_since_the_ping_not_later()
    {
        await using var broker = await StartBrokerAsync();
        var clock = new FakeTimeProvider();
        await using var hub = await PingHub.ConnectAsync(On(broker, clock) with { KeepAlive = TimeSpan.Zero });
        var pinger = hub.CreatePinger("processPinger", "p1", "nobody");
        await pinger.ListenAsync();
        var ping = pinger.PingAsync(TimeSpan.FromSeconds(5));
        await WaitUntil(() => clock.PendingTimers > 0, "the ping's timeout timer");
        clock.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.False(ping.IsCompleted);
        clock.Advance(TimeSpan.FromTicks(1));
        var timedOut = Assert.IsType<PingOutcome.TimedOut>(await ping.WaitAsync(Wait));
        Assert.Equal(TimeSpan.FromSeconds(5), timedOut.Timeout);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the probes' hub: subscribes +/+/pong once for every unit and tells pongs apart itself
    public async Task With_a_target_id_pongs_of_other_agents_do_not_count(bool subscribeToAllPongs)
    {
        await using var broker = await StartBrokerAsync();
        await using var other = await StartTargetAsync(broker, "screen2", "--role", "kiosk2", "--fields", """{"fps":30}""");
        await using var target = await StartTargetAsync(broker, "screen1", "--hang-after", "1");
        await using var hub = await PingHub.ConnectAsync(On(broker), subscribeToAllPongs);
        var pinger = hub.CreatePinger("processPinger", "p1", "screen1");
        Assert.Equal("+/screen1/pong", pinger.PongFilter);

        var a = Assert.IsType<PingOutcome.Answered>(await pinger.PingAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal("screen1", a.Pong.From.Id);
        await target.WaitForLineAsync("hanging", Wait);
        await other.WaitForLineAsync("pong 1", Wait);
        // screen1 is hung; screen2 still answers every ping, and must not keep screen1 looking alive.
        Assert.IsType<PingOutcome.TimedOut>(await pinger.PingAsync(TimeSpan.FromMilliseconds(700)));
        await other.WaitForLineAsync("pong 2", Wait);
        // Without a target id, any agent's pong counts.
        var any = hub.CreatePinger("processPinger", "p2", null);
        Assert.Equal("screen2", Assert.IsType<PingOutcome.Answered>(await any.PingAsync(TimeSpan.FromSeconds(5))).Pong.From.Id);
    }

    [Fact]
    public async Task A_malformed_pong_is_a_warning_and_counted_and_the_next_ping_still_works()
    {
        await using var broker = await StartBrokerAsync();
        await using var target = await StartTargetAsync(broker, "bad", "--raw", "82a3667073c1"); // map of 2, then 0xC1 (never used)
        await using var hub = await PingHub.ConnectAsync(On(broker));
        var warnings = new ConcurrentQueue<string>();
        hub.Warning += warnings.Enqueue;
        var pinger = hub.CreatePinger("processPinger", "p1", null);
        for (int i = 1; i <= 2; i++)
        {
            var a = Assert.IsType<PingOutcome.Answered>(await pinger.PingAsync(TimeSpan.FromSeconds(5)));
            Assert.Empty(a.Pong.Fields);
            Assert.StartsWith("malformed MessagePack in the pong from kiosk/bad (6 bytes): ", a.Pong.DecodeError);
            Assert.Equal(i, hub.MalformedPongs);
        }
        Assert.Equal(2, warnings.Count(w => w.Contains("malformed MessagePack")));
    }

    [Fact]
    public async Task Broker_loss_is_offline_not_a_timeout_and_pings_resume_after_the_reconnect()
    {
        await using var broker = await StartBrokerAsync();
        await using var target = await StartTargetAsync(broker, "screen1");
        await using var hub = await PingHub.ConnectAsync(On(broker));
        var events = new ClientEvents(hub.Client);
        var pinger = hub.CreatePinger("processPinger", "p1", "screen1");
        Assert.IsType<PingOutcome.Answered>(await pinger.PingAsync(TimeSpan.FromSeconds(5)));

        await broker.StopAsync();
        await events.NextAsync(MqttEventKind.Disconnected);
        var offline = Assert.IsType<PingOutcome.Offline>(await pinger.PingAsync(TimeSpan.FromSeconds(1)));
        Assert.Contains($"not connected to broker {broker.Host}:{broker.Port}", offline.Reason);

        var restarted = System.Diagnostics.Stopwatch.StartNew();
        await broker.StartAsync();
        await events.NextAsync(MqttEventKind.Connected);
        Assert.True(hub.ConnectedFor <= restarted.Elapsed, "ConnectedFor must count from the reconnect, not the first connect");
        // The JS agent reconnects on its own schedule (mqtt.js: 1 s); until then pings go unanswered.
        PingOutcome outcome;
        var deadline = DateTime.UtcNow + Wait;
        do outcome = await pinger.PingAsync(TimeSpan.FromMilliseconds(500));
        while (outcome is not PingOutcome.Answered && DateTime.UtcNow < deadline);
        Assert.IsType<PingOutcome.Answered>(outcome);
    }

    // The tether probe spawns nothing: one launcher (one reactor thread) serves every test of the class.
    private static readonly OsLauncher NoSpawns = new(subreaper: false);

    static ProbeTarget Target(ProbeSpec spec) => new()
    {
        UnitName = "kiosk", Pid = Environment.ProcessId, Session = 0, Spec = spec, Time = TimeProvider.System,
        StartedAt = TimeProvider.System.GetTimestamp(), WorkingDirectory = "/", LastOutputAt = () => null, Launcher = NoSpawns,
    };

    [Fact]
    public async Task Tether_probe_is_healthy_with_gauges_then_hung_with_the_reason()
    {
        await using var broker = await StartBrokerAsync();
        await using var target = await StartTargetAsync(broker, "worker1", "--hang-after", "2");
        await using var probes = new TetherProbes(new TetherSettings { Host = broker.Host, Port = broker.Port });
        var spec = new ProbeSpec(new TetherCheck("worker1")) { Timeout = TimeSpan.FromSeconds(1) };
        await using var probe = probes.Create(spec, "kiosk/1", new Dictionary<string, string>())!;
        Assert.Null(probes.Create(new ProbeSpec(new OutputStallCheck()), "kiosk", new Dictionary<string, string>()));

        for (int i = 0; i < 2; i++)
        {
            var ok = await probe.CheckAsync(Target(spec), CancellationToken.None);
            Assert.True(ok.Healthy, ok.Detail);
            Assert.Matches(@"^pong in \d+\.\dms$", ok.Detail);
            Assert.Equal((60, 2), (ok.Gauges!["fps"], ok.Gauges["sessions"]));
            Assert.InRange(ok.Gauges["ping_ms"], 0.001, 1000);
        }
        await target.WaitForLineAsync("hanging", Wait);
        var hung = await probe.CheckAsync(Target(spec), CancellationToken.None);
        Assert.Equal(ProbeResult.Fail("hung: no pong within 1s (agent worker1)"), hung);
        // The runner cancels at the deadline: the same verdict, not an exception.
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        Assert.Equal("hung: no pong within 1s (agent worker1)", (await probe.CheckAsync(Target(spec), cancel.Token)).Detail);
        Assert.Equal("kiosk_1", TetherProbes.PingerId("kiosk/1"));
    }

    [Fact]
    public async Task Tether_probe_fails_with_the_reason_when_the_broker_is_unreachable_and_recovers_when_it_is_back()
    {
        var broker = await StartBrokerAsync();
        int port = broker.Port;
        await broker.StopAsync();
        await using var probes = new TetherProbes(new TetherSettings { Host = "127.0.0.1", Port = port });
        var spec = new ProbeSpec(new TetherCheck(null)) { Timeout = TimeSpan.FromSeconds(2) };
        await using var probe = probes.Create(spec, "kiosk", new Dictionary<string, string>())!;
        var r = await probe.CheckAsync(Target(spec), CancellationToken.None);
        Assert.False(r.Healthy);
        Assert.True(r.IsInconclusive); // the broker is away, not the target: the runner does not count it
        Assert.StartsWith($"tether broker unreachable: cannot connect to broker 127.0.0.1:{port}", r.Detail);

        await using (broker)
        {
            await broker.StartAsync();
            await using var target = await StartTargetAsync(broker, "any1");
            var ok = await probe.CheckAsync(Target(spec), CancellationToken.None);
            Assert.True(ok.Healthy, ok.Detail);
        }
    }

    [Fact]
    public async Task Tether_probe_is_inconclusive_with_the_reason_when_the_broker_refuses_the_pong_subscription()
    {
        await using var broker = await Mosquitto.StartAsync(new MosquittoSettings { Username = Username, Password = Password, DenySubscribe = ["+/+/pong"] });
        await using var probes = new TetherProbes(new TetherSettings { Host = broker.Host, Port = broker.Port });
        var spec = new ProbeSpec(new TetherCheck("worker1")) { Timeout = TimeSpan.FromSeconds(2) };
        await using var probe = probes.Create(spec, "kiosk", new Dictionary<string, string>())!;
        for (int i = 0; i < 2; i++) // asked again at every check, not remembered as subscribed
        {
            var r = await probe.CheckAsync(Target(spec), CancellationToken.None);
            Assert.Equal(ProbeResult.Inconclusive($"the broker refused the subscription to +/+/pong (ACL?): SUBACK 0x80 from {broker.Host}:{broker.Port}"), r);
        }
    }

    [Fact]
    public async Task After_the_broker_comes_back_a_missing_pong_is_inconclusive_for_the_grace_then_a_failure()
    {
        await using var broker = await StartBrokerAsync();
        var clock = new FakeTimeProvider();
        await using var probes = new TetherProbes(new TetherSettings { Host = broker.Host, Port = broker.Port }, clock);
        var spec = new ProbeSpec(new TetherCheck("nobody") { Grace = TimeSpan.FromSeconds(10) }) { Timeout = TimeSpan.FromSeconds(1) };
        await using var probe = probes.Create(spec, "kiosk", new Dictionary<string, string>())!;
        var hub = await probes.HubAsync(CancellationToken.None);
        var events = new ClientEvents(hub.Client);

        // Runs one check whose pong never comes: the ping's 1 s wait is the next timer once the ping is out.
        async Task<ProbeResult> CheckAsync()
        {
            var check = probe.CheckAsync(Target(spec), CancellationToken.None).AsTask();
            await WaitUntil(() => clock.UntilNextTimer == TimeSpan.FromSeconds(1), "the ping's timeout timer");
            clock.Advance(TimeSpan.FromSeconds(1));
            return await check.WaitAsync(Wait);
        }

        // The first connection: no grace (the unit's initialDelay is the grace of a start).
        Assert.Equal(ProbeResult.Fail("hung: no pong within 1s (agent nobody)"), await CheckAsync());

        await broker.StopAsync();
        await events.NextAsync(MqttEventKind.Disconnected);
        await broker.StartAsync();
        await WaitUntil(() => clock.UntilNextTimer is not null && clock.UntilNextTimer < TimeSpan.FromSeconds(1), "the reconnect backoff");
        clock.Advance(clock.UntilNextTimer!.Value);
        await events.NextAsync(MqttEventKind.Connected);

        var within = await CheckAsync();
        Assert.True(within.IsInconclusive, within.Detail);
        Assert.Equal("no pong within 1s (agent nobody) 0.0ms after the broker connection came back; not counted within the grace of 10s", within.Detail);
        clock.Advance(TimeSpan.FromSeconds(9)); // the next ping goes out 10 s after the reconnect: the grace is over
        Assert.Equal(ProbeResult.Fail("hung: no pong within 1s (agent nobody)"), await CheckAsync());
    }

    static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"never: {what}");
            await Task.Yield();
        }
    }
}
