using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Vigil.Launching;
using Vigil.Specs;

namespace Vigil.Health;

/// <summary>
/// <c>sd-notify</c>: systemd's notify protocol (<c>Type=notify</c>, <c>WatchdogSec=</c>), so a program written for
/// systemd runs under Vigil unchanged. Each run gets its own Unix datagram socket, made before the spawn in a private
/// folder (<c>$XDG_RUNTIME_DIR/vigil</c>, else <c>/tmp/vigil-UID</c>, mode 0700; the socket 0600), or an abstract
/// name (<c>@vigil/…</c>) when no such folder can be made safely; its address goes into the child's environment as
/// <c>NOTIFY_SOCKET</c>, and with a watchdog <c>WATCHDOG_USEC</c> too (no <c>WATCHDOG_PID</c>: the child is the
/// main process). A background loop reads the datagrams until the run ends; the socket file is removed then.
/// <para>Supported messages (one or more <c>KEY=VALUE</c> lines per datagram, as <c>sd_notify(3)</c> sends):</para>
/// <list type="bullet">
/// <item><c>READY=1</c>: the unit is ready (a readiness event at once). Whatever the probe's role, the unit is not
/// ready until the first <c>READY=1</c> of a run.</item>
/// <item><c>STOPPING=1</c>, <c>RELOADING=1</c>: not ready (until the next <c>READY=1</c>).</item>
/// <item><c>STATUS=…</c>: kept and shown in the probe's detail.</item>
/// <item><c>WATCHDOG=1</c>: a keep-alive ping; with a watchdog the check fails when none arrived within the window
/// (counted from the start of the run until the first ping): <c>hung: no WATCHDOG=1 for 5s</c>.</item>
/// <item><c>WATCHDOG=trigger</c>: the program asks to be treated as hung: the next check fails (a later
/// <c>WATCHDOG=1</c> clears it).</item>
/// <item><c>WATCHDOG_USEC=N</c>: a new watchdog window of N microseconds from now (as systemd, it restarts the timer);
/// it also turns the watchdog on for a probe configured without one.</item>
/// <item><c>MAINPID=N</c>: noted in the detail (Vigil keeps watching the process it started).</item>
/// </list>
/// Anything else (<c>ERRNO=</c>, <c>EXTEND_TIMEOUT_USEC=</c>, <c>FDSTORE=</c>, <c>BARRIER=</c>…) is ignored. As with
/// <c>NotifyAccess=all</c>, any process that can reach the socket may send (only the owner can, for a socket file).
/// <para>The check's verdict: for a liveness probe, the watchdog (healthy without one); as a readiness or startup
/// probe it also requires <c>READY=1</c>.</para>
/// </summary>
internal sealed class SdNotifyProbe : IRunBoundProbe, IImmediateProbe
{
    private readonly Socket? _socket;
    private readonly string? _path;          // the socket file to remove, null for an abstract name
    private readonly string? _error;         // why there is no socket (every check fails with it)
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private Task _receiving = Task.CompletedTask;

    // Guarded by _gate: what the program has told us in this run.
    private TimeSpan? _window;
    private long? _lastPing;
    private bool _ready, _triggered;
    private string? _notReadyWhy, _status;
    private int? _mainPid;

    private SdNotifyProbe(SdNotifyCheck check, Socket? socket, string? path, string? error)
    {
        _window = check.Watchdog;
        _socket = socket;
        _path = path;
        _error = error;
    }

    /// <summary>Opens the run's socket and sets NOTIFY_SOCKET (and WATCHDOG_USEC) in <paramref name="environment"/>.</summary>
    public static SdNotifyProbe Open(SdNotifyCheck check, string unitName, IDictionary<string, string> environment)
    {
        string name = $"notify-{Sanitize(unitName)}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 6))}";
        string? path = PrivateFolder() is { } dir ? Path.Combine(dir, name + ".sock") : null;
        if (path is not null && Encoding.UTF8.GetByteCount(path) > 107) path = null; // sun_path holds 108 bytes with the NUL
        string address = path ?? "@vigil/" + name;
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path ?? "\0" + address[1..]));
            if (path is not null) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            socket.Dispose();
            if (path is not null) TryDelete(path);
            return new SdNotifyProbe(check, null, null, $"sd-notify: could not make the notify socket {address}: {e.Message}");
        }
        environment["NOTIFY_SOCKET"] = address;
        if (check.Watchdog is { } w) environment["WATCHDOG_USEC"] = ((long)w.TotalMicroseconds).ToString(CultureInfo.InvariantCulture);
        return new SdNotifyProbe(check, socket, path, null);
    }

    /// <summary>A folder only we can use: $XDG_RUNTIME_DIR/vigil, else /tmp/vigil-UID; null when neither can be made
    /// private (a folder someone else made: chmod fails unless we own it), or is a symbolic link.</summary>
    private static string? PrivateFolder()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        string[] candidates = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg) && Directory.Exists(xdg)
            ? [Path.Combine(xdg, "vigil"), $"/tmp/vigil-{Native.geteuid()}"]
            : [$"/tmp/vigil-{Native.geteuid()}"];
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        foreach (var dir in candidates)
        {
            try
            {
                var info = Directory.CreateDirectory(dir, Private);
                if (info.LinkTarget is not null) continue;
                File.SetUnixFileMode(dir, Private);
                return dir;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return null;
    }

    private static string Sanitize(string unit)
    {
        var s = new string([.. unit.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_')]);
        return s.Length > 32 ? s[..32] : s.Length == 0 ? "unit" : s;
    }

    public void RunStarted(ProbeTarget target)
    {
        if (_socket is not null) _receiving = Task.Run(() => ReceiveAsync(_socket, target, _stop.Token));
    }

    private async Task ReceiveAsync(Socket socket, ProbeTarget target, CancellationToken stop)
    {
        var buffer = new byte[8192];
        while (!stop.IsCancellationRequested)
        {
            int n;
            try { n = await socket.ReceiveAsync(buffer, SocketFlags.None, stop).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { return; } // closed under us; a socket that cannot receive shows as a missed watchdog
            foreach (var line in Encoding.UTF8.GetString(buffer, 0, n).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                Handle(target, line);
        }
    }

    private void Handle(ProbeTarget target, string line)
    {
        int eq = line.IndexOf('=');
        if (eq <= 0) return;
        string key = line[..eq], value = line[(eq + 1)..];
        bool? readyChange = null;
        lock (_gate)
        {
            switch (key)
            {
                case "READY" when value == "1":
                    _ready = true;
                    _notReadyWhy = null;
                    readyChange = true;
                    break;
                case "STOPPING" or "RELOADING" when value == "1":
                    _ready = false;
                    _notReadyWhy = line;
                    readyChange = false;
                    break;
                case "STATUS":
                    _status = value;
                    break;
                case "WATCHDOG" when value == "1":
                    _lastPing = target.Time.GetTimestamp();
                    _triggered = false;
                    break;
                case "WATCHDOG" when value == "trigger":
                    _triggered = true;
                    break;
                case "WATCHDOG_USEC" when long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var usec) && usec > 0:
                    _window = TimeSpan.FromMicroseconds(usec);
                    _lastPing = target.Time.GetTimestamp();
                    break;
                case "MAINPID" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0:
                    _mainPid = pid;
                    break;
            }
        }
        if (readyChange is { } ready) target.ReportReady(ready, line);
    }

    public ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
    {
        if (_error is not null) return ValueTask.FromResult(ProbeResult.Fail(_error));
        lock (_gate)
        {
            string tail = (_status is not null ? $" (STATUS={_status})" : "") + (_mainPid is { } m ? $" (MAINPID={m})" : "");
            if (_triggered) return ValueTask.FromResult(ProbeResult.Fail("hung: the process sent WATCHDOG=trigger" + tail));
            string watchdog = "";
            if (_window is { } window)
            {
                var judged = Stall.Judge(target, _lastPing ?? target.StartedAt, "WATCHDOG=1", "no WATCHDOG=1", window);
                if (!judged.Healthy) return ValueTask.FromResult(ProbeResult.Fail(judged.Detail + tail));
                watchdog = _lastPing is null ? $"; no WATCHDOG=1 yet (window {Durations.Format(window)})" : $"; {judged.Detail}";
            }
            string readiness = _ready ? "READY=1" : _notReadyWhy ?? "no READY=1 yet";
            if (!_ready && target.Spec.Role != ProbeRole.Liveness) return ValueTask.FromResult(ProbeResult.Fail("not ready: " + readiness + watchdog + tail));
            return ValueTask.FromResult(ProbeResult.Ok(readiness + watchdog + tail));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _socket?.Dispose(); // with the cancellation, ends a pending receive
        await _receiving.ConfigureAwait(false); // never throws: the loop catches its own ends
        if (_path is not null) TryDelete(_path);
        _stop.Dispose();
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
