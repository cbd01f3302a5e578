using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Vigil.Launching;
using Vigil.Supervision;
using Vigil.Telemetry.History;
using Vigil.Tests.Logs;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Telemetry.History;

/// <summary><see cref="HistoryStore"/> on a real SQLite file: what it keeps, prunes, refuses and survives.</summary>
public sealed class HistoryStoreTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-history-");
    private string Db => Path.Combine(_dir.FullName, "state.db");

    public void Dispose() => _dir.Delete(recursive: true);

    private static Spawned Spawn(DateTimeOffset at, int restart = 0, string name = "worker") => new(at, 1, name, 100 + restart, "work", restart);

    private static async Task<List<HistoryEvent>> Rows(HistoryStore store)
    {
        await store.FlushAsync().WaitAsync(Wait);
        return [.. store.Read(DateTimeOffset.MinValue.AddYears(1))];
    }

    [Fact]
    public async Task Events_are_stored_with_the_fields_the_statistics_need_and_read_back_after_a_reopen()
    {
        var clock = new FakeTimeProvider();
        var t = clock.GetUtcNow();
        long firstRun;
        await using (var store = HistoryStore.Open(Db, HistorySettings.Default, clock))
        {
            firstRun = store.Run;
            store.Record(Spawn(t));
            store.Record(new Exited(t, 1, "worker", 100, UnitState.Backoff, ExitStatus.Killed(Signals.SIGKILL) with { OomKilled = true }, TimeSpan.FromSeconds(3), Expected: false));
            store.Record(new Unhealthy(t, 1, "worker", 100, UnitState.Running, "quiet", "hung: no output for 2m", 3, Vigil.Specs.ProbeAction.Notify));
            await store.FlushAsync().WaitAsync(Wait);
        }
        await using var again = HistoryStore.Open(Db, HistorySettings.Default, clock);
        var rows = await Rows(again);

        Assert.Equal(firstRun + 1, again.Run);
        Assert.Equal([HistoryEvent.VigilStarted, "spawned", "killed", "unhealthy", HistoryEvent.VigilStopped, HistoryEvent.VigilStarted], rows.Select(r => r.Kind));
        var killed = rows[2];
        Assert.Equal((null, Signals.SIGKILL, true, false), (killed.ExitCode, killed.Signal, killed.Oom, killed.Expected));
        Assert.Equal("killed by SIGKILL (oom)", killed.Status.ToString());
        Assert.Equal(("quiet", "hung: no output for 2m"), (rows[3].Probe, rows[3].Why));
        Assert.Equal(0, rows[1].Restart);
        Assert.Equal(t, rows[1].Time);
        Assert.Equal("backoff", killed.State);
        Assert.Equal(0x180u, Mode(Db)); // 0600
    }

    [Fact]
    public async Task A_run_that_was_never_closed_is_closed_at_its_last_sign_of_life_by_the_next_open()
    {
        var clock = new FakeTimeProvider();
        var start = clock.GetUtcNow();
        await using (var store = HistoryStore.Open(Db, HistorySettings.Default, clock))
        {
            store.Record(Spawn(start));
            await store.FlushAsync().WaitAsync(Wait);
        }
        // What a SIGKILL leaves: the run's row without its stop, alive as of the last batch.
        using (var c = new SqliteConnection($"Data Source={Db};Pooling=false"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "DELETE FROM events WHERE kind = 'vigil-stopped'; UPDATE runs SET stopped = NULL, alive = $alive";
            cmd.Parameters.AddWithValue("$alive", (start + TimeSpan.FromSeconds(7)).ToUnixTimeMilliseconds());
            cmd.ExecuteNonQuery();
        }
        clock.Advance(TimeSpan.FromMinutes(5));
        await using var again = HistoryStore.Open(Db, HistorySettings.Default, clock);
        var rows = await Rows(again);

        var stopped = Assert.Single(rows, r => r.Kind == HistoryEvent.VigilStopped);
        Assert.Equal(start + TimeSpan.FromSeconds(7), stopped.Time);
        Assert.Contains("ended without stopping", stopped.Reason);
        var up = UnitHistory.Build(rows, clock.GetUtcNow())["worker"].Over(start, clock.GetUtcNow()).Up;
        Assert.Equal(TimeSpan.FromSeconds(7), up); // nothing of the 5 minutes vigil was gone
    }

    [Fact]
    public async Task Rows_older_than_keep_are_pruned_at_start_and_every_hour()
    {
        var clock = new FakeTimeProvider();
        var settings = HistorySettings.Default with { Keep = TimeSpan.FromMinutes(30) };
        await using (var store = HistoryStore.Open(Db, settings, clock))
        {
            store.Record(Spawn(clock.GetUtcNow(), 0, "old"));
            await store.FlushAsync().WaitAsync(Wait);
            Assert.Contains(await Rows(store), r => r.Name == "old");
            store.Record(Spawn(clock.GetUtcNow() + TimeSpan.FromMinutes(50), 0, "newer"));
            clock.Advance(TimeSpan.FromHours(1)); // the alive timer's ticks; the one at the hour prunes
            var rows = await Rows(store);
            Assert.DoesNotContain(rows, r => r.Name == "old");
            Assert.Contains(rows, r => r.Name == "newer");
        }
        clock.Advance(TimeSpan.FromHours(1));
        await using var again = HistoryStore.Open(Db, settings, clock);
        Assert.DoesNotContain(await Rows(again), r => r.Name == "newer"); // pruned by the open
    }

    [Fact]
    public async Task Past_maxSize_the_oldest_rows_go()
    {
        var clock = new FakeTimeProvider();
        var settings = HistorySettings.Default with { MaxSize = 256 << 10 };
        var t = clock.GetUtcNow();
        await using (var store = HistoryStore.Open(Db, settings, clock))
        {
            for (int i = 0; i < 4000; i++)
                store.Record(new Exited(t + TimeSpan.FromMilliseconds(i), 1, "w" + i, i, UnitState.Backoff, ExitStatus.Exited(3), TimeSpan.FromSeconds(1), false)
                {
                    Why = new string('x', 200),
                });
            await store.FlushAsync().WaitAsync(Wait);
            Assert.Equal(4001, (await Rows(store)).Count); // with vigil-started: not pruned until the next tick
            clock.Advance(HistoryStore.AliveEvery);
            var pruned = await Rows(store);
            Assert.InRange(pruned.Count, 100, 3999);
            Assert.Contains(pruned, r => r.Name == "w3999");
        }
        await using var again = HistoryStore.Open(Db, settings, clock);
        var rows = await Rows(again);
        Assert.InRange(rows.Count, 100, 3999);
        Assert.Contains(rows, r => r.Name == "w3999");  // the newest stay
        Assert.DoesNotContain(rows, r => r.Name == "w0");
        Assert.True(new FileInfo(Db).Length <= 2 * settings.MaxSize, $"state.db is {new FileInfo(Db).Length} bytes");
    }

    [Fact]
    public void A_symlink_or_another_users_file_is_refused_and_left_alone()
    {
        var target = Path.Combine(_dir.FullName, "elsewhere");
        File.WriteAllText(target, "not ours to write");
        File.CreateSymbolicLink(Db, target);
        var e = Assert.Throws<HistoryException>(() => HistoryStore.Open(Db, HistorySettings.Default));
        Assert.Contains($"refusing to use {Db}: it is a symbolic link", e.Message);
        Assert.Equal("not ours to write", File.ReadAllText(target));

        File.Delete(Db);
        File.WriteAllText(Db, "");
        Chown(Db, 65534);
        e = Assert.Throws<HistoryException>(() => HistoryStore.Open(Db, HistorySettings.Default));
        Assert.Contains("it belongs to uid 65534", e.Message);

        File.Delete(Db);
        File.CreateSymbolicLink(Db + "-wal", target);
        e = Assert.Throws<HistoryException>(() => HistoryStore.Open(Db, HistorySettings.Default));
        Assert.Contains($"{Db}-wal: it is a symbolic link", e.Message);
        Assert.False(File.Exists(Db));
    }

    [Fact]
    public async Task A_database_of_a_newer_schema_is_refused_and_left_as_it_is()
    {
        await using (HistoryStore.Open(Db, HistorySettings.Default, new FakeTimeProvider())) { }
        using (var c = new SqliteConnection($"Data Source={Db};Pooling=false"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE meta SET value = '2' WHERE key = 'schema'";
            Assert.Equal(1, cmd.ExecuteNonQuery());
        }
        var before = File.ReadAllBytes(Db);
        var e = Assert.Throws<HistoryException>(() => HistoryStore.Open(Db, HistorySettings.Default));
        Assert.Equal($"{Db} was written by a newer vigil (schema 2; this one knows 1); move it away, or turn history off with 'history: false'", e.Message);
        Assert.Equal(before, File.ReadAllBytes(Db));
    }

    [Fact]
    public async Task A_corrupt_database_is_moved_aside_with_a_warning_and_a_new_one_started()
    {
        File.WriteAllText(Db, "this is not an SQLite database, just text that got here somehow\n" + new string('z', 8192));
        var log = new TestLog();
        var clock = new FakeTimeProvider();
        await using (var store = HistoryStore.Open(Db, HistorySettings.Default, clock, log.CreateLogger("Vigil.History")))
            Assert.Equal([HistoryEvent.VigilStarted], (await Rows(store)).Select(r => r.Kind));

        var aside = Assert.Single(Directory.GetFiles(_dir.FullName, "state.db.corrupt-*"));
        Assert.Equal(Db + ".corrupt-20250101T120000Z", aside);
        Assert.StartsWith("this is not an SQLite database", File.ReadAllText(aside));
        var warning = Assert.Single(log.Entries);
        Assert.Contains($"history: {Db} is not a usable database", warning.Message);
        Assert.Contains($"moved it aside to {aside}", warning.Message);
    }

    [Fact]
    public async Task A_full_disk_drops_and_counts_events_announces_it_once_and_resumes()
    {
        using var fs = new SmallTmpfs("size=512k");
        if (!fs.Mounted) return; // unprivileged: no tmpfs to fill (see SmallTmpfs)
        var db = Path.Combine(fs.Path, "state.db");
        var announced = new List<UnitEvent>();
        await using var store = HistoryStore.Open(db, HistorySettings.Default);
        store.Announce = e => { lock (announced) announced.Add(e); };
        var filler = Path.Combine(fs.Path, "filler");
        await FillAsync(filler);
        var t = DateTimeOffset.UtcNow;
        for (int round = 0; round < 50 && store.Dropped == 0; round++)
        {
            for (int i = 0; i < 200; i++) store.Record(new Exited(t, 1, "w", i, UnitState.Backoff, ExitStatus.Exited(3), TimeSpan.Zero, false) { Why = new string('y', 500) });
            await store.FlushAsync().WaitAsync(Wait);
        }
        Assert.True(store.Dropped > 0, "no batch failed on the full disk");
        lock (announced) Assert.IsType<HistoryFailed>(Assert.Single(announced));

        File.Delete(filler);
        // The next batch after the store's pause (RetryAfter) is written: each round records one event and waits for it.
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            store.Record(Spawn(DateTimeOffset.UtcNow, 0, "after"));
            await store.FlushAsync().WaitAsync(Wait);
            lock (announced) if (announced.Count == 2) break;
            Assert.True(DateTime.UtcNow < deadline, "no history-resumed after the space came back");
            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System); // polling interval of a bounded wait
        }
        lock (announced)
        {
            var resumed = Assert.IsType<HistoryResumed>(announced[1]);
            Assert.True(resumed.Dropped > 0);
            Assert.Contains("history-failed", announced[0].Kind);
            Assert.Contains("disk is full", announced[0].Reason, StringComparison.OrdinalIgnoreCase);
        }
        Assert.Contains(store.Read(t.AddDays(-1)), r => r.Name == "after");
    }

    private static async Task FillAsync(string path)
    {
        await using var f = File.OpenWrite(path);
        var chunk = new byte[4096];
        try { while (true) await f.WriteAsync(chunk); }
        catch (IOException) { }
    }

    private static uint Mode(string path)
    {
        var mode = File.GetUnixFileMode(path);
        return (uint)mode;
    }

    private static void Chown(string path, int uid)
    {
        using var p = Process.Start("chown", [uid.ToString(System.Globalization.CultureInfo.InvariantCulture), path])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }
}
