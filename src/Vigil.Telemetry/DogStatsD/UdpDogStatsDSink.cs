using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Vigil.Telemetry.DogStatsD;

/// <summary>
/// Sends datagrams over UDP from one non-blocking socket. A send that fails (no route, agent host unresolvable, a full
/// socket buffer, a datagram too large) is counted in <see cref="Failed"/> with its reason in <see cref="LastError"/>;
/// nothing is retried or thrown, since metrics must never slow down or break what they measure. The host is resolved
/// once, when the sink is made; if that fails, every send counts as failed.
/// </summary>
public sealed class UdpDogStatsDSink : IDogStatsDSink, IDisposable
{
    private readonly Socket? _socket;
    private long _sent, _failed;
    private volatile string? _lastError;

    /// <summary>A sink for the agent at <paramref name="host"/>:<paramref name="port"/>.</summary>
    public UdpDogStatsDSink(string host, int port)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        try
        {
            var address = IPAddress.TryParse(host, out var ip) ? ip
                : Dns.GetHostAddresses(host).OrderBy(a => a.AddressFamily != AddressFamily.InterNetwork).First();
            _socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { Blocking = false };
            _socket.Connect(new IPEndPoint(address, port));
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException or ArgumentException)
        {
            _socket?.Dispose();
            _socket = null;
            _lastError = $"DogStatsD agent {host}:{port} unreachable: {e.Message}";
        }
    }

    /// <summary>A sink for the agent named by <see cref="DogStatsDOptions.FromEnvironment"/>-style options.</summary>
    public UdpDogStatsDSink(DogStatsDOptions options) : this(options.Host, options.Port) { }

    /// <summary>Datagrams handed to the kernel.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Datagrams that could not be sent.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Why the last send failed (or the host could not be resolved); null when nothing failed.</summary>
    public string? LastError => _lastError;

    /// <inheritdoc/>
    public void Send(string datagram)
    {
        try
        {
            if (_socket is null) { Interlocked.Increment(ref _failed); return; }
            var bytes = Encoding.UTF8.GetBytes(datagram);
            if (_socket.Send(bytes, SocketFlags.None, out var error) == bytes.Length && error == SocketError.Success)
            {
                Interlocked.Increment(ref _sent);
                return;
            }
            _lastError = $"DogStatsD send of {bytes.Length} bytes failed: {error}";
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _lastError = $"DogStatsD send failed: {e.Message}";
        }
        Interlocked.Increment(ref _failed);
    }

    /// <inheritdoc/>
    public void Dispose() => _socket?.Dispose();
}
