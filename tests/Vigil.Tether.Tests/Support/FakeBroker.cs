using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Vigil.Tether.Tests.Support;

/// <summary>A scripted "broker" on a loopback port: the test reads what the client sends and writes any bytes back.</summary>
public sealed class FakeBroker : IAsyncDisposable
{
    readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    readonly List<TcpClient> _accepted = [];

    public FakeBroker() => _listener.Start();

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Accepts the client's next connection (bounded by <see cref="Wait"/>).</summary>
    public async Task<FakeSession> AcceptAsync()
    {
        var client = await _listener.AcceptTcpClientAsync().WaitAsync(Wait);
        lock (_accepted) _accepted.Add(client);
        return new FakeSession(client);
    }

    /// <summary>Accepts a connection, reads its CONNECT and answers CONNACK accepted.</summary>
    public async Task<FakeSession> AcceptConnectedAsync()
    {
        var session = await AcceptAsync();
        var (header, _) = await session.ReadPacketAsync();
        Assert.Equal(0x10, header);
        await session.SendAsync(0x20, 0x02, 0x00, 0x00);
        return session;
    }

    public static TimeSpan Wait => ClientEvents.Wait;

    public ValueTask DisposeAsync()
    {
        _listener.Stop();
        lock (_accepted) foreach (var c in _accepted) c.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>One accepted connection of a <see cref="FakeBroker"/>.</summary>
public sealed class FakeSession(TcpClient client)
{
    readonly NetworkStream _stream = client.GetStream();

    public Task SendAsync(params byte[] bytes) => _stream.WriteAsync(bytes).AsTask().WaitAsync(FakeBroker.Wait);

    /// <summary>Reads one packet as the client framed it: first byte and body (test-side framing, no validation).</summary>
    public async Task<(byte Header, byte[] Body)> ReadPacketAsync()
    {
        var one = new byte[1];
        await _stream.ReadExactlyAsync(one).AsTask().WaitAsync(FakeBroker.Wait);
        byte header = one[0];
        int length = 0;
        for (int shift = 0; ; shift += 7)
        {
            await _stream.ReadExactlyAsync(one).AsTask().WaitAsync(FakeBroker.Wait);
            length |= (one[0] & 0x7F) << shift;
            if ((one[0] & 0x80) == 0) break;
        }
        var body = new byte[length];
        await _stream.ReadExactlyAsync(body).AsTask().WaitAsync(FakeBroker.Wait);
        return (header, body);
    }

    /// <summary>Reads one packet and asserts its first byte and body.</summary>
    public async Task ExpectAsync(byte header, params byte[] body)
    {
        var (h, b) = await ReadPacketAsync();
        Assert.Equal(header, h);
        Assert.Equal(body, b);
    }

    /// <summary>Completes when the client closes the connection (reads until end of stream).</summary>
    public async Task ClosedByClientAsync()
    {
        var buffer = new byte[256];
        while (await _stream.ReadAsync(buffer).AsTask().WaitAsync(FakeBroker.Wait) > 0) { }
    }

    public void Close() => client.Dispose();
}
