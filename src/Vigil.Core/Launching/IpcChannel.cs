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
// wake-up and counted, never buffered without limit: a child that floods the channel or writes garbage costs Vigil a
// read loop, not memory. Nothing else is done with the child's messages yet.

/// <summary>Vigil's end of a child's Node IPC channel (see the overview above).</summary>
public interface IIpcChannel
{
    /// <summary>Sends one JSON value as a line; false when the channel is closed or its buffer is full (never blocks).</summary>
    bool TrySend(ReadOnlySpan<byte> json);
}

/// <summary>The socket end a <see cref="ChildProcess"/> owns: written by the unit, read (and drained) by the reactor.</summary>
internal sealed unsafe class IpcChannel : IIpcChannel, Reactor.IHandler
{
    /// <summary>The child's descriptor for the channel: 3, as child_process.fork's default stdio ([0, 1, 2, 'ipc']) gives.</summary>
    public const int ChildFd = 3;

    /// <summary>The child's environment with the channel's variables as fork sets them (replacing inherited ones, which
    /// would name a descriptor the child does not have).</summary>
    public static List<string> WithChannel(IReadOnlyList<string> env)
    {
        var list = new List<string>(env.Count + 2);
        foreach (var kv in env)
            if (!kv.StartsWith("NODE_CHANNEL_FD=", StringComparison.Ordinal) && !kv.StartsWith("NODE_CHANNEL_SERIALIZATION_MODE=", StringComparison.Ordinal))
                list.Add(kv);
        list.Add("NODE_CHANNEL_FD=3");
        list.Add("NODE_CHANNEL_SERIALIZATION_MODE=json");
        return list;
    }

    private const int AF_UNIX = 1, SOCK_STREAM = 1, SOCK_NONBLOCK = 0x800, SOCK_CLOEXEC = 0x80000, SHUT_RDWR = 2, MSG_NOSIGNAL = 0x4000;
    private const int ReadBuffer = 16 * 1024, RoundsPerWake = 8;

    private readonly int _fd;
    private readonly object _gate = new();
    private bool _closed; // under _gate: set before the reactor closes _fd, so nothing touches a recycled number
    private long _bytesIn, _lines;

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

    /// <summary>Starts draining the channel on <paramref name="reactor"/> (which closes it when the child's end is gone).</summary>
    public void Begin(Reactor reactor) => reactor.Register(_fd, this, closeOnRemove: true);

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
                Interlocked.Add(ref _lines, new ReadOnlySpan<byte>(buf, (int)n).Count((byte)'\n'));
                if (n < ReadBuffer) return true;
                continue;
            }
            if (n < 0 && (Native.Errno == Native.EAGAIN || Native.Errno == Native.EINTR)) return true;
            lock (_gate) _closed = true; // EOF or error: the reactor closes the fd once we return
            return false;
        }
        return true; // more to read: level-triggered epoll wakes us again after the other handlers had their turn
    }

    void Reactor.IHandler.OnAbandoned()
    {
        lock (_gate) _closed = true;
    }

    [DllImport("libc", SetLastError = true)] private static extern int socketpair(int domain, int type, int protocol, int* fds);
    [DllImport("libc", SetLastError = true)] private static extern nint send(int fd, byte* buf, nint len, int flags);
    [DllImport("libc", SetLastError = true)] private static extern int shutdown(int fd, int how);
}
