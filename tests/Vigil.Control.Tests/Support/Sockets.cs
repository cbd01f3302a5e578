using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Vigil.Control.Tests.Support;

public static partial class Sockets
{
    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int link(string oldPath, string newPath);

    /// <summary>Leaves a socket file at <paramref name="path"/> that nothing listens on, as a Vigil killed by SIGKILL does
    /// (a second name for a bound socket's file outlives .NET's clean-up of the first).</summary>
    public static string Stale(string path)
    {
        var bound = path + ".bound";
        using (var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            s.Bind(new UnixDomainSocketEndPoint(bound));
            s.Listen();
            if (link(bound, path) != 0) throw new IOException($"link {bound} {path}: errno {Marshal.GetLastPInvokeError()}");
        }
        File.Delete(bound);
        return path;
    }
}
