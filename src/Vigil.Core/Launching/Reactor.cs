using System.Collections.Concurrent;

namespace Vigil.Launching;

// Overview
// --------
// One thread waits in epoll_wait on every file descriptor Vigil watches: a pidfd per child (readable when the
// child exits) and the read end of each child's stdout/stderr pipe. .NET has no async read for anonymous pipes
// on Unix (PipeStream falls back to a blocking read on a thread-pool thread, one thread per pipe), so a single
// epoll loop is what keeps a hundred children cheap. Handlers run on this thread and must only copy data out
// and post messages; they never block.
internal sealed unsafe class Reactor : IDisposable
{
    public interface IHandler
    {
        /// <summary>Called on the reactor thread when the fd is readable or hung up. Return false to unregister (the fd is then closed).</summary>
        bool OnReady(int fd, uint events);
    }

    public static Reactor Shared { get; } = new();

    /// <summary>Starts the reactor thread now (a supervisor does, before its first child), so a child's first output
    /// is not kept waiting while the thread is created.</summary>
    public static void Start() => _ = Shared;

    private readonly int _epfd;
    private readonly int _wakeFd;
    private readonly ConcurrentDictionary<int, (IHandler Handler, bool Close)> _handlers = new();
    private readonly Thread _thread;
    private volatile bool _disposed;

    private Reactor()
    {
        _epfd = Native.epoll_create1(Native.O_CLOEXEC);
        if (_epfd < 0) throw new InvalidOperationException("epoll_create1 failed: " + Native.Describe(Native.Errno));
        _wakeFd = Native.eventfd(0, Native.O_CLOEXEC | Native.O_NONBLOCK);
        Add(_wakeFd);
        _thread = new Thread(Loop) { IsBackground = true, Name = "vigil-reactor" };
        _thread.Start();
    }

    public void Register(int fd, IHandler handler, bool closeOnRemove)
    {
        _handlers[fd] = (handler, closeOnRemove);
        Add(fd);
    }

    /// <summary>Stops watching <paramref name="fd"/> for input (it stays registered) until <see cref="Resume"/>.
    /// Any thread.</summary>
    public void Pause(int fd) => Modify(fd, 0);

    /// <summary>Watches a paused fd again. Harmless when it has been unregistered meanwhile.</summary>
    public void Resume(int fd)
    {
        if (_handlers.ContainsKey(fd)) Modify(fd, Native.EPOLLIN);
    }

    private void Modify(int fd, uint events)
    {
        byte* ev = stackalloc byte[16];
        Native.WriteEpollEvent(ev, events, (ulong)fd);
        Native.epoll_ctl(_epfd, Native.EPOLL_CTL_MOD, fd, ev); // ENOENT: the fd ended meanwhile
    }

    private void Add(int fd)
    {
        byte* ev = stackalloc byte[16];
        Native.WriteEpollEvent(ev, Native.EPOLLIN, (ulong)fd);
        if (Native.epoll_ctl(_epfd, Native.EPOLL_CTL_ADD, fd, ev) < 0)
            throw new InvalidOperationException($"epoll_ctl(ADD, {fd}) failed: " + Native.Describe(Native.Errno));
    }

    private void Loop()
    {
        const int max = 64;
        int size = Native.EpollEventSize;
        byte* events = stackalloc byte[max * 16];
        while (!_disposed)
        {
            int n = Native.epoll_wait(_epfd, events, max, -1);
            if (n < 0)
            {
                if (Native.Errno == Native.EINTR) continue;
                return;
            }
            for (int i = 0; i < n; i++)
            {
                var (ev, data) = Native.ReadEpollEvent(events + i * size);
                int fd = (int)data;
                if (fd == _wakeFd)
                {
                    ulong v;
                    Native.read(_wakeFd, (byte*)&v, 8);
                    continue;
                }
                if (!_handlers.TryGetValue(fd, out var h)) continue;
                bool keep;
                try { keep = h.Handler.OnReady(fd, ev); }
                catch (Exception e)
                {
                    // A handler bug must not take down the loop every child depends on.
                    Console.Error.WriteLine($"vigil: reactor handler for fd {fd} failed: {e}");
                    keep = false;
                }
                if (!keep)
                {
                    _handlers.TryRemove(fd, out _);
                    Native.epoll_ctl(_epfd, Native.EPOLL_CTL_DEL, fd, null);
                    if (h.Close) Native.close(fd);
                }
            }
        }
    }

    public void Dispose()
    {
        _disposed = true;
        ulong one = 1;
        Native.write(_wakeFd, (byte*)&one, 8);
    }
}
