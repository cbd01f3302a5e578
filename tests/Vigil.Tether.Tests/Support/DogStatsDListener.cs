using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Vigil.Tether.Tests.Support;

/// <summary>A DogStatsD "agent" on a loopback UDP port: keeps every datagram and lets a test wait for one.</summary>
public sealed class DogStatsDListener : IDisposable
{
    readonly UdpClient _udp = new(new IPEndPoint(IPAddress.Loopback, 0));
    readonly List<string> _all = [];
    readonly SemaphoreSlim _changed = new(0);
    readonly CancellationTokenSource _stop = new();

    public DogStatsDListener() => _ = ReceiveAsync();

    public int Port => ((IPEndPoint)_udp.Client.LocalEndPoint!).Port;

    /// <summary>DD_AGENT_HOST and DD_DOGSTATSD_PORT pointing here.</summary>
    public Dictionary<string, string?> Environment => new() { ["DD_AGENT_HOST"] = "127.0.0.1", ["DD_DOGSTATSD_PORT"] = Port.ToString() };

    public IReadOnlyList<string> All { get { lock (_all) return [.. _all]; } }

    async Task ReceiveAsync()
    {
        try
        {
            while (true)
            {
                var r = await _udp.ReceiveAsync(_stop.Token);
                lock (_all) _all.Add(Encoding.UTF8.GetString(r.Buffer));
                _changed.Release();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { }
    }

    /// <summary>The <paramref name="count"/>th datagram matching <paramref name="match"/>, waiting up to <paramref name="timeout"/>.</summary>
    public async Task<string> WaitAsync(Func<string, bool> match, string what, TimeSpan timeout, int count = 1)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var hits = All.Where(match).ToList();
            if (hits.Count >= count) return hits[count - 1];
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"no {what} (x{count}) within {timeout}; datagrams:\n{string.Join('\n', All.TakeLast(30))}");
            await _changed.WaitAsync(left);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _udp.Dispose();
    }
}
