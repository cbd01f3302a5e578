using System.Net.Sockets;
using Vigil.Specs;

namespace Vigil.Health;

/// <summary><c>tcp</c>: a connection to host:port is accepted (by the kernel: the listen backlog) within the deadline.
/// The connection is closed at once; nothing is sent.</summary>
internal sealed class TcpProbe(TcpCheck check) : IProbe
{
    public async ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
    {
        string endpoint = check.Host.Contains(':') ? $"[{check.Host}]:{check.Port}" : $"{check.Host}:{check.Port}";
        try
        {
            // Dual mode: a name or address of either family; the host's addresses are tried in turn.
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(check.Host, check.Port, cancel).ConfigureAwait(false);
            return ProbeResult.Ok($"connected to {endpoint}");
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return ProbeResult.Fail($"no connection to {endpoint} within {Durations.Format(target.Spec.CheckDeadline)}");
        }
        catch (SocketException e)
        {
            return ProbeResult.Fail(e.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => $"connection refused to {endpoint}",
                SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => $"cannot resolve {check.Host} ({endpoint})",
                SocketError.TimedOut => $"no connection to {endpoint}: timed out",
                SocketError.NetworkUnreachable or SocketError.HostUnreachable => $"{endpoint} is unreachable",
                _ => $"cannot connect to {endpoint}: {e.Message}",
            });
        }
        catch (Exception e)
        {
            return ProbeResult.Fail($"cannot connect to {endpoint}: {e.Message}");
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
