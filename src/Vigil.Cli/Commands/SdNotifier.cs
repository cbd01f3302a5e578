using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Vigil.Supervision;

namespace Vigil.Cli.Commands;

/// <summary>
/// Vigil telling the service manager that started it how it is (sd_notify(3), for a <c>Type=notify</c> unit):
/// <c>READY=1</c> once every unit has been started, <c>STATUS=</c> with counts when they change (coalesced),
/// <c>RELOADING=1</c> + <c>MONOTONIC_USEC</c> then <c>READY=1</c> around a reload, <c>STOPPING=1</c> at shutdown, and
/// <c>WATCHDOG=1</c> every half of <c>WATCHDOG_USEC</c>. One datagram per message to <c>NOTIFY_SOCKET</c> (a path, or an
/// abstract address written <c>@name</c>). Failures to send are ignored: the manager's absence must not stop Vigil.
/// </summary>
public sealed class SdNotifier : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly UnixDomainSocketEndPoint _to;
    private readonly TimeProvider _time;
    private readonly ITimer? _watchdog;
    private readonly object _gate = new();
    private ITimer? _statusTimer;
    private string? _lastStatus;

    /// <summary>How long status changes are gathered before one <c>STATUS=</c> goes out.</summary>
    public static readonly TimeSpan StatusCoalescing = TimeSpan.FromMilliseconds(250);

    public SdNotifier(string address, TimeSpan? watchdog, TimeProvider time)
    {
        // An abstract socket is written @name; its address starts with a NUL byte.
        _to = new UnixDomainSocketEndPoint(address[0] == '@' ? "\0" + address[1..] : address);
        _time = time;
        if (watchdog is { } w && w > TimeSpan.Zero)
            _watchdog = time.CreateTimer(_ => Send("WATCHDOG=1"), null, w / 2, w / 2);
    }

    /// <summary>
    /// The notifier for <c>NOTIFY_SOCKET</c>, or null when Vigil was not started by a manager that listens. Takes
    /// <c>NOTIFY_SOCKET</c>, <c>WATCHDOG_USEC</c> and <c>WATCHDOG_PID</c> out of Vigil's environment in every case: they
    /// are addressed to Vigil, and a child that inherited them would speak for Vigil (units that speak sd_notify get a
    /// socket of their own from the sd-notify probe).
    /// </summary>
    public static SdNotifier? FromEnvironment(TimeProvider time)
    {
        var address = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        var usec = Environment.GetEnvironmentVariable("WATCHDOG_USEC");
        var pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
        foreach (var name in new[] { "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID" }) Environment.SetEnvironmentVariable(name, null);
        if (string.IsNullOrEmpty(address) || (address[0] != '/' && address[0] != '@') || address.Length < 2) return null;
        TimeSpan? watchdog = null;
        // WATCHDOG_PID names the process the watchdog is meant for: if it is another, this one keeps quiet.
        bool forUs = string.IsNullOrEmpty(pid) || pid == Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        if (forUs && long.TryParse(usec, NumberStyles.None, CultureInfo.InvariantCulture, out var us) && us > 0)
            watchdog = TimeSpan.FromMicroseconds(us);
        return new SdNotifier(address, watchdog, time);
    }

    public void Ready() => Send("READY=1");

    public void Stopping() => Send("STOPPING=1");

    /// <summary><c>RELOADING=1</c> with the monotonic time (systemd's Type=notify-reload wants both).</summary>
    public void Reloading() => Send(string.Create(CultureInfo.InvariantCulture, $"RELOADING=1\nMONOTONIC_USEC={MonotonicMicroseconds()}"));

    /// <summary>Something changed: within <see cref="StatusCoalescing"/>, <paramref name="status"/> is asked for the
    /// text and sent if it differs from the last one sent.</summary>
    public void StatusChanged(Func<string> status)
    {
        lock (_gate)
        {
            if (_statusTimer is not null) return;
            _statusTimer = _time.CreateTimer(_ =>
            {
                lock (_gate)
                {
                    _statusTimer?.Dispose();
                    _statusTimer = null;
                }
                var text = status();
                if (text == _lastStatus) return;
                _lastStatus = text;
                Send("STATUS=" + text);
            }, null, StatusCoalescing, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary><c>12 running, 1 in backoff</c>: units counted by state, in a fixed order.</summary>
    public static string Counts(IEnumerable<UnitSnapshot> units)
    {
        var parts = units.GroupBy(u => u.State).OrderBy(g => (int)g.Key)
            .Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Count()} {Words(g.Key)}")).ToList();
        return parts.Count == 0 ? "no units" : string.Join(", ", parts);
    }

    private static string Words(UnitState state) => state switch
    {
        UnitState.Backoff => "in backoff",
        UnitState.SlowRetry => "in slow retry",
        UnitState.StoppingUnhealthy => "stopping (unhealthy)",
        UnitState.Initial => "not started",
        _ => state.Name(),
    };

    private long MonotonicMicroseconds() => (long)((Int128)_time.GetTimestamp() * 1_000_000 / _time.TimestampFrequency);

    /// <summary>Sends one message; ignored when the manager is gone or not listening.</summary>
    public void Send(string message)
    {
        try { _socket.SendTo(Encoding.UTF8.GetBytes(message), SocketFlags.None, _to); }
        catch (SocketException) { }
        catch (ObjectDisposedException) { } // a watchdog tick racing the disposal
    }

    public void Dispose()
    {
        _watchdog?.Dispose();
        lock (_gate) _statusTimer?.Dispose();
        _socket.Dispose();
    }
}
