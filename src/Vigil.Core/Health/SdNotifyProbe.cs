using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Launching;
using Vigil.Specs;

namespace Vigil.Health;

/// <summary>
/// <c>sd-notify</c>: systemd's notify protocol (<c>Type=notify</c>, <c>WatchdogSec=</c>), so a program written for
/// systemd runs under Vigil unchanged. Each run gets its own Unix datagram socket, made before the spawn in a private
/// folder (see <see cref="NotifyFolder"/>; the socket 0600), or an abstract name (<c>@vigil/…</c>) when no such
/// folder can be made; its address goes into the child's environment as <c>NOTIFY_SOCKET</c>, and with a watchdog
/// <c>WATCHDOG_USEC</c> too (no <c>WATCHDOG_PID</c>: the child is the main process). A background loop reads the
/// datagrams until the run ends; the socket file (and a folder made for this run) is removed then.
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
/// <item><c>MAINPID=N</c>: noted in the detail (Vigil keeps watching, and taking messages from, the process it
/// started: unlike systemd it does not move the main PID).</item>
/// </list>
/// Anything else (<c>ERRNO=</c>, <c>EXTEND_TIMEOUT_USEC=</c>, <c>FDSTORE=</c>, <c>BARRIER=</c>…) is ignored.
/// <para>Who may send: the socket has <c>SO_PASSCRED</c>, so the kernel attaches the sender's PID to every datagram
/// (<c>SCM_CREDENTIALS</c>, unix(7)), as systemd does for <c>NotifyAccess=</c> (systemd.service(5)). With
/// <c>notifyAccess: main</c> (the default, as systemd's for <c>Type=notify</c>) only the unit's main process counts;
/// with <c>all</c>, any process of the unit: the main process's session members and its descendants (parent links in
/// /proc). Reaching the socket is not enough: a neighbour that reads <c>NOTIFY_SOCKET</c> from /proc/PID/environ could
/// otherwise send <c>WATCHDOG=trigger</c> and get the unit killed. Messages from others are ignored and counted
/// (gauge <c>notify_refused</c>), as are those of a sender that exited before Vigil read them (the kernel then
/// reports PID 0).</para>
/// <para>A flood is bounded (<see cref="Limits"/>): a token bucket admits a burst and a steady rate; past it,
/// datagrams are read in bounded batches with a pause between them and dropped unparsed (gauge
/// <c>notify_dropped</c>), except that a <c>WATCHDOG=1</c> from an admitted sender still counts: dropping a
/// chatty program's keep-alive would get a live program killed as hung.</para>
/// <para>The check's verdict: for a liveness probe, the watchdog (healthy without one); as a readiness or startup
/// probe it also requires <c>READY=1</c>.</para>
/// </summary>
internal sealed class SdNotifyProbe : IRunBoundProbe, IImmediateProbe
{
    /// <summary>The flood bounds of one socket. A systemd program sends a few messages a second at most (a watchdog
    /// ping every WatchdogSec/2, sd_watchdog_enabled(3)); these are far above that.</summary>
    internal static class Limits
    {
        /// <summary>Messages parsed at once before the rate applies.</summary>
        public const int Burst = 100;
        /// <summary>Messages parsed per second past the burst.</summary>
        public const double PerSecond = 50;
        /// <summary>Datagrams read per wake-up of the receive loop.</summary>
        public const int Batch = 64;
        /// <summary>The pause after a batch that hit the rate limit: while Vigil does not read, the kernel's queue
        /// (net.unix.max_dgram_qlen) fills and a flooding sender blocks in sendmsg, at no cost to Vigil.</summary>
        public static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(100);
        /// <summary>systemd reads notify datagrams into a buffer of this size (NOTIFY_BUFFER_MAX); longer ones are cut.</summary>
        public const int Datagram = 4096;
    }

    private readonly Socket? _socket;
    private readonly string? _path;          // the socket file to remove, null for an abstract name
    private readonly string? _folder;        // a folder made for this run alone (mkdtemp), removed with the socket
    private readonly string? _error;         // why there is no socket (every check fails with it)
    private readonly NotifyAccess _access;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private Task _receiving = Task.CompletedTask;

    // Guarded by _gate: what the program has told us in this run.
    private TimeSpan? _window;
    private long? _lastPing;
    private bool _ready, _triggered;
    private string? _notReadyWhy, _status;
    private int? _mainPid;
    private long _refused, _dropped;

    private SdNotifyProbe(SdNotifyCheck check, Socket? socket, string? path, string? folder, string? error)
    {
        _window = check.Watchdog;
        _access = check.Access;
        _socket = socket;
        _path = path;
        _folder = folder;
        _error = error;
    }

    /// <summary>Opens the run's socket and sets NOTIFY_SOCKET (and WATCHDOG_USEC) in <paramref name="environment"/>.</summary>
    public static SdNotifyProbe Open(SdNotifyCheck check, string unitName, IDictionary<string, string> environment, ILogger? log = null)
    {
        string name = $"notify-{Sanitize(unitName)}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 6))}";
        var (dir, fresh) = NotifyFolder.Acquire(unitName, log ?? NullLogger.Instance);
        string? path = dir is not null ? Path.Combine(dir, name + ".sock") : null;
        if (path is not null && Encoding.UTF8.GetByteCount(path) > 107) path = null; // sun_path holds 108 bytes with the NUL
        string? folder = fresh && path is not null ? dir : null;
        if (fresh && folder is null) NotifyFolder.Remove(dir!);
        string address = path ?? "@vigil/" + name;
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path ?? "\0" + address[1..]));
            if (path is not null) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            PassCredentials(socket);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            socket.Dispose();
            if (path is not null) TryDelete(path);
            if (folder is not null) NotifyFolder.Remove(folder);
            return new SdNotifyProbe(check, null, null, null, $"sd-notify: could not make the notify socket {address}: {e.Message}");
        }
        environment["NOTIFY_SOCKET"] = address;
        if (check.Watchdog is { } w) environment["WATCHDOG_USEC"] = ((long)w.TotalMicroseconds).ToString(CultureInfo.InvariantCulture);
        return new SdNotifyProbe(check, socket, path, folder, null);
    }

    /// <summary>SO_PASSCRED: every datagram then carries its sender's credentials (unix(7)), set before the spawn so
    /// the first message has them too.</summary>
    private static unsafe void PassCredentials(Socket socket)
    {
        int one = 1;
        if (Native.setsockopt((int)socket.Handle, Native.SOL_SOCKET, Native.SO_PASSCRED, &one, sizeof(int)) != 0)
            throw new SocketException(Native.Errno);
    }

    private static string Sanitize(string unit)
    {
        var s = new string([.. unit.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_')]);
        return s.Length > 32 ? s[..32] : s.Length == 0 ? "unit" : s;
    }

    public void RunStarted(ProbeTarget target)
    {
        string[] early;
        lock (_gate)
        {
            (_channelTarget, _channelBucket) = (target, new TokenBucket(target.Time, Limits.Burst, Limits.PerSecond));
            early = _early is null ? [] : [.. _early];
            _early = null;
        }
        foreach (var state in early) FromChannel(state);
        if (_socket is null) return;
        _reader = new BatchReader(new TokenBucket(target.Time, Limits.Burst, Limits.PerSecond), new NotifySenders(target, _access));
        _receiving = Task.Run(() => ReceiveAsync(_socket, target, _reader, _stop.Token));
    }

    // The run's target and rate limit for messages from its IPC channel (the main process's own: no credentials to check).
    private ProbeTarget? _channelTarget;
    private TokenBucket? _channelBucket;
    // Channel messages that came before RunStarted (a child that says READY=1 at once), handled when it comes; bounded.
    private List<string>? _early;

    /// <summary>An sd_notify message the main process sent on its IPC channel (any thread; never blocks): handled as a
    /// datagram of it, under the same rate limit (past it, dropped and counted).</summary>
    internal void FromChannel(string state)
    {
        ProbeTarget? target;
        lock (_gate)
        {
            target = _channelTarget;
            if (target is null)
            {
                if ((_early ??= []).Count < Limits.Burst) _early.Add(state);
                else _dropped++;
                return;
            }
            if (_channelBucket?.TryTake() != true)
            {
                _dropped++;
                return;
            }
        }
        foreach (var line in state.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Handle(target, line);
    }

    /// <summary>What the receive loop and a check that drains the queue share; one reads at a time.</summary>
    private sealed class BatchReader(TokenBucket bucket, NotifySenders senders)
    {
        public readonly byte[] Buffer = new byte[Limits.Datagram];
        public readonly TokenBucket Bucket = bucket;
        public readonly NotifySenders Senders = senders;
    }

    private BatchReader? _reader;

    private async Task ReceiveAsync(Socket socket, ProbeTarget target, BatchReader reader, CancellationToken stop)
    {
        var peek = new byte[1];
        while (!stop.IsCancellationRequested)
        {
            // Wait (in the runtime's epoll, no thread held) until a datagram is queued, without taking it: recvmsg
            // below takes it with its credentials, which the Socket API does not give.
            try { await socket.ReceiveAsync(peek, SocketFlags.Peek, stop).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.MessageSize) { } // a datagram longer than the peek
            catch (SocketException) { return; } // closed under us; a socket that cannot receive shows as a missed watchdog
            var (limited, broken) = ReadBatch(socket, target, reader);
            if (broken) return;
            if (limited)
            {
                try { await Task.Delay(Limits.Pause, target.Time, stop).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    /// <summary>Reads at most one batch of what is queued, without waiting. Limited: the rate limit dropped some.</summary>
    private (bool Limited, bool Broken) ReadBatch(Socket socket, ProbeTarget target, BatchReader reader)
    {
        bool limited = false;
        lock (reader)
            for (int i = 0; i < Limits.Batch; i++)
            {
                int n = NotifySocket.Receive(socket, reader.Buffer, out int pid);
                if (n == NotifySocket.Empty) break;
                if (n == NotifySocket.Broken) return (limited, true);
                var datagram = reader.Buffer.AsSpan(0, n);
                if (!reader.Bucket.TryTake())
                {
                    limited = true;
                    Drop(target, reader.Senders, pid, datagram);
                    continue;
                }
                if (!reader.Senders.Admits(pid))
                {
                    lock (_gate) _refused++;
                    continue;
                }
                foreach (var line in Encoding.UTF8.GetString(datagram).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                    Handle(target, line);
            }
        return (limited, false);
    }

    /// <summary>Before a missed watchdog is judged, what the kernel already holds for us is read: the receive loop may
    /// be in its flood pause, or slow to be scheduled on a busy machine, with the ping waiting in the queue.</summary>
    private void DrainIfLate(ProbeTarget target)
    {
        if (_socket is null || _reader is not { } reader) return;
        lock (_gate)
            if (_window is not { } window || target.Time.GetElapsedTime(_lastPing ?? target.StartedAt) < window) return;
        ReadBatch(_socket, target, reader);
    }

    /// <summary>A datagram over the rate limit: counted and not parsed, but a keep-alive from a known sender (cheap
    /// to find: one vectorised search) still counts.</summary>
    private void Drop(ProbeTarget target, NotifySenders senders, int pid, ReadOnlySpan<byte> datagram)
    {
        bool ping = IsPing(datagram) && senders.AdmitsKnown(pid);
        lock (_gate)
        {
            _dropped++;
            if (ping)
            {
                _lastPing = target.Time.GetTimestamp();
                _triggered = false;
            }
        }
    }

    /// <summary>True when one line of the datagram is exactly <c>WATCHDOG=1</c>.</summary>
    internal static bool IsPing(ReadOnlySpan<byte> datagram)
    {
        var ping = "WATCHDOG=1"u8;
        while (datagram.IndexOf(ping) is var at and >= 0)
        {
            bool starts = at == 0 || datagram[at - 1] == (byte)'\n';
            int end = at + ping.Length;
            if (starts && (end == datagram.Length || datagram[end] == (byte)'\n')) return true;
            datagram = datagram[end..];
        }
        return false;
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
        DrainIfLate(target);
        lock (_gate)
        {
            string tail = (_status is not null ? $" (STATUS={_status})" : "") + (_mainPid is { } m ? $" (MAINPID={m})" : "");
            if (_refused > 0) tail += $" (ignored {_refused} message(s) from processes outside notifyAccess: {_access.ToString().ToLowerInvariant()})";
            if (_dropped > 0) tail += $" (dropped {_dropped} message(s) over the rate limit)";
            var gauges = _refused > 0 || _dropped > 0
                ? new Dictionary<string, double> { ["notify_refused"] = _refused, ["notify_dropped"] = _dropped }
                : null;
            if (_triggered) return ValueTask.FromResult(ProbeResult.Fail("hung: the process sent WATCHDOG=trigger" + tail, gauges));
            string watchdog = "";
            if (_window is { } window)
            {
                var judged = Stall.Judge(target, _lastPing ?? target.StartedAt, "WATCHDOG=1", "no WATCHDOG=1", window);
                if (!judged.Healthy) return ValueTask.FromResult(ProbeResult.Fail(judged.Detail + tail, gauges));
                watchdog = _lastPing is null ? $"; no WATCHDOG=1 yet (window {Durations.Format(window)})" : $"; {judged.Detail}";
            }
            string readiness = _ready ? "READY=1" : _notReadyWhy ?? "no READY=1 yet";
            if (!_ready && target.Spec.Role != ProbeRole.Liveness) return ValueTask.FromResult(ProbeResult.Fail("not ready: " + readiness + watchdog + tail, gauges));
            return ValueTask.FromResult(ProbeResult.Ok(readiness + watchdog + tail, gauges));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _socket?.Dispose(); // with the cancellation, ends a pending receive
        await _receiving.ConfigureAwait(false); // never throws: the loop catches its own ends
        if (_path is not null) TryDelete(_path);
        if (_folder is not null) NotifyFolder.Remove(_folder);
        _stop.Dispose();
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}

/// <summary>Admits at most a burst of items at once and a steady rate after it: a token bucket on the injected clock.</summary>
internal sealed class TokenBucket(TimeProvider time, int burst, double perSecond)
{
    private double _tokens = burst;
    private long _at = time.GetTimestamp();

    public bool TryTake()
    {
        long now = time.GetTimestamp();
        _tokens = Math.Min(burst, _tokens + time.GetElapsedTime(_at, now).TotalSeconds * perSecond);
        _at = now;
        if (_tokens < 1) return false;
        _tokens -= 1;
        return true;
    }
}

/// <summary>Which senders of a run's notify socket count (<see cref="NotifyAccess"/>). Used under its batch reader's lock.</summary>
internal sealed class NotifySenders(ProbeTarget target, NotifyAccess access)
{
    /// <summary>Deeper than any real process tree; a bound on the walk up the parent links.</summary>
    private const int MaxDepth = 64;
    private const int MaxKnown = 256;
    private readonly HashSet<int> _known = [];

    /// <summary>True when <paramref name="pid"/> (from SCM_CREDENTIALS; 0 when unknown) may send.</summary>
    public bool Admits(int pid)
    {
        if (pid <= 0) return false;
        if (pid == target.Pid) return true;
        if (access == NotifyAccess.Main) return false;
        if (_known.Contains(pid)) return true;
        if (!IsOfTheUnit(pid)) return false;
        if (_known.Count < MaxKnown) _known.Add(pid);
        return true;
    }

    /// <summary>Over the rate limit nothing is looked up in /proc: only the main process and senders already admitted.</summary>
    public bool AdmitsKnown(int pid) => pid > 0 && (pid == target.Pid || (access == NotifyAccess.All && _known.Contains(pid)));

    /// <summary>A member of the main process's session (what setsid has not taken out of it) or a descendant of the
    /// main process (parent links up to it, for those that did call setsid).</summary>
    private bool IsOfTheUnit(int pid)
    {
        if (!ProcFs.TryReadStat(pid, out var st)) return false;
        if (target.Session > 0 && st.Session == target.Session) return true;
        for (int depth = 0; depth < MaxDepth && st.ParentPid > 1; depth++)
        {
            if (st.ParentPid == target.Pid) return true;
            if (!ProcFs.TryReadStat(st.ParentPid, out st)) return false;
        }
        return false;
    }
}

/// <summary>recvmsg(2) on a notify socket: the datagram and the sender's PID from its SCM_CREDENTIALS.</summary>
internal static unsafe class NotifySocket
{
    public const int Empty = -1, Broken = -2;

    /// <summary>CMSG_SPACE(sizeof(struct ucred)) on 64-bit Linux: room for the credentials and nothing else, so file
    /// descriptors a sender attaches (SCM_RIGHTS) are never installed in Vigil (the kernel drops what does not fit
    /// and sets MSG_CTRUNC; MSG_CMSG_CLOEXEC besides).</summary>
    private const int ControlSize = 32;

    /// <summary>The datagram's length, <see cref="Empty"/> when none is queued, <see cref="Broken"/> on any other
    /// error. <paramref name="pid"/> is 0 when the datagram carried no credentials or its sender is gone.</summary>
    public static int Receive(Socket socket, byte[] buffer, out int pid)
    {
        pid = 0;
        var handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added); // the fd cannot be closed and reused while recvmsg runs
            byte* control = stackalloc byte[ControlSize];
            fixed (byte* b = buffer)
            {
                var iov = new Native.IoVec { Base = b, Length = (nuint)buffer.Length };
                var msg = new Native.MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = ControlSize };
                nint n;
                do n = Native.recvmsg((int)handle.DangerousGetHandle(), &msg, Native.MSG_DONTWAIT | Native.MSG_CMSG_CLOEXEC);
                while (n < 0 && Native.Errno == Native.EINTR);
                if (n < 0) return Native.Errno == Native.EAGAIN ? Empty : Broken;
                var c = (Native.CmsgHdr*)control;
                if (msg.ControlLen >= (nuint)(sizeof(Native.CmsgHdr) + sizeof(Native.UCred))
                    && c->Level == Native.SOL_SOCKET && c->Type == Native.SCM_CREDENTIALS)
                    pid = ((Native.UCred*)(control + sizeof(Native.CmsgHdr)))->Pid;
                return (int)n;
            }
        }
        catch (ObjectDisposedException) { return Broken; }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }
}

/// <summary>
/// The folder of the notify sockets: <c>$XDG_RUNTIME_DIR/vigil</c>, else <c>/tmp/vigil-EUID</c>, made by Vigil with
/// mode 0700 and checked with lstat before each use (a folder, not a symbolic link, owned by Vigil's euid, mode
/// 0700), the way OpenSSH checks its control paths. A folder someone else made (another user who guessed the path
/// could otherwise read and take over the socket) is refused, and the run gets a fresh folder from mkdtemp(3) beside
/// it instead, removed with its socket.
/// </summary>
internal static unsafe class NotifyFolder
{
    private const uint Private = 0x1C0; // 0700

    /// <summary>The folder and whether it was made for this run alone; (null, false) when no folder can be had.</summary>
    public static (string? Dir, bool Fresh) Acquire(string unitName, ILogger log)
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        uint euid = Native.geteuid();
        string parent = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg) && Directory.Exists(xdg) ? xdg : "/tmp";
        string shared = parent == "/tmp" ? $"/tmp/vigil-{euid}" : Path.Combine(parent, "vigil");
        var why = PrivateFolder.MakeOrCheck(shared);
        if (why is null) return (shared, false);
        var fresh = MakeTemp(Path.Combine(parent, $"vigil-{euid}-XXXXXX"));
        HealthLog.NotifyFolderRefused(log, unitName, shared, why,
            fresh is not null ? $"using the new private folder {fresh} instead" : "using an abstract socket name instead");
        return (fresh, fresh is not null);
    }

    /// <summary>Null when <paramref name="dir"/> is a private folder of Vigil's (see <see cref="PrivateFolder"/>); else why not.</summary>
    internal static string? Refusal(string dir) => PrivateFolder.Refusal(dir);

    private static string? MakeTemp(string template)
    {
        byte* t = Native.Utf8Z(template);
        try
        {
            var made = Native.mkdtemp(t);
            if (made == null) return null;
            var dir = Marshal.PtrToStringUTF8((nint)made)!;
            if (Refusal(dir) is null) return dir;
            Remove(dir);
            return null;
        }
        finally { NativeMemory.Free(t); }
    }

    /// <summary>Removes a folder made for one run (empty once its socket is gone).</summary>
    public static void Remove(string dir)
    {
        byte* p = Native.Utf8Z(dir);
        try { Native.rmdir(p); }
        finally { NativeMemory.Free(p); }
    }
}
