using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Vigil.Launching;
using Vigil.Logs;
using Vigil.Supervision;

namespace Vigil.Control;

// Output: the backlog comes from each unit's ring and, when more is asked than the ring holds, from its log files
// (LogTail), merged across units by time. Following uses each unit's own ring follower (Unit.FollowOutput): it hands
// over the ring's lines and every later line with nothing missed or repeated in between (both are taken under the
// ring's lock), and it is bounded: a follower that falls behind skips the oldest lines and gets one line saying how
// many. The units' lines meet in one small channel; units that appear later (a reload, `vigil add`) join the stream
// when their first event is seen, with everything their ring holds.
public sealed partial class LocalControl
{
    /// <summary>Lines in flight between the units' followers and the reader of a follow stream.</summary>
    private const int FollowChannel = 1024;

    public Task<IReadOnlyList<LogLine>> LogsAsync(LogQuery query, CancellationToken cancel = default)
    {
        var units = Select(query);
        var rings = units.Select(u => (Unit: u, Lines: u.RecentOutput(query.Lines))).ToList();
        IReadOnlyList<LogLine> lines = Backlog(rings, query);
        return Task.FromResult(lines);
    }

    /// <summary>The units of a query (all for no names), after checking it.</summary>
    private IReadOnlyList<Unit> Select(LogQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Lines < 0 || query.Lines > ControlProtocol.MaxLogLines)
            throw new ControlException(ControlErrors.BadRequest, $"lines: must be from 0 to {ControlProtocol.MaxLogLines}, not {query.Lines}");
        return query.Names.Count == 0 ? Supervisor.Units : Resolve(query.Names);
    }

    /// <summary>The last <see cref="LogQuery.Lines"/> lines of these rings and, where the rings hold fewer, of the units'
    /// files, merged by time (each unit's and each file's own order kept), none before <see cref="LogQuery.Since"/>.</summary>
    private static List<LogLine> Backlog(IReadOnlyList<(Unit Unit, IReadOnlyList<OutputLine> Lines)> rings, LogQuery query)
    {
        int n = query.Lines;
        if (n == 0) return [];
        var sequences = new List<List<LogLine>>();
        var ringOf = rings.ToDictionary(r => r.Unit.Id, r => r.Lines);
        foreach (var (path, spec, writers) in LogTail.Files(rings.Select(r => r.Unit)))
        {
            // A unit whose ring alone holds n lines needs none of its file: its newest n lines are all in the ring.
            if (writers.All(w => ringOf[w.Unit.Id].Count >= n)) continue;
            var ring = writers.SelectMany(w => ringOf[w.Unit.Id].Where(l => w.Stream is null || l.Stream == w.Stream)).ToList();
            var fromFile = LogTail.Read(path, spec, writers, ring, n, query.Since);
            if (fromFile.Count > 0) sequences.Add(fromFile);
        }
        foreach (var (_, lines) in rings)
            sequences.Add([.. lines.Select(ToLine).Where(l => query.Since is null || l.Time >= query.Since)]);
        var merged = Merge(sequences);
        return merged.Count > n ? merged.GetRange(merged.Count - n, n) : merged;
    }

    /// <summary>A k-way merge by time: each sequence keeps its own order; ties go to the earlier sequence.</summary>
    private static List<LogLine> Merge(List<List<LogLine>> sequences)
    {
        var result = new List<LogLine>(sequences.Sum(s => s.Count));
        var heads = new PriorityQueue<(int Seq, int At), (DateTimeOffset, int)>();
        for (int i = 0; i < sequences.Count; i++)
            if (sequences[i].Count > 0) heads.Enqueue((i, 0), (sequences[i][0].Time, i));
        while (heads.TryDequeue(out var head, out _))
        {
            var seq = sequences[head.Seq];
            result.Add(seq[head.At]);
            if (head.At + 1 < seq.Count) heads.Enqueue((head.Seq, head.At + 1), (seq[head.At + 1].Time, head.Seq));
        }
        return result;
    }

    private static LogLine ToLine(OutputLine l)
    {
        long? skipped = null;
        var text = l.Text;
        // The ring follower's own notice of lines a slow reader missed.
        if (LineRing.IsSkipMarker(l) && long.TryParse(text.AsSpan(8, text.IndexOf(' ', 8) - 8), out long k)) skipped = k;
        return new LogLine
        {
            Time = l.Time, UnitId = l.UnitId, Name = l.Name, Pid = l.Pid, Stream = l.Stream == StreamKind.Stdout ? "out" : "err",
            Text = text, Skipped = skipped,
        };
    }

    public async IAsyncEnumerable<LogLine> FollowLogsAsync(LogQuery query, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        var session = new LogSession(this, query, cancel);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            _logSessions.Add(session); // before the units are listed: a unit added meanwhile is noticed either way
        }
        try
        {
            var backlog = session.Begin(Select(query));
            foreach (var line in backlog) yield return line;
            await foreach (var line in session.Live.ReadAllAsync(cancel).ConfigureAwait(false)) yield return line;
        }
        finally
        {
            lock (_gate) _logSessions.Remove(session);
            await session.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One <c>logs -f</c>: a ring follower per unit, pumped into one bounded channel.</summary>
    private sealed class LogSession(LocalControl owner, LogQuery query, CancellationToken cancel) : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        private readonly Channel<LogLine> _live = Channel.CreateBounded<LogLine>(new BoundedChannelOptions(FollowChannel)
        {
            FullMode = BoundedChannelFullMode.Wait, SingleReader = true,
        });
        private readonly HashSet<int> _followed = [];
        private readonly List<Task> _pumps = [];
        private readonly HashSet<string>? _names = query.Names.Count == 0 || query.Names is ["all"] ? null : [.. query.Names];
        private bool _begun;

        public ChannelReader<LogLine> Live => _live.Reader;

        /// <summary>Follows the units there are now; returns the backlog (rings and files), merged. Lines that come
        /// while it is being read are in the backlog or in the live stream, never both.</summary>
        public List<LogLine> Begin(IReadOnlyList<Unit> units)
        {
            var rings = new List<(Unit, IReadOnlyList<OutputLine>)>();
            lock (_followed)
            {
                foreach (var u in units)
                {
                    if (!_followed.Add(u.Id)) continue;
                    var follower = u.FollowOutput(query.Lines, _stop.Token).GetAsyncEnumerator(_stop.Token);
                    // The ring's lines (and any queued since) come at once, without waiting: they are the unit's backlog.
                    var initial = new List<OutputLine>();
                    ValueTask<bool> next;
                    while (true)
                    {
                        next = follower.MoveNextAsync();
                        if (!next.IsCompletedSuccessfully) break;
                        // A ValueTask is consumed once: the pump gets a fresh one for the end.
                        if (!next.Result) { next = new ValueTask<bool>(false); break; }
                        initial.Add(follower.Current);
                    }
                    rings.Add((u, initial));
                    _pumps.Add(PumpAsync(follower, next));
                }
                _begun = true;
            }
            return Backlog(rings, query);
        }

        /// <summary>An event of unit <paramref name="unitId"/>: a unit this stream wants but does not follow yet joins it.</summary>
        public void Notice(int unitId)
        {
            lock (_followed)
            {
                if (!_begun || _stop.IsCancellationRequested || _followed.Contains(unitId)) return;
                var unit = owner.Supervisor.Units.FirstOrDefault(u => u.Id == unitId);
                if (unit is null || (_names is not null && !_names.Contains(unit.Name))) return;
                _followed.Add(unitId);
                // A new unit's ring holds only what it wrote since it was added: all of it is news to this stream.
                var follower = unit.FollowOutput(unit.Spec.Log?.RingLines ?? Vigil.Specs.LogSpec.Default.RingLines, _stop.Token).GetAsyncEnumerator(_stop.Token);
                _pumps.Add(Task.Run(() => PumpAsync(follower, follower.MoveNextAsync())));
            }
        }

        private async Task PumpAsync(IAsyncEnumerator<OutputLine> follower, ValueTask<bool> next)
        {
            try
            {
                while (await next.ConfigureAwait(false))
                {
                    await _live.Writer.WriteAsync(ToLine(follower.Current), _stop.Token).ConfigureAwait(false);
                    next = follower.MoveNextAsync();
                }
            }
            catch (OperationCanceledException) { }
            catch (ChannelClosedException) { }
            catch (Exception e) { ControlLog.FollowFailed(owner._host.Logger, e.ToString(), e); }
            finally { await follower.DisposeAsync().ConfigureAwait(false); }
        }

        /// <summary>The control is going away: the stream ends after what is in flight.</summary>
        public void Complete()
        {
            try { _stop.Cancel(); }
            catch (ObjectDisposedException) { } // the stream has ended already
            _live.Writer.TryComplete();
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            Task[] pumps;
            lock (_followed) pumps = [.. _pumps];
            await Task.WhenAll(pumps).ConfigureAwait(false);
            _live.Writer.TryComplete();
            _stop.Dispose();
        }
    }
}
