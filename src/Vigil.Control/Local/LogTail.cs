using System.Globalization;
using System.Text;
using Vigil.Launching;
using Vigil.Logs;
using Vigil.Specs;
using Vigil.Supervision;

namespace Vigil.Control;

/// <summary>
/// Lines from units' log files that are older than what their in-memory rings hold, for a backlog longer than the
/// rings. Each file (and its rotated predecessors, <c>path.1</c> … <c>path.keep</c>) is read backwards from its end,
/// only as far as needed. The line format is <see cref="LogLineFormatter"/>'s.
/// </summary>
/// <remarks>
/// No line twice: a line is taken from a file only if it is older than the oldest line the rings hold for that file's
/// units and streams. Lines of one read share a millisecond timestamp, so at that millisecond the file's newest k lines
/// are the ring's k lines of that millisecond and are skipped. A file written without timestamps is matched by count:
/// its newest lines, as many as the rings hold for it, are skipped; its older lines have no time
/// (<see cref="DateTimeOffset.MinValue"/>). A file shared by several units tells its lines apart only with
/// <c>prefix: true</c>; without, they are given to the first of its units.
/// </remarks>
internal static class LogTail
{
    /// <summary>A unit writing a file, and which of its streams go there (null: both).</summary>
    public sealed record Writer(Unit Unit, StreamKind? Stream);

    private const int Block = 64 * 1024;
    /// <summary>A "line" longer than this (a file without newlines) is cut: lines are at most 16 MB (log.maxLine).</summary>
    private const int MaxLine = Limits.MaxLineBytes + 1024;

    /// <summary>Every log file of <paramref name="units"/> with the units writing it, in the order units and files come.</summary>
    public static List<(string Path, LogSpec Spec, List<Writer> Writers)> Files(IEnumerable<Unit> units)
    {
        var files = new List<(string, LogSpec, List<Writer>)>();
        foreach (var u in units)
        {
            if (u.Spec.Log is not { } log) continue;
            void Add(string? path, StreamKind? stream)
            {
                if (path is null) return;
                var full = Path.GetFullPath(path);
                var entry = files.FirstOrDefault(f => f.Item1 == full);
                if (entry.Item3 is null) files.Add((full, log, [new Writer(u, stream)]));
                else entry.Item3.Add(new Writer(u, stream));
            }
            Add(log.File, null);
            Add(log.Out, StreamKind.Stdout);
            Add(log.Err, StreamKind.Stderr);
        }
        return files;
    }

    /// <summary>
    /// Up to <paramref name="max"/> lines of <paramref name="path"/> older than <paramref name="ring"/> (the ring lines of
    /// its writers, of the streams that go to it), oldest first, each given to its unit; none older than
    /// <paramref name="since"/>.
    /// </summary>
    public static List<LogLine> Read(string path, LogSpec spec, IReadOnlyList<Writer> writers, IReadOnlyList<OutputLine> ring, int max, DateTimeOffset? since)
    {
        var taken = new List<LogLine>();
        if (max <= 0 || writers.Count == 0) return taken;
        // Without timestamps a line's age is unknown: nothing can be said to be after `since`.
        if (since is not null && !spec.Timestamps) return taken;
        DateTimeOffset? oldest = ring.Count > 0 ? Millisecond(ring.Min(l => l.Time)) : null;
        int sameMillisecond = oldest is { } o ? ring.Count(l => Millisecond(l.Time) == o) : 0;
        int byCount = spec.Timestamps ? 0 : ring.Count;
        foreach (var file in Generations(path, spec.Keep))
        {
            foreach (var raw in Backwards(file))
            {
                var line = Parse(raw, spec, writers);
                if (line is null) continue;
                if (line.Time != DateTimeOffset.MinValue && oldest is { } t0)
                {
                    if (line.Time > t0) continue;
                    if (line.Time == t0 && sameMillisecond > 0) { sameMillisecond--; continue; }
                }
                else if (byCount > 0) { byCount--; continue; }
                if (since is { } s && line.Time < s) { taken.Reverse(); return taken; } // files are in time order: the rest is older
                taken.Add(line);
                if (taken.Count >= max) { taken.Reverse(); return taken; }
            }
        }
        taken.Reverse();
        return taken;
    }

    /// <summary>The file, then its rotated predecessors newest first, as long as they exist.</summary>
    private static IEnumerable<string> Generations(string path, int keep)
    {
        if (File.Exists(path)) yield return path;
        for (int i = 1; i <= keep; i++)
        {
            var older = LogFileWriter.Rotated(path, i);
            if (!File.Exists(older)) yield break;
            yield return older;
        }
    }

    /// <summary>The lines of a file, last first, without their newlines. A file that cannot be read gives none.</summary>
    private static IEnumerable<byte[]> Backwards(string file)
    {
        FileStream fs;
        try { fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { yield break; }
        using (fs)
        {
            long position = fs.Length;
            var block = new byte[Block];
            var carry = new List<byte>(); // the start of a line whose end was in the block read before
            bool first = true;
            while (position > 0)
            {
                int n = (int)Math.Min(Block, position);
                position -= n;
                fs.Position = position;
                try { fs.ReadExactly(block, 0, n); }
                catch (Exception e) when (e is IOException or EndOfStreamException) { yield break; } // truncated meanwhile (rotation)
                var data = new byte[n + carry.Count];
                block.AsSpan(0, n).CopyTo(data);
                carry.CopyTo(data, n);
                carry.Clear();
                int end = data.Length;
                if (first)
                {
                    first = false;
                    if (end > 0 && data[end - 1] == (byte)'\n') end--; // the file's last newline ends its last line
                }
                while (true)
                {
                    int nl = data.AsSpan(0, end).LastIndexOf((byte)'\n');
                    if (nl < 0) break;
                    yield return data[(nl + 1)..end];
                    end = nl;
                }
                if (position == 0) { yield return data[..end]; yield break; }
                if (end > MaxLine) { yield return data[(end - MaxLine)..end]; end = 0; }
                carry.AddRange(data.AsSpan(0, end));
            }
        }
    }

    /// <summary>One file line in the protocol's form, given to the writer it names (or the first); null for a line of a
    /// unit outside <paramref name="writers"/> (another unit's prefix in a shared file).</summary>
    internal static LogLine? Parse(ReadOnlySpan<byte> b, LogSpec spec, IReadOnlyList<Writer> writers)
    {
        var time = DateTimeOffset.MinValue;
        if (spec.Timestamps && b.Length >= LogLineFormatter.TimestampLength && b[LogLineFormatter.TimestampLength - 1] == (byte)' '
            && DateTimeOffset.TryParseExact(Encoding.ASCII.GetString(b[..(LogLineFormatter.TimestampLength - 1)]), "yyyy-MM-dd'T'HH:mm:ss.fff'Z'",
                CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
        {
            time = t;
            b = b[LogLineFormatter.TimestampLength..];
        }
        StreamKind? stream = null;
        if (spec.Stream && b.Length >= 4 && b[3] == (byte)' ')
        {
            if (b.StartsWith("out "u8)) stream = StreamKind.Stdout;
            else if (b.StartsWith("err "u8)) stream = StreamKind.Stderr;
            if (stream is not null) b = b[4..];
        }
        var writer = writers[0];
        if (spec.Prefix)
        {
            Writer? named = null;
            int longest = -1;
            foreach (var w in writers)
            {
                var prefix = Encoding.UTF8.GetBytes(w.Unit.Name + ": ");
                if (prefix.Length > longest && b.StartsWith(prefix)) (named, longest) = (w, prefix.Length);
            }
            if (named is null) return null;
            writer = named;
            b = b[longest..];
        }
        if (b.EndsWith(LogLineFormatter.ContinuedMarker)) b = b[..^LogLineFormatter.ContinuedMarker.Length];
        var kind = stream ?? writer.Stream ?? StreamKind.Stdout;
        return new LogLine
        {
            Time = time, UnitId = writer.Unit.Id, Name = writer.Unit.Name, Pid = 0,
            Stream = kind == StreamKind.Stdout ? "out" : "err", Text = Encoding.UTF8.GetString(b),
        };
    }

    /// <summary>A time cut to the millisecond, as the file's timestamps are.</summary>
    public static DateTimeOffset Millisecond(DateTimeOffset t) =>
        new(t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerMillisecond, TimeSpan.Zero);
}
