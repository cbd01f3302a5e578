using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Vigil.Client;

/// <summary>Why the stopping hook ran.</summary>
public enum StopReason
{
    /// <summary>Vigil's (elife's) <c>{"stopping":true}</c> on the Node IPC channel (a unit with <c>ipc: true</c>).</summary>
    Message,
    /// <summary>SIGTERM (Vigil's stop signal by default, systemd's, a container runtime's).</summary>
    Signal,
}

/// <summary>
/// What a supervised .NET app can do for Vigil: a stopping hook (<see cref="OnStopping(Func{StopReason, Task})"/>),
/// readiness and a watchdog over sd_notify (<see cref="Ready"/>, <see cref="Watchdog"/>). The Tether pong and the COPS
/// responder are <see cref="TetherPongResponder"/> and <see cref="CopsResponder"/>.
/// </summary>
public static class VigilClient
{
    private static readonly object Gate = new();
    private static readonly List<Func<StopReason, Task>> Handlers = [];
    private static readonly CancellationTokenSource StoppingSource = new();
    private static PosixSignalRegistration? _term;
    private static int _fired;

    /// <summary>Cancelled when the app is asked to stop (before the handlers run): pass it to the app's loops.</summary>
    public static CancellationToken Stopping
    {
        get { Arm(); return StoppingSource.Token; }
    }

    /// <summary>Exit (code 0) once every stopping handler has run; true by default. An app that ends by itself when
    /// <see cref="Stopping"/> is cancelled (a generic host) sets it to false.</summary>
    public static bool ExitAfterStopping { get; set; } = true;

    /// <summary>Runs <paramref name="handler"/> once when the app is asked to stop: the stopping message on the IPC channel
    /// Vigil gives a unit with <c>ipc: true</c>, or SIGTERM, whichever comes first. Handlers run in the order registered,
    /// each awaited; then the app exits 0 (<see cref="ExitAfterStopping"/>). Vigil escalates (stop signal, then SIGKILL)
    /// if they take longer than the unit's <c>stop.timeout</c>. Dispose the result to remove the handler.</summary>
    public static IDisposable OnStopping(Func<StopReason, Task> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (Gate) Handlers.Add(handler);
        Arm();
        return new Removal(handler);
    }

    /// <summary>As <see cref="OnStopping(Func{StopReason, Task})"/>, for a handler that does not wait.</summary>
    public static IDisposable OnStopping(Action<StopReason> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return OnStopping(why => { handler(why); return Task.CompletedTask; });
    }

    private sealed class Removal(Func<StopReason, Task> handler) : IDisposable
    {
        public void Dispose()
        {
            lock (Gate) Handlers.Remove(handler);
        }
    }

    private static void Arm()
    {
        lock (Gate)
        {
            if (_term is not null) return;
            _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true; // the handlers decide when the app ends, not the runtime's default
                Fire(StopReason.Signal);
            });
            StoppingChannel.Listen(() => Fire(StopReason.Message));
        }
    }

    private static void Fire(StopReason why)
    {
        if (Interlocked.Exchange(ref _fired, 1) != 0) return;
        _ = Task.Run(async () =>
        {
            try { await StoppingSource.CancelAsync().ConfigureAwait(false); }
            catch (AggregateException e) { Console.Error.WriteLine("Vigil.Client: a Stopping callback failed: " + e.InnerException?.Message); }
            Func<StopReason, Task>[] handlers;
            lock (Gate) handlers = [.. Handlers];
            foreach (var h in handlers)
            {
                try { await h(why).ConfigureAwait(false); }
                catch (Exception e) { Console.Error.WriteLine("Vigil.Client: an OnStopping handler failed: " + e); }
            }
            if (ExitAfterStopping) Environment.Exit(0);
        });
    }

    /// <summary>Sends sd_notify state lines (<c>READY=1</c>, <c>STATUS=…</c>, <c>WATCHDOG=1</c>) to <c>NOTIFY_SOCKET</c>,
    /// as <c>sd_notify(3)</c>: one datagram. False when there is no socket or the send failed (never throws).</summary>
    public static bool Notify(string state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path)) return false;
        if (path[0] == '@') path = "\0" + path[1..]; // an abstract socket name, as sd_notify reads it
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.SendTo(Encoding.UTF8.GetBytes(state), new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException) { return false; }
    }

    /// <summary><c>READY=1</c> (with <c>STATUS=</c> when given): a <c>kind: sd-notify</c> readiness probe passes.</summary>
    public static bool Ready(string? status = null) => Notify(status is null ? "READY=1" : $"READY=1\nSTATUS={status}");

    /// <summary><c>WATCHDOG=1</c>: the keep-alive of a <c>kind: sd-notify</c> probe with a <c>watchdog:</c> window.</summary>
    public static bool Watchdog() => Notify("WATCHDOG=1");

    /// <summary>The watchdog window Vigil (or systemd) asks for (<c>WATCHDOG_USEC</c>), or null: ping at half of it.</summary>
    public static TimeSpan? WatchdogInterval =>
        long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), out var us) && us > 0 ? TimeSpan.FromMicroseconds(us) : null;
}

/// <summary>Reads the Node IPC channel Vigil opened as fd <c>NODE_CHANNEL_FD</c> (JSON lines) for the stopping message.</summary>
internal static class StoppingChannel
{
    private const int MaxLine = 64 * 1024;
    private const int F_SETFD = 2, FD_CLOEXEC = 1;

    public static void Listen(Action onStopping)
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable("NODE_CHANNEL_FD"), out int fd) || fd < 3) return;
        // As Node does: the app's own children must not think they have the channel.
        Environment.SetEnvironmentVariable("NODE_CHANNEL_FD", null);
        Environment.SetEnvironmentVariable("NODE_CHANNEL_SERIALIZATION_MODE", null);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        Socket socket;
        try { socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true)); }
        catch (SocketException) { return; } // not a socket after all: nothing to listen to
        var thread = new Thread(() => Read(socket, onStopping)) { IsBackground = true, Name = "vigil-client-ipc" };
        thread.Start();
    }

    private static void Read(Socket socket, Action onStopping)
    {
        var buffer = new byte[16 * 1024];
        var line = new List<byte>();
        bool skipping = false; // inside a line longer than MaxLine: dropped up to its newline
        try
        {
            while (true)
            {
                int n = socket.Receive(buffer);
                if (n <= 0) return; // Vigil went away: no stopping message will come
                foreach (var b in buffer.AsSpan(0, n))
                {
                    if (b != (byte)'\n')
                    {
                        if (!skipping && line.Count < MaxLine) line.Add(b);
                        else { skipping = true; line.Clear(); }
                        continue;
                    }
                    if (!skipping && IsStopping(line)) onStopping();
                    line.Clear();
                    skipping = false;
                }
            }
        }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
    }

    /// <summary>An object whose <c>stopping</c> is true (the only message Vigil sends).</summary>
    internal static bool IsStopping(List<byte> line)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(line.ToArray());
            return doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                && doc.RootElement.TryGetProperty("stopping", out var s) && s.ValueKind == System.Text.Json.JsonValueKind.True;
        }
        catch (System.Text.Json.JsonException) { return false; }
    }

    [DllImport("libc", SetLastError = true)] private static extern int fcntl(int fd, int cmd, int arg);
}
