using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Vigil.Control;

// Overview
// --------
// The control socket: JSON lines over a Unix stream socket (docs/control-protocol.md), served from any
// IVigilControl (vigil run serves a LocalControl). One task accepts; each admitted connection has a task of its own,
// so nothing one client does (say nothing, send half a line and stall, never read its replies, follow a flood and
// read slowly) can hold the others, the accept loop or the units:
// - a peer that is not Vigil's uid or root (SO_PEERCRED) gets one refusal line and is closed; so is one over the
//   connection limit;
// - a connection with no request begun is closed after IdleTimeout, a begun request must end within RequestTimeout,
//   and a reply (or streamed line) that cannot be written within WriteTimeout closes the connection;
// - a request line over 1 MiB is answered with too-large and the connection closed (there is no resync point);
// - a follow stream reads from a bounded queue: a follower that falls behind loses lines, and is told how many.
// Requests on one connection are answered in turn; a streaming request (logs/events with follow) takes the
// connection over until either side closes it.

/// <summary>Limits and clock of a <see cref="ControlServer"/>; the defaults are what <c>vigil run</c> uses.</summary>
public sealed record ControlServerOptions
{
    /// <summary>Open connections at most; one more gets a <see cref="ControlErrors.Busy"/> line and is closed.</summary>
    public int MaxConnections { get; init; } = 64;
    /// <summary>A connection with no request begun for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>A request line begun must end (its newline) within this.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>A reply or streamed line not taken by the client within this closes the connection.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeProvider Time { get; init; } = TimeProvider.System;
    /// <summary>Where internal errors of the server are reported (the vigil executable: stderr or its log file); nowhere by default.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;
}

/// <summary>Serves a <see cref="IVigilControl"/> on a Unix socket (mode 0600 in a 0700 folder of ours; peers checked
/// by SO_PEERCRED: Vigil's uid or root only).</summary>
public sealed partial class ControlServer : IAsyncDisposable
{
    private readonly IVigilControl _target;
    private readonly Socket _listener;
    private readonly Native.FileId _socketId;
    private readonly Action<string>? _onRefused;
    private readonly ControlServerOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<int, Task> _connections = new();
    private readonly uint _euid = Native.geteuid();
    private readonly Task _accepting;
    private int _nextConnection, _open, _disposed;

    private ControlServer(IVigilControl target, string path, Socket listener, Native.FileId id, Action<string>? onRefused, ControlServerOptions options)
    {
        _target = target;
        SocketPath = path;
        _listener = listener;
        _socketId = id;
        _onRefused = onRefused;
        _options = options;
        _accepting = Task.Run(AcceptLoopAsync);
    }

    /// <summary>The absolute path of the socket.</summary>
    public string SocketPath { get; }

    /// <summary>Connections being served now.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Binds the socket and starts accepting. Throws <see cref="ControlException"/> (code
    /// <see cref="ControlErrors.Refused"/>) when the path is unusable or another Vigil answers on it.
    /// <paramref name="onRefused"/> is told of each refused peer (for the event).</summary>
    public static ControlServer Start(IVigilControl target, string socketPath, Action<string>? onRefused = null) =>
        Start(target, socketPath, onRefused, new ControlServerOptions());

    /// <inheritdoc cref="Start(IVigilControl, string, Action{string}?)"/>
    public static ControlServer Start(IVigilControl target, string socketPath, Action<string>? onRefused, ControlServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentNullException.ThrowIfNull(options);
        var path = Path.GetFullPath(socketPath);
        var (listener, id) = SocketFile.Bind(path, options.Time);
        return new ControlServer(target, path, listener, id, onRefused, options);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException)
            {
                // Out of descriptors (EMFILE) or a connection reset before it was accepted: the listener is fine; pause
                // so a descriptor shortage does not spin this loop.
                try { await Task.Delay(TimeSpan.FromMilliseconds(100), _options.Time, _stop.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                continue;
            }
            Admit(client);
        }
    }

    /// <summary>Checks the peer and the limit (on the accept loop: quick, never waits for the client), then serves the
    /// connection on a task of its own.</summary>
    private void Admit(Socket client)
    {
        var peer = Native.PeerCredentials(client);
        if (peer is not { } cred || (cred.Uid != _euid && cred.Uid != 0))
        {
            var message = peer is { } c
                ? string.Create(CultureInfo.InvariantCulture, $"uid {c.Uid} (pid {c.Pid}) may not control this vigil: only uid {_euid} and root may")
                : "a client whose credentials the kernel would not give (SO_PEERCRED) was refused";
            Reject(client, ControlErrors.Refused, message);
            try { _onRefused?.Invoke(message); }
            catch (Exception e) { ControlLog.RefusalReportFailed(_options.Logger, e.Message, e); }
            return;
        }
        if (Interlocked.Increment(ref _open) > _options.MaxConnections)
        {
            Interlocked.Decrement(ref _open);
            Reject(client, ControlErrors.Busy, $"too many control connections (at most {_options.MaxConnections}); try again when some have closed");
            return;
        }
        int number = Interlocked.Increment(ref _nextConnection);
        var connection = new Connection(this, client, cred);
        _connections[number] = Task.Run(async () =>
        {
            try { await connection.RunAsync().ConfigureAwait(false); }
            finally
            {
                Interlocked.Decrement(ref _open);
                _connections.TryRemove(number, out _);
            }
        });
    }

    /// <summary>One error line, without waiting (the socket buffer of a new connection is empty), then close.</summary>
    private static void Reject(Socket client, string code, string message)
    {
        try
        {
            client.Blocking = false;
            client.Send(ControlProtocol.ErrorLine(null, new WireError { Code = code, Message = message }));
        }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        client.Dispose();
    }

    /// <summary>Stops accepting, ends every connection (a stream gets its end line), and removes the socket file if it
    /// is still the one this server made.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // The file goes first: a client that sees its connection close (vigil shutdown) then finds no socket, never a
        // dead one, and nobody new connects by the path meanwhile.
        SocketFile.Remove(SocketPath, _socketId);
        _stop.Cancel();
        _listener.Dispose();
        try { await _accepting.ConfigureAwait(false); }
        catch (Exception) { }
        // Each connection ends on the cancellation (a stream after writing its end line, itself bounded).
        try { await Task.WhenAll(_connections.Values).WaitAsync(TimeSpan.FromSeconds(5), _options.Time).ConfigureAwait(false); }
        catch (Exception) { }
    }
}
