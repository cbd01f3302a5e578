using System.Globalization;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Supervision;

namespace Vigil.Telemetry.History;

// Overview
// --------
// Every event of a supervisor, appended to an SQLite database (state.db in the instance's StateFolder), so that the
// reliability statistics (Reliability.cs) survive Vigil's restarts, reloads and crashes: they are computed from the
// rows, so nothing needs to be carried over in memory.
//
// Writes never block a unit. Events reach Record through the supervisor's own per-reader queue; Record only puts them
// in a bounded queue (QueueSize; a full queue drops and counts). One writer task drains it in batches of up to
// MaxBatch rows, each batch one transaction.
//
// Durability: WAL mode with synchronous=NORMAL. A batch's COMMIT appends it to the WAL with write(2) before it
// returns, so it is in the kernel's page cache and survives a crash or SIGKILL of Vigil (not of the machine: the WAL is
// fsynced at checkpoints, so a power loss may take the commits since the last one; FULL would fsync every batch, a
// cost the crash-loop bench shows). The writer commits as soon as it finds the queue non-empty, so an event is durable
// within one batch's write of being published (milliseconds); only the events still queued at the instant of a
// SIGKILL are lost. FlushAsync waits for everything queued so far (status and report read after one).
//
// Failures: an SQLite error while writing (disk full, I/O error, a database broken under us) drops that batch, counts
// it, announces history-failed once, waits a second, and tries again with the next batch; the first batch that works
// announces history-resumed with the count. A database that is not one or is corrupt at start is moved aside
// (state.db.corrupt-<time>) with a warning and a new one is made: history is never a reason not to supervise. A
// database path someone else could have prepared (a symlink, another user's file) is refused: HistoryException.
//
// Runs: each Vigil process is a row of `runs` with the last time it was known alive (updated with every batch and
// every AliveEvery). The run's vigil-started row opens it; vigil-stopped closes it at an orderly exit, or, for a Vigil
// that died, at the next start, dated at its last sign of life (so a SIGKILL costs at most AliveEvery of timeline).
//
// Retention: rows older than `keep` are deleted at start and every PruneEvery; past `maxSize` bytes of pages in use
// (checked at start and every AliveEvery), the oldest tenth of the rows goes until it fits, then the freed pages are
// given back (auto_vacuum=incremental).

/// <summary>Appends a supervisor's events to <c>state.db</c> and reads them back for the statistics.</summary>
public sealed partial class HistoryStore : IAsyncDisposable
{
    /// <summary>The schema this code writes (the <c>meta</c> table's <c>schema</c>); an older one is migrated, a newer refused.</summary>
    public const int SchemaVersion = 1;
    public const int QueueSize = 10_000;
    public const int MaxBatch = 1_000;
    public static readonly TimeSpan AliveEvery = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan PruneEvery = TimeSpan.FromHours(1);
    /// <summary>The pause after a failed batch, so a full disk is not hammered.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);

    private readonly string _path;
    private readonly HistorySettings _settings;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly SqliteConnection _db;
    private readonly Channel<Item> _queue = Channel.CreateBounded<Item>(new BoundedChannelOptions(QueueSize)
    {
        SingleReader = true, FullMode = BoundedChannelFullMode.Wait,
    });
    private readonly Task _writer;
    private readonly ITimer _alive;
    private Task _pump = Task.CompletedTask;
    private Action<UnitEvent>? _announce;
    private long _dropped, _droppedSinceFailure;
    private bool _failing;
    private DateTimeOffset _lastPrune;
    private int _disposed;

    private abstract record Item;
    private sealed record EventItem(UnitEvent Event) : Item;
    private sealed record FlushItem(TaskCompletionSource Done) : Item;
    private sealed record TickItem : Item;

    private HistoryStore(string path, HistorySettings settings, TimeProvider time, ILogger log, SqliteConnection db, long run)
    {
        _path = path;
        _settings = settings;
        _time = time;
        _log = log;
        _db = db;
        Run = run;
        _lastPrune = time.GetUtcNow();
        _writer = Task.Run(WriteAsync);
        _alive = time.CreateTimer(_ => _queue.Writer.TryWrite(new TickItem()), null, AliveEvery, AliveEvery);
    }

    /// <summary>The database file.</summary>
    public string Path => _path;

    /// <summary>This Vigil's run number (the <c>runs</c> row).</summary>
    public long Run { get; }

    /// <summary>The config's <c>history:</c> this store keeps to.</summary>
    public HistorySettings Settings => _settings;

    /// <summary>How long events are kept.</summary>
    public TimeSpan Keep => _settings.Keep;

    /// <summary>Events lost so far: the queue was full, or their batch could not be written.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>
    /// Opens (or makes) <paramref name="path"/>, moves a corrupt one aside, closes the run of a Vigil that died without
    /// closing it, prunes, and records this run's <c>vigil-started</c>.
    /// </summary>
    /// <exception cref="HistoryException">The path cannot be used safely (a symlink, someone else's file), or the
    /// database was written by a newer Vigil.</exception>
    public static HistoryStore Open(string path, HistorySettings settings, TimeProvider? time = null, ILogger? log = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(settings);
        time ??= TimeProvider.System;
        log ??= NullLogger.Instance;
        path = System.IO.Path.GetFullPath(path);
        foreach (var f in new[] { path, path + "-wal", path + "-shm" })
            if (StateFolder.FileRefusal(f) is { } why) throw new HistoryException($"refusing to use {f}: {why}; remove it, or turn history off with 'history: false'");
        SqliteConnection db;
        try { db = Connect(path); }
        catch (SqliteException e) when (IsBroken(e))
        {
            var aside = MoveAside(path, time);
            HistoryLog.MovedAside(log, path, e.Message, aside);
            db = Connect(path);
        }
        try
        {
            long run = Begin(db, time, settings);
            return new HistoryStore(path, settings, time, log, db, run);
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    /// <summary>Opens, checks and (for a new file) creates the schema. A database that is no database or fails its
    /// quick check throws an <see cref="SqliteException"/> that <see cref="IsBroken"/> recognises.</summary>
    private static SqliteConnection Connect(string path)
    {
        if (StateFolder.Create(path) is { } why) throw new HistoryException($"cannot use {path}: {why}");
        var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ConnectionString);
        try
        {
            db.Open();
            var check = Scalar(db, "PRAGMA quick_check") as string;
            if (check != "ok") throw new SqliteException($"database disk image is malformed ({check})", 11);
            // The version first: a newer Vigil's database is left exactly as it is.
            int version = Convert.ToInt32(Scalar(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'meta'"), CultureInfo.InvariantCulture) == 0
                ? 0 : Convert.ToInt32(Scalar(db, "SELECT value FROM meta WHERE key = 'schema'") ?? "0", CultureInfo.InvariantCulture);
            if (version > SchemaVersion)
                throw new HistoryException($"{path} was written by a newer vigil (schema {version}; this one knows {SchemaVersion}); move it away, or turn history off with 'history: false'");
            Exec(db, "PRAGMA auto_vacuum = INCREMENTAL"); // takes effect only before the first table: a new file
            Exec(db, "PRAGMA journal_mode = WAL");
            Exec(db, "PRAGMA synchronous = NORMAL");
            Exec(db, "PRAGMA busy_timeout = 5000");
            if (version == 0) Exec(db, Schema);
            return db;
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    private const string Schema = """
        BEGIN;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
        CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, pid INTEGER NOT NULL, started INTEGER NOT NULL,
            alive INTEGER NOT NULL, stopped INTEGER);
        CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, run INTEGER NOT NULL,
            unit_id INTEGER NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, pid INTEGER, state TEXT NOT NULL,
            reason TEXT NOT NULL, exit_code INTEGER, signal INTEGER, core_dumped INTEGER NOT NULL DEFAULT 0,
            oom INTEGER NOT NULL DEFAULT 0, expected INTEGER, probe TEXT, why TEXT, restart INTEGER);
        CREATE INDEX events_time ON events (time);
        CREATE INDEX events_name_time ON events (name, time);
        COMMIT;
        """;

    /// <summary>SQLITE_CORRUPT (11) and SQLITE_NOTADB (26): the file is not a usable database.</summary>
    private static bool IsBroken(SqliteException e) => e.SqliteErrorCode is 11 or 26;

    /// <summary>Renames the database (and its WAL and shared-memory files) to <c>state.db.corrupt-&lt;UTC time&gt;</c>.</summary>
    private static string MoveAside(string path, TimeProvider time)
    {
        var aside = path + ".corrupt-" + time.GetUtcNow().ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        foreach (var suffix in new[] { "", "-wal", "-shm" })
            if (File.Exists(path + suffix)) File.Move(path + suffix, aside + suffix, overwrite: true);
        return aside;
    }

    /// <summary>Closes the runs of Vigils that died, prunes, and opens this run.</summary>
    private static long Begin(SqliteConnection db, TimeProvider time, HistorySettings settings)
    {
        var now = time.GetUtcNow();
        using var tx = db.BeginTransaction();
        var dead = new List<(long Id, long Pid, long Alive)>();
        using (var q = Command(db, "SELECT id, pid, alive FROM runs WHERE stopped IS NULL"))
        using (var r = q.ExecuteReader())
            while (r.Read()) dead.Add((r.GetInt64(0), r.GetInt64(1), r.GetInt64(2)));
        foreach (var (id, pid, alive) in dead)
        {
            var at = DateTimeOffset.FromUnixTimeMilliseconds(alive);
            Insert(db, new HistoryEvent(at, id, 0, "vigil", HistoryEvent.VigilStopped, (int)pid, "initial",
                string.Create(CultureInfo.InvariantCulture, $"vigil#{pid} ended without stopping (killed or crashed); last known alive at {at:yyyy-MM-dd HH:mm:ss}Z")));
            using var u = Command(db, "UPDATE runs SET stopped = $t WHERE id = $id", ("$t", alive), ("$id", id));
            u.ExecuteNonQuery();
        }
        long ms = now.ToUnixTimeMilliseconds();
        long run;
        using (var ins = Command(db, "INSERT INTO runs (pid, started, alive) VALUES ($pid, $t, $t); SELECT last_insert_rowid()",
            ("$pid", Environment.ProcessId), ("$t", ms)))
            run = (long)ins.ExecuteScalar()!;
        Insert(db, new HistoryEvent(now, run, 0, "vigil", HistoryEvent.VigilStarted, Environment.ProcessId, "initial",
            string.Create(CultureInfo.InvariantCulture, $"vigil#{Environment.ProcessId} started")));
        tx.Commit();
        Prune(db, now, settings);
        return run;
    }

    /// <summary>Where history-failed and history-resumed go (set by <see cref="Follow"/>: the supervisor's events).</summary>
    internal Action<UnitEvent>? Announce
    {
        get => _announce;
        set => _announce = value;
    }

    /// <summary>Records every event of <paramref name="supervisor"/> from now on (call before any unit starts), and
    /// announces history-failed / history-resumed through it. Dispose the supervisor before this store: its last
    /// events are then recorded before <c>vigil-stopped</c>.</summary>
    public void Follow(Supervisor supervisor)
    {
        ArgumentNullException.ThrowIfNull(supervisor);
        _announce = supervisor.Announce;
        _pump = PumpAsync(supervisor.Events());
    }

    // Starts enumerating at once: the supervisor registers the reader before this returns, so no event is missed.
    private async Task PumpAsync(IAsyncEnumerable<UnitEvent> events)
    {
        await foreach (var ev in events.ConfigureAwait(false)) Record(ev);
    }

    /// <summary>Queues <paramref name="ev"/> for the writer; never blocks (a full queue drops it and counts it).</summary>
    public void Record(UnitEvent ev)
    {
        ArgumentNullException.ThrowIfNull(ev);
        if (!_queue.Writer.TryWrite(new EventItem(ev))) Interlocked.Increment(ref _dropped);
    }

    /// <summary>Completes once everything queued before the call is written (or dropped).</summary>
    public async Task FlushAsync(CancellationToken cancel = default)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The flush waits for room rather than being dropped: it is a reader's request, not a unit's event.
        await _queue.Writer.WriteAsync(new FlushItem(done), cancel).ConfigureAwait(false);
        await done.Task.WaitAsync(cancel).ConfigureAwait(false);
    }

    private async Task WriteAsync()
    {
        var batch = new List<UnitEvent>(MaxBatch);
        var flushes = new List<TaskCompletionSource>();
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            bool tick = false;
            while (batch.Count < MaxBatch && reader.TryRead(out var item))
            {
                switch (item)
                {
                    case EventItem e: batch.Add(e.Event); break;
                    case FlushItem f: flushes.Add(f.Done); break;
                    case TickItem: tick = true; break;
                }
            }
            if (batch.Count > 0 || tick) await WriteBatchAsync(batch).ConfigureAwait(false);
            if (tick) PruneIfDue();
            foreach (var f in flushes) f.TrySetResult();
            batch.Clear();
            flushes.Clear();
        }
    }

    /// <summary>By age every <see cref="PruneEvery"/>; by size at every tick, so a crash loop cannot outgrow maxSize by
    /// more than <see cref="AliveEvery"/>'s worth of rows.</summary>
    private void PruneIfDue()
    {
        try
        {
            var now = _time.GetUtcNow();
            if (now - _lastPrune >= PruneEvery || UsedBytes(_db) > _settings.MaxSize)
            {
                _lastPrune = now;
                Prune(_db, now, _settings);
            }
        }
        catch (SqliteException e) { HistoryLog.PruneFailed(_log, _path, e.Message); }
    }

    private async Task WriteBatchAsync(List<UnitEvent> batch)
    {
        try
        {
            using (var tx = _db.BeginTransaction())
            {
                foreach (var ev in batch) Insert(_db, HistoryEvent.From(ev, Run));
                using (var alive = Command(_db, "UPDATE runs SET alive = $t WHERE id = $id", ("$t", _time.GetUtcNow().ToUnixTimeMilliseconds()), ("$id", Run)))
                    alive.ExecuteNonQuery();
                tx.Commit();
            }
            if (_failing)
            {
                _failing = false;
                _announce?.Invoke(new HistoryResumed(_time.GetUtcNow(), _path, Interlocked.Exchange(ref _droppedSinceFailure, 0)));
            }
        }
        catch (Exception e) when (e is SqliteException or InvalidOperationException or IOException)
        {
            Interlocked.Add(ref _dropped, batch.Count);
            Interlocked.Add(ref _droppedSinceFailure, batch.Count);
            if (!_failing)
            {
                _failing = true;
                HistoryLog.WriteFailed(_log, _path, e.Message);
                _announce?.Invoke(new HistoryFailed(_time.GetUtcNow(), _path, e.Message));
            }
            try { await Task.Delay(RetryAfter, _time).ConfigureAwait(false); }
            catch (ObjectDisposedException) { }
        }
    }

    private static void Insert(SqliteConnection db, HistoryEvent e)
    {
        using var c = Command(db, """
            INSERT INTO events (time, run, unit_id, name, kind, pid, state, reason, exit_code, signal, core_dumped, oom, expected, probe, why, restart)
            VALUES ($time, $run, $unit, $name, $kind, $pid, $state, $reason, $code, $signal, $core, $oom, $expected, $probe, $why, $restart)
            """,
            ("$time", e.Time.ToUnixTimeMilliseconds()), ("$run", e.Run), ("$unit", e.UnitId), ("$name", e.Name), ("$kind", e.Kind),
            ("$pid", e.Pid), ("$state", e.State), ("$reason", e.Reason), ("$code", e.ExitCode), ("$signal", e.Signal),
            ("$core", e.CoreDumped), ("$oom", e.Oom), ("$expected", e.Expected), ("$probe", e.Probe), ("$why", e.Why), ("$restart", e.Restart));
        c.ExecuteNonQuery();
    }

    /// <summary>Deletes rows older than the retention, then the oldest until the pages in use fit in maxSize.</summary>
    private static void Prune(SqliteConnection db, DateTimeOffset now, HistorySettings settings)
    {
        using (var old = Command(db, "DELETE FROM events WHERE time < $t", ("$t", (now - settings.Keep).ToUnixTimeMilliseconds())))
            old.ExecuteNonQuery();
        bool shrunk = false;
        while (UsedBytes(db) > settings.MaxSize)
        {
            long rows = Convert.ToInt64(Scalar(db, "SELECT COUNT(*) FROM events"), CultureInfo.InvariantCulture);
            if (rows == 0) break;
            using var cut = Command(db, "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT $n)", ("$n", Math.Max(1, rows / 10)));
            cut.ExecuteNonQuery();
            shrunk = true;
        }
        if (shrunk || Convert.ToInt64(Scalar(db, "PRAGMA freelist_count"), CultureInfo.InvariantCulture) > 0)
        {
            Exec(db, "PRAGMA incremental_vacuum");
            Exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
        }
    }

    private static long UsedBytes(SqliteConnection db)
    {
        long pages = Convert.ToInt64(Scalar(db, "PRAGMA page_count"), CultureInfo.InvariantCulture);
        long free = Convert.ToInt64(Scalar(db, "PRAGMA freelist_count"), CultureInfo.InvariantCulture);
        long size = Convert.ToInt64(Scalar(db, "PRAGMA page_size"), CultureInfo.InvariantCulture);
        return (pages - free) * size;
    }

    /// <summary>
    /// The rows since <paramref name="since"/> of the units named <paramref name="name"/> (every unit when null), with
    /// the <c>vigil-started</c>/<c>vigil-stopped</c> rows, in the order they happened. Reads on a connection of its own
    /// (WAL: readers do not wait for the writer); call <see cref="FlushAsync"/> first to see what is still queued.
    /// </summary>
    public IReadOnlyList<HistoryEvent> Read(DateTimeOffset since, string? name = null)
    {
        using var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _path, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ConnectionString);
        db.Open();
        Exec(db, "PRAGMA busy_timeout = 5000");
        using var q = Command(db, """
            SELECT time, run, unit_id, name, kind, pid, state, reason, exit_code, signal, core_dumped, oom, expected, probe, why, restart
            FROM events WHERE time >= $since AND ($name IS NULL OR name = $name OR unit_id = 0) ORDER BY time, id
            """, ("$since", since.ToUnixTimeMilliseconds()), ("$name", name));
        using var r = q.ExecuteReader();
        var rows = new List<HistoryEvent>();
        int? Int(int i) => r.IsDBNull(i) ? null : r.GetInt32(i);
        string? Text(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        while (r.Read())
        {
            rows.Add(new HistoryEvent(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0)), r.GetInt64(1), r.GetInt32(2), r.GetString(3),
                r.GetString(4), Int(5), r.GetString(6), r.GetString(7))
            {
                ExitCode = Int(8), Signal = Int(9), CoreDumped = r.GetBoolean(10), Oom = r.GetBoolean(11),
                Expected = r.IsDBNull(12) ? null : r.GetBoolean(12), Probe = Text(13), Why = Text(14), Restart = Int(15),
            });
        }
        return rows;
    }

    /// <summary>Every unit's history over the retention period, as of now (after writing what is queued).</summary>
    public async Task<IReadOnlyDictionary<string, UnitHistory>> HistoriesAsync(string? name = null, CancellationToken cancel = default)
    {
        await FlushAsync(cancel).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        return UnitHistory.Build(Read(now - _settings.Keep, name), now);
    }

    private static SqliteCommand Command(SqliteConnection db, string sql, params (string Name, object? Value)[] args)
    {
        var c = db.CreateCommand();
        c.CommandText = sql;
        foreach (var (n, v) in args) c.Parameters.AddWithValue(n, v ?? DBNull.Value);
        return c;
    }

    private static object? Scalar(SqliteConnection db, string sql)
    {
        using var c = Command(db, sql);
        return c.ExecuteScalar();
    }

    private static void Exec(SqliteConnection db, string sql)
    {
        using var c = Command(db, sql);
        c.ExecuteNonQuery();
    }

    /// <summary>Writes what is queued, then this run's <c>vigil-stopped</c>, and closes the database.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _pump.ConfigureAwait(false);
        await _alive.DisposeAsync().ConfigureAwait(false);
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        try
        {
            var now = _time.GetUtcNow();
            using var tx = _db.BeginTransaction();
            Insert(_db, new HistoryEvent(now, Run, 0, "vigil", HistoryEvent.VigilStopped, Environment.ProcessId, "initial",
                string.Create(CultureInfo.InvariantCulture, $"vigil#{Environment.ProcessId} stopped")));
            using (var u = Command(_db, "UPDATE runs SET alive = $t, stopped = $t WHERE id = $id", ("$t", now.ToUnixTimeMilliseconds()), ("$id", Run)))
                u.ExecuteNonQuery();
            tx.Commit();
        }
        catch (SqliteException e) { HistoryLog.WriteFailed(_log, _path, e.Message); }
        _db.Dispose();
    }
}
