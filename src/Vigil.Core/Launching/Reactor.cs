using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Vigil.Launching;

// Overview
// --------
// One thread waits in epoll_wait on every file descriptor Vigil watches: a pidfd per child (readable when the
// child exits) and the read end of each child's stdout/stderr pipe. .NET has no async read for anonymous pipes
// on Unix (PipeStream falls back to a blocking read on a thread-pool thread, one thread per pipe), so a single
// epoll loop is what keeps a hundred children cheap. Handlers run on this thread and must only copy data out
// and post messages; they never block.
// Each supervisor has its own (created by its OsLauncher, started before its first child so a child's first output is
// not kept waiting while the thread is created). Disposing it lets the thread end once nothing is registered any
// more: a detached unit's child outlives its supervisor and is still watched and reaped, with its exact status.
internal sealed unsafe class Reactor : IDisposable
{
    public interface IHandler
    {
        /// <summary>Called on the reactor thread when the fd is readable or hung up. Return false to unregister (the fd is then closed).</summary>
        bool OnReady(int fd, uint events);

        /// <summary>Called once when the reactor ends while this handler is still registered (epoll failed) or registers
        /// after the end.</summary>
        void OnAbandoned() { }
    }

    private readonly int _epfd;
    private readonly int _wakeFd;
    private readonly ConcurrentDictionary<int, (IHandler Handler, bool Close)> _handlers = new();
    private readonly Thread _thread;
    private readonly ILogger _log;
    private readonly object _gate = new();
    private volatile bool _disposed; // the loop ends as soon as nothing is registered
    private volatile bool _ended; // set under _gate: the loop has left, registrations are refused

    public Reactor(ILogger log)
    {
        _log = log;
        _epfd = Native.epoll_create1(Native.O_CLOEXEC);
        if (_epfd < 0) throw new InvalidOperationException("epoll_create1 failed: " + Native.Describe(Native.Errno));
        _wakeFd = Native.eventfd(0, Native.O_CLOEXEC | Native.O_NONBLOCK);
        Add(_wakeFd);
        _thread = new Thread(Loop) { IsBackground = true, Name = "vigil-reactor" };
        _thread.Start();
    }

    /// <summary>True once the thread has left its loop (after <see cref="Dispose"/>, when nothing was registered).</summary>
    internal bool Ended => _ended;

    public void Register(int fd, IHandler handler, bool closeOnRemove)
    {
        lock (_gate)
        {
            if (!_ended)
            {
                _handlers[fd] = (handler, closeOnRemove);
                Add(fd);
                return;
            }
        }
        if (closeOnRemove) Native.close(fd);
        handler.OnAbandoned();
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
        if (_ended) return; // the epoll fd is closed (its number may be another file's)
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
        while (!(_disposed && Idle()))
        {
            int n = Native.epoll_wait(_epfd, events, max, -1);
            if (n < 0)
            {
                if (Native.Errno == Native.EINTR) continue;
                break;
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
                    LaunchingLog.ReactorHandlerFailed(_log, fd, e.ToString(), e);
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
        End();
    }

    /// <summary>After <see cref="Dispose"/>: true, and registrations are refused from now on, when nothing is registered.</summary>
    private bool Idle()
    {
        lock (_gate)
        {
            if (!_handlers.IsEmpty) return false;
            _ended = true;
            return true;
        }
    }

    /// <summary>On the reactor thread, after its loop: closes what is still registered and tells the handlers.</summary>
    private void End()
    {
        List<(IHandler Handler, bool Close)> left;
        lock (_gate)
        {
            _ended = true;
            left = [];
            foreach (var (fd, h) in _handlers)
            {
                left.Add(h);
                if (h.Close) Native.close(fd);
            }
            _handlers.Clear();
        }
        Native.close(_wakeFd);
        Native.close(_epfd);
        foreach (var h in left)
        {
            try { h.Handler.OnAbandoned(); }
            catch (Exception e) { LaunchingLog.ReactorHandlerFailed(_log, -1, e.ToString(), e); }
        }
    }

    /// <summary>Lets the reactor thread end: at once when nothing is registered, else after the last fd is done.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed || _ended) return; // once ended, the wake fd is closed (its number may be another file's)
            _disposed = true;
            ulong one = 1;
            Native.write(_wakeFd, (byte*)&one, 8);
        }
    }
}
