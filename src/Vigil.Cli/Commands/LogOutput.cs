using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Vigil.Cli.Commands;

/// <summary>
/// Vigil's own output in a file (<c>--log</c>, and <c>-d</c>'s default), opened O_APPEND under its name so that SIGUSR2
/// can open it again after logrotate renamed it. Two levels, because .NET's Console keeps a duplicate of file
/// descriptor 1 and 2 from its first use: managed writes go through <see cref="Writer"/> (installed as Console.Out and
/// Console.Error, and swapped underneath on <see cref="Reopen"/>), and the descriptors themselves are pointed at the
/// file too, for whatever writes to them directly (the runtime's own last words).
/// </summary>
internal sealed class LogOutput
{
    private readonly string _path;
    private readonly Swappable _writer = new();
    // The runtime's copies of stdout and stderr (Detach.Duplicates), found before 1 and 2 are pointed elsewhere.
    private readonly List<int> _stdoutCopies = Detach.Duplicates(1);
    private List<int>? _stderrCopies;
    private int _fd = -1;

    private LogOutput(string path) => _path = path;

    /// <summary>What writes to the log; it stays the same object across reopens.</summary>
    public TextWriter Writer => _writer;

    public string Path => _path;

    /// <summary>Opens the log and makes it Vigil's stdout. Returns null and says why in <paramref name="error"/> when it
    /// cannot be opened.</summary>
    public static LogOutput? Open(string path, out string? error)
    {
        var log = new LogOutput(path);
        error = log.Reopen();
        if (error is not null) return null;
        Console.SetOut(log._writer);
        return log;
    }

    /// <summary>Stderr to the log as well: once the control socket answers, when nobody reads the start-up errors.</summary>
    public void TakeStderr()
    {
        _stderrCopies = Detach.Duplicates(2);
        Console.SetError(_writer);
        Detach.Point(2, _stderrCopies, _fd);
    }

    /// <summary>Opens the file again by name (after a rotation) and writes there from now on. Returns why it could not
    /// (the old file is kept then), or null.</summary>
    public string? Reopen()
    {
        int fd = Detach.Open(_path, Detach.O_WRONLY | Detach.O_APPEND | Detach.O_CREAT | Detach.O_CLOEXEC, 0x180 /* 0600 */);
        if (fd < 0) return Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
        Detach.Point(1, _stdoutCopies, fd);
        if (_stderrCopies is not null) Detach.Point(2, _stderrCopies, fd);
        var stream = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, bufferSize: 0);
        _writer.Swap(new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true });
        _fd = fd;
        return null;
    }

    /// <summary>A writer whose file changes underneath; every call under one lock (the printer and the engine's
    /// warnings write from different threads).</summary>
    private sealed class Swappable : TextWriter
    {
        private readonly object _gate = new();
        private StreamWriter? _inner;

        public override Encoding Encoding => Encoding.UTF8;

        public void Swap(StreamWriter next)
        {
            StreamWriter? old;
            lock (_gate) (old, _inner) = (_inner, next);
            old?.Dispose();
        }

        public override void Write(char value) { lock (_gate) _inner?.Write(value); }
        public override void Write(string? value) { lock (_gate) _inner?.Write(value); }
        public override void WriteLine(string? value) { lock (_gate) _inner?.WriteLine(value); }
        public override void Flush() { lock (_gate) _inner?.Flush(); }
    }
}
