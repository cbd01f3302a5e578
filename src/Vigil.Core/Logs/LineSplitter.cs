using System.Runtime.CompilerServices;

namespace Vigil.Logs;

/// <summary>Receives the lines of a <see cref="LineSplitter"/>. A struct implementation lets the JIT specialise and
/// inline the per-line call (the capture hot path).</summary>
public interface ILineSink
{
    void Line(ReadOnlySpan<byte> line, bool continued);
}

/// <summary>
/// Splits a byte stream into lines on <c>\n</c> (a preceding <c>\r</c> is dropped too), bytes passed through
/// unchanged (invalid UTF-8 is kept). A line longer than <see cref="MaxLine"/> is emitted in pieces, each but the
/// last flagged <c>continued</c>, so memory stays bounded. <see cref="Flush{TSink}"/> emits a partial last line.
/// Not thread-safe: one splitter per stream, fed from one thread.
/// </summary>
public sealed class LineSplitter(int maxLine = LineSplitter.DefaultMaxLine)
{
    public const int DefaultMaxLine = 64 * 1024;

    // A partial line waiting for its end. Allocated when one comes (most chunks end with a newline), and let go once
    // a long one is out, so an idle or line-buffered child's splitter holds no buffer.
    private byte[] _pending = [];
    private int _pendingLength;
    private const int KeepPending = 4096;

    public int MaxLine { get; } = maxLine > 0 ? maxLine : throw new ArgumentOutOfRangeException(nameof(maxLine));

    /// <summary>Splits <paramref name="data"/>, handing each whole line to <paramref name="onLine"/>; a trailing partial
    /// line is kept for the next call.</summary>
    public void Feed<TSink>(ReadOnlySpan<byte> data, ref TSink onLine) where TSink : struct, ILineSink
    {
        while (!data.IsEmpty)
        {
            int nl = data.IndexOf((byte)'\n');
            if (nl < 0)
            {
                Append(data, ref onLine);
                return;
            }
            var head = data[..nl];
            data = data[(nl + 1)..];
            if (_pendingLength == 0)
            {
                EmitWhole(head, ref onLine);
            }
            else
            {
                Append(head, ref onLine);
                EmitPending(ref onLine);
            }
        }
    }

    /// <summary>Emits what is buffered as a final line (the child exited without a trailing newline).</summary>
    public void Flush<TSink>(ref TSink onLine) where TSink : struct, ILineSink
    {
        if (_pendingLength == 0) return;
        EmitPending(ref onLine);
    }

    private void EmitPending<TSink>(ref TSink onLine) where TSink : struct, ILineSink
    {
        var line = _pending.AsSpan(0, _pendingLength);
        _pendingLength = 0;
        EmitWhole(line, ref onLine);
        if (_pending.Length > KeepPending) _pending = [];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void EmitWhole<TSink>(ReadOnlySpan<byte> line, ref TSink onLine) where TSink : struct, ILineSink
    {
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];
        while (line.Length > MaxLine)
        {
            onLine.Line(line[..MaxLine], true);
            line = line[MaxLine..];
        }
        onLine.Line(line, false);
    }

    private void Append<TSink>(ReadOnlySpan<byte> data, ref TSink onLine) where TSink : struct, ILineSink
    {
        while (_pendingLength + data.Length > MaxLine)
        {
            // Over the bound: emit a full piece now rather than buffer without limit.
            int take = MaxLine - _pendingLength;
            EnsureCapacity(MaxLine);
            data[..take].CopyTo(_pending.AsSpan(_pendingLength));
            onLine.Line(_pending.AsSpan(0, MaxLine), true);
            _pendingLength = 0;
            data = data[take..];
        }
        EnsureCapacity(_pendingLength + data.Length);
        data.CopyTo(_pending.AsSpan(_pendingLength));
        _pendingLength += data.Length;
    }

    private void EnsureCapacity(int n)
    {
        if (n <= _pending.Length) return;
        Array.Resize(ref _pending, Math.Min(MaxLine, Math.Max(n, Math.Max(256, _pending.Length * 2))));
    }
}
