using System.Net;
using System.Net.Sockets;

namespace Vigil.Tests.Support;

/// <summary>Loopback ports for servers a test starts or points a probe at.</summary>
public static class Ports
{
    /// <summary>A port on 127.0.0.1 that nothing listens on right now (the kernel's pick, released at once).</summary>
    public static int Free()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
