using System.Text.Json;
using Vigil.Hooks;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tether.Mqtt;
using Vigil.Tether.Pinger;
using Vigil.Tether.Tests.Support;
using Xunit;
using static Vigil.Tether.Tests.Support.MqttTestExtensions;

namespace Vigil.Tether.Tests.Hooks;

/// <summary>Integration: <c>mqtt:</c> hooks publish the event JSON through the tether: connection to a real mosquitto,
/// where a subscriber receives it; with no broker to reach the hook fails as a hook-failed event.</summary>
public sealed class MqttHookTests
{
    static HookSet On(string kind, HookAction hook) => new() { Bindings = [new(kind, [hook])] };

    static ProcessSpec Crasher(string name) => new()
    {
        Name = name,
        Command = ["sh", "-c", "exit 3"],
        Restart = RestartSpec.Default with { Policy = RestartPolicyKind.Never },
    };

    [Fact]
    public async Task The_event_json_reaches_a_subscriber_of_the_hooks_topic()
    {
        await using var broker = await Mosquitto.StartAsync();
        await using var sub = new MqttClient(Local(broker.Port, "hook-sub"));
        await sub.ConnectAsync().WaitAsync(ClientEvents.Wait);
        await sub.SubscribeAsync("site/vigil/#").WaitAsync(ClientEvents.Wait);

        await using var tether = new TetherProbes(new TetherSettings { Host = "127.0.0.1", Port = broker.Port });
        await using var sup = new Supervisor();
        await using var runner = new HookRunner(sup, new HookRunnerOptions
        {
            Hooks = On("exited", new MqttHook("site/vigil/events")),
            Publisher = new TetherHookPublisher(tether),
        });
        var unit = sup.Start(Crasher("mqtt-crasher"));

        var message = await sub.Messages.NextAsync();
        Assert.Equal("site/vigil/events", message.Topic);
        var json = JsonDocument.Parse(message.Payload).RootElement;
        Assert.Equal("exited", json.GetProperty("event").GetString());
        Assert.Equal("mqtt-crasher", json.GetProperty("unit").GetString());
        Assert.Equal(unit.Id, json.GetProperty("unitId").GetInt32());
        Assert.StartsWith("exited with code 3 after ", json.GetProperty("reason").GetString());
        Assert.Equal(0, json.GetProperty("suppressed").GetInt32());
        Assert.Equal(MqttQos.AtLeastOnce, message.Qos);
        Assert.True(SpinWait.SpinUntil(() => runner.Runs == 1, ClientEvents.Wait));
        Assert.Equal(0, runner.Failures);
    }

    [Fact]
    public async Task With_no_broker_to_reach_the_hook_is_hook_failed()
    {
        int nobody;
        using (var s = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0)) { s.Start(); nobody = ((System.Net.IPEndPoint)s.LocalEndpoint).Port; }
        await using var tether = new TetherProbes(new TetherSettings { Host = "127.0.0.1", Port = nobody });
        await using var sup = new Supervisor();
        var failed = new TaskCompletionSource<HookFailed>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var _ = sup.Subscribe(e => { if (e is HookFailed f) failed.TrySetResult(f); });
        await using var runner = new HookRunner(sup, new HookRunnerOptions
        {
            Hooks = On("exited", new MqttHook("site/vigil/events") { Timeout = TimeSpan.FromSeconds(20) }),
            Publisher = new TetherHookPublisher(tether),
        });
        sup.Start(Crasher("offline"));

        var f = await failed.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("mqtt site/vigil/events", f.Hook);
        Assert.StartsWith("MQTT broker unreachable: ", f.Why);
        Assert.Contains($"127.0.0.1:{nobody}", f.Why);
    }
}
