using System.Collections.Immutable;
using System.Threading.Channels;
using Vigil.Tether.Mqtt;

namespace Vigil.Tether.Agent;

/// <summary>
/// A Tether agent: one MQTT connection with a role and an id, output plugs that publish on <c>role/id/plug</c> and
/// input plugs that receive what matches their topic (the JS agent's rules, <see cref="TetherTopic.PlugMatches"/>).
/// Payloads are raw bytes (MessagePack by convention; an empty payload is zero bytes).
/// </summary>
public sealed class TetherAgent : IAsyncDisposable
{
    ImmutableList<InputPlug> _inputs = [];
    readonly Task _dispatch;

    TetherAgent(string role, string id, MqttClient client)
    {
        Role = role;
        Id = id;
        Client = client;
        _dispatch = DispatchAsync();
    }

    /// <summary>The agent's role (first topic part).</summary>
    public string Role { get; }

    /// <summary>The agent's id (second topic part of its outputs).</summary>
    public string Id { get; }

    /// <summary>The MQTT client, for topics outside the plug conventions and for connection events.</summary>
    public MqttClient Client { get; }

    /// <summary>
    /// Creates an agent and connects it. Unlike the JS agent, which logs a failed connect and returns a dead
    /// agent, this throws the connect error (<see cref="MqttException"/>).
    /// </summary>
    public static async Task<TetherAgent> CreateAsync(string role, TetherAgentOptions? options = null, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(role) || role.AsSpan().IndexOfAny("/+#") >= 0)
            throw new ArgumentException($"a Tether role must be non-empty without '/', '+' or '#': '{role}'", nameof(role));
        options ??= new TetherAgentOptions();
        var broker = options.Broker.ClientId.Length > 0 ? options.Broker : options.Broker with { ClientId = TetherDefaults.ClientId(role) };
        var client = new MqttClient(broker);
        try { await client.ConnectAsync(ct); }
        catch { await client.DisposeAsync(); throw; }
        return new TetherAgent(role, string.IsNullOrEmpty(options.Id) ? TetherTopic.DefaultId : options.Id, client);
    }

    /// <summary>An output plug on <c>role/id/name</c> (this agent's id unless <paramref name="id"/> is given); QoS 1, retain false like JS v3.</summary>
    public OutputPlug CreateOutput(string name, string? id = null, MqttQos qos = MqttQos.AtLeastOnce, bool retain = false) =>
        new(this, CheckName(name), TetherTopic.Output(Role, id ?? Id, name).ToString(), qos, retain);

    /// <summary>
    /// An input plug on <c>+/+/name</c>, or with <paramref name="role"/> and/or <paramref name="id"/> filled in, or
    /// on <paramref name="overrideTopic"/>; subscribed at QoS 1 before this returns.
    /// </summary>
    public async Task<InputPlug> CreateInputAsync(string name, string? role = null, string? id = null, string? overrideTopic = null, CancellationToken ct = default)
    {
        var plug = new InputPlug(CheckName(name), overrideTopic ?? TetherTopic.Input(name, role, id).ToString());
        ImmutableInterlocked.Update(ref _inputs, list => list.Add(plug)); // before subscribing: retained messages come at once
        try { await Client.SubscribeAsync(plug.Topic, MqttQos.AtLeastOnce, ct); }
        catch
        {
            ImmutableInterlocked.Update(ref _inputs, list => list.Remove(plug));
            throw;
        }
        return plug;
    }

    /// <summary>Disconnects and completes every input plug's <see cref="InputPlug.Messages"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync(); // completes Client.Messages, which ends the dispatch loop
        await _dispatch;
    }

    /// <summary>Hands each message to every input plug it matches (as the JS agent, a message may reach several plugs).</summary>
    async Task DispatchAsync()
    {
        await foreach (var message in Client.Messages.ReadAllAsync())
            foreach (var plug in Volatile.Read(ref _inputs))
                if (TetherTopic.PlugMatches(plug.Topic, message.Topic))
                    plug.Deliver(message);
        foreach (var plug in Volatile.Read(ref _inputs)) plug.Complete();
    }

    static string CheckName(string name) =>
        string.IsNullOrEmpty(name) || name.AsSpan().IndexOfAny("/+#") >= 0
            ? throw new ArgumentException($"a plug name must be non-empty without '/', '+' or '#': '{name}'", nameof(name))
            : name;
}

/// <summary>Publishes on one Tether topic.</summary>
public sealed class OutputPlug
{
    readonly TetherAgent _agent;
    readonly MqttQos _qos;
    readonly bool _retain;

    internal OutputPlug(TetherAgent agent, string name, string topic, MqttQos qos, bool retain)
    {
        (_agent, Name, Topic, _qos, _retain) = (agent, name, topic, qos, retain);
    }

    public string Name { get; }

    /// <summary>The full topic, e.g. <c>processPinger/any/ping</c>.</summary>
    public string Topic { get; }

    /// <summary>Publishes a payload (empty by default); at QoS 1 completes on PUBACK (see <see cref="MqttClient.PublishAsync"/>).</summary>
    public Task PublishAsync(ReadOnlyMemory<byte> payload = default, CancellationToken ct = default) =>
        _agent.Client.PublishAsync(Topic, payload, _qos, _retain, ct);
}

/// <summary>Receives the messages whose topic matches its own (see <see cref="TetherTopic.PlugMatches"/>).</summary>
public sealed class InputPlug
{
    readonly Channel<MqttMessage> _messages = Channel.CreateUnbounded<MqttMessage>(new() { SingleWriter = true });

    internal InputPlug(string name, string topic) => (Name, Topic) = (name, topic);

    public string Name { get; }

    /// <summary>The subscribed topic, e.g. <c>+/+/pong</c>.</summary>
    public string Topic { get; }

    /// <summary>Matching messages in arrival order; completes when the agent is disposed.</summary>
    public ChannelReader<MqttMessage> Messages => _messages.Reader;

    internal void Deliver(MqttMessage message) => _messages.Writer.TryWrite(message);

    internal void Complete() => _messages.Writer.TryComplete();
}
