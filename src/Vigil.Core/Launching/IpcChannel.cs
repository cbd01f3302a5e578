using System.Runtime.InteropServices;

namespace Vigil.Launching;

// Overview
// --------
// elife's processes are Node scripts started with child_process.fork, which gives the child an IPC channel: one end
// of a Unix stream socketpair, as fd 3, named by NODE_CHANNEL_FD (and NODE_CHANNEL_SERIALIZATION_MODE=json: one JSON
// value a line). Node's bootstrap (setupChildProcessIpcChannel) opens it as process.send / process.on('message') and
// removes both variables, so the child's own children do not inherit the channel. elife stops a child by sending
// {"stopping": true} on it first (the child's onstopping hook), and Vigil does the same (Unit.Ipc.cs).
// Vigil's end is non-blocking and read on the reactor thread. What the child sends is drained with bounded work per
// wake-up, split into lines of at most MaxLine bytes (a longer one is dropped whole) and handed to the request's
// IIpcReceiver, never buffered without limit: a child that floods the channel or writes garbage costs Vigil a read
// loop, not memory. The unit takes {"notify": "READY=1"} from it as an sd_notify message (Node cannot send datagrams).

/// <summary>Vigil's end of a child's Node IPC channel (see the overview above).</summary>
public interface IIpcChannel
{
    /// <summary>Sends one JSON value as a line; false when the channel is closed or its buffer is full (never blocks).</summary>
    bool TrySend(ReadOnlySpan<byte> json);
}

/// <summary>Takes the lines a child sends on its IPC channel, on the reactor thread: must not block.</summary>
public interface IIpcReceiver
{
    void OnMessage(int pid, ReadOnlySpan<byte> line);
}

/// <summary>The socket end a <see cref="ChildProcess"/> owns: written by the unit, read (and drained) by the reactor.</summary>
internal sealed unsafe class IpcChannel : IIpcChannel, Reactor.IHandler
{
    /// <summary>The child's descriptor for the channel: 3, as child_process.fork's default stdio ([0, 1, 2, 'ipc']) gives.</summary>
    public const int ChildFd = 3;

    /// <summary>Set beside NODE_CHANNEL_FD when the channel is Vigil's.</summary>
    public const string VigilChannelVariable = "VIGIL_IPC";

    /// <summary>The child's environment with the channel's variables as fork sets them (replacing inherited ones, which
    /// would name a descriptor the child does not have).</summary>
    public static List<string> WithChannel(IReadOnlyList<string> env)
    {
        var list = new List<string>(env.Count + 2);
        foreach (var kv in env)
            if (!kv.StartsWith("NODE_CHANNEL_FD=", StringComparison.Ordinal) && !kv.StartsWith("NODE_CHANNEL_SERIALIZATION_MODE=", StringComparison.Ordinal)
                && !kv.StartsWith(VigilChannelVariable + "=", StringComparison.Ordinal))
                list.Add(kv);
        list.Add("NODE_CHANNEL_FD=3");
        list.Add("NODE_CHANNEL_SERIALIZATION_MODE=json");
        // Tells a client library the channel is Vigil's (not elife's or another fork parent's): it may send sd_notify on it.
        list.Add(VigilChannelVariable + "=1");
        return list;
    }

    private const int AF_UNIX = 1, SOCK_STREAM = 1, SOCK_NONBLOCK = 0x800, SOCK_CLOEXEC = 0x80000, SHUT_RDWR = 2, MSG_NOSIGNAL = 0x4000;
    private const int ReadBuffer = 16 * 1024, RoundsPerWake = 8;
    /// <summary>The longest line handed to the receiver; longer ones are dropped (systemd's own notify limit is 4 KiB).</summary>
    internal const int MaxLine = 4096;

    private readonly int _fd;
    private readonly object _gate = new();
    private bool _closed; // under _gate: set before the reactor closes _fd, so nothing touches a recycled number
    private long _bytesIn, _lines;
    private IIpcReceiver? _receiver;
    private int _pid;
    private readonly byte[] _line = new byte[MaxLine]; // the line being assembled (reactor thread only)
    private int _lineLength = -1; // -1: not inside a line we keep (dropping one that grew too long); reset at each newline

    private IpcChannel(int fd) => _fd = fd;

    /// <summary>Bytes and newline-ended lines the child has sent so far.</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesIn);
    public long LinesReceived => Interlocked.Read(ref _lines);

    /// <summary>A socketpair: Vigil's end (non-blocking, close-on-exec) and the child's (close-on-exec too: the spawn
    /// dup2s it to <see cref="ChildFd"/>, which clears the flag on the copy only). Null with the errno on failure.</summary>
    public static (IpcChannel? Parent, int ChildEnd, int Errno) Create()
    {
        int* fds = stackalloc int[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) return (null, -1, Native.Errno);
        // Only our end is non-blocking: the child's is its own open file description and stays as programs expect.
        Native.fcntl(fds[0], Native.F_SETFL, Native.O_NONBLOCK);
        return (new IpcChannel(fds[0]), fds[1], 0);
    }

    /// <summary>Starts draining the channel on <paramref name="reactor"/> (which closes it when the child's end is gone),
    /// handing each line to <paramref name="receiver"/>.</summary>
    public void Begin(Reactor reactor, int pid, IIpcReceiver? receiver)
    {
        (_pid, _receiver, _lineLength) = (pid, receiver, 0);
        reactor.Register(_fd, this, closeOnRemove: true);
    }

    public bool TrySend(ReadOnlySpan<byte> json)
    {
        Span<byte> line = json.Length < 1024 ? stackalloc byte[json.Length + 1] : new byte[json.Length + 1];
        json.CopyTo(line);
        line[^1] = (byte)'\n';
        lock (_gate)
        {
            if (_closed) return false;
            fixed (byte* p = line)
                for (int done = 0; done < line.Length;)
                {
                    // MSG_NOSIGNAL: a child that closed its end gives EPIPE, not a SIGPIPE for Vigil.
                    nint n = send(_fd, p + done, line.Length - done, MSG_NOSIGNAL);
                    if (n > 0) done += (int)n;
                    else if (n < 0 && Native.Errno == Native.EINTR) continue;
                    else return false; // full (the child never reads) or closed: the caller escalates as without a channel
                }
        }
        return true;
    }

    /// <summary>Closes a channel that was never handed to the reactor (the spawn failed).</summary>
    public void CloseUnregistered()
    {
        lock (_gate)
        {
            if (_closed) return;
            _closed = true;
            Native.close(_fd);
        }
    }

    /// <summary>Ends the channel for the child too (it sees 'disconnect'); the reactor then reads EOF and closes it.</summary>
    public void Shutdown()
    {
        lock (_gate)
            if (!_closed) shutdown(_fd, SHUT_RDWR);
    }

    bool Reactor.IHandler.OnReady(int fd, uint events)
    {
        byte* buf = stackalloc byte[ReadBuffer];
        for (int round = 0; round < RoundsPerWake; round++)
        {
            nint n = Native.read(_fd, buf, ReadBuffer);
            if (n > 0)
            {
                Interlocked.Add(ref _bytesIn, n);
                Split(new ReadOnlySpan<byte>(buf, (int)n));
                if (n < ReadBuffer) return true;
                continue;
            }
            if (n < 0 && (Native.Errno == Native.EAGAIN || Native.Errno == Native.EINTR)) return true;
            lock (_gate) _closed = true; // EOF or error: the reactor closes the fd once we return
            return false;
        }
        return true; // more to read: level-triggered epoll wakes us again after the other handlers had their turn
    }

    /// <summary>Adds what was read to the line under way; each complete line of at most <see cref="MaxLine"/> bytes goes
    /// to the receiver.</summary>
    private void Split(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            int nl = data.IndexOf((byte)'\n');
            var part = nl < 0 ? data : data[..nl];
            if (_lineLength >= 0)
            {
                if (_lineLength + part.Length <= MaxLine)
                {
                    part.CopyTo(_line.AsSpan(_lineLength));
                    _lineLength += part.Length;
                }
                else _lineLength = -1; // too long: dropped up to its newline
            }
            if (nl < 0) return;
            Interlocked.Increment(ref _lines);
            if (_lineLength > 0) _receiver?.OnMessage(_pid, _line.AsSpan(0, _lineLength));
            _lineLength = 0;
            data = data[(nl + 1)..];
        }
    }

    void Reactor.IHandler.OnAbandoned()
    {
        lock (_gate) _closed = true;
    }

    [DllImport("libc", SetLastError = true)] private static extern int socketpair(int domain, int type, int protocol, int* fds);
    [DllImport("libc", SetLastError = true)] private static extern nint send(int fd, byte* buf, nint len, int flags);
    [DllImport("libc", SetLastError = true)] private static extern int shutdown(int fd, int how);
}
