using System.Net.Sockets;

namespace Vigil.Control;

/// <summary>
/// Newline-delimited framing over a stream socket, bounded: a line longer than <see cref="MaxLine"/> is reported as
/// such as soon as that many bytes have come without a newline, so a client cannot make the server buffer more. Not
/// thread-safe: one reader per connection. A line returned stays valid until the next <see cref="FillAsync"/>.
/// </summary>
internal sealed class LineReader(Socket socket, int maxLine)
{
    private byte[] _buffer = new byte[Math.Min(4096, maxLine + 1)];
    private int _start, _end;   // unread bytes: _buffer[_start.._end)
    private int _scanned;       // bytes after _start already known to hold no newline

    public enum Result { Line, NeedMore, TooLarge }

    public int MaxLine => maxLine;

    /// <summary>Bytes received that are not yet part of a whole line (a request in progress).</summary>
    public int Pending => _end - _start;

    /// <summary>The next whole line in the buffer, without its <c>\n</c> (and a <c>\r</c> before it).</summary>
    public Result TryTake(out ReadOnlyMemory<byte> line)
    {
        line = default;
        int at = _buffer.AsSpan(_start + _scanned, _end - _start - _scanned).IndexOf((byte)'\n');
        if (at < 0)
        {
            _scanned = _end - _start;
            return _scanned > maxLine ? Result.TooLarge : Result.NeedMore;
        }
        int length = _scanned + at;
        if (length > maxLine) return Result.TooLarge;
        int end = length > 0 && _buffer[_start + length - 1] == (byte)'\r' ? length - 1 : length;
        line = _buffer.AsMemory(_start, end);
        _start += length + 1;
        _scanned = 0;
        return Result.Line;
    }

    /// <summary>What is left when the other side has closed: a last line sent without its newline (as
    /// <c>printf … | socat</c> does), or nothing.</summary>
    public ReadOnlyMemory<byte> TakeRest()
    {
        var rest = _buffer.AsMemory(_start, _end - _start);
        _start = _end;
        _scanned = 0;
        return rest;
    }

    /// <summary>Receives more bytes; 0 when the other side has closed.</summary>
    public async ValueTask<int> FillAsync(CancellationToken cancel)
    {
        if (_start > 0 && (_start == _end || _end == _buffer.Length))
        {
            // Move what is unread to the front (its lines were handed out before this call, so nobody holds them).
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            // Full of one partial line: grow, up to what one line may hold plus its newline.
            int size = (int)Math.Min((long)_buffer.Length * 2, (long)maxLine + 2);
            if (size <= _buffer.Length) size = _buffer.Length + 1; // unreachable while TryTake runs between fills
            Array.Resize(ref _buffer, size);
        }
        int n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancel).ConfigureAwait(false);
        _end += n;
        return n;
    }
}
