using Microsoft.Data.Sqlite;
using Vigil.Health;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Config;
using Vigil.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static Vigil.Tests.Health.ProbeKit;

namespace Vigil.Tests.Health;

/// <summary>Integration: progress probes reading real files, commands, HTTP JSON and SQLite while the fixture works and
/// then stops working. The windows are a couple of seconds so a slow fixture start on a loaded machine (the window
/// counts from the start of the run) is not a false stall.</summary>
[Collection("processes")]
public sealed class ProgressProbeTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // The fixture appends "1\n" … "5\n" every 100 ms (10 bytes, 5 lines), prints the marker 100 ms after the last
    // append, then hangs: the number stops growing.
    [Theory]
    [InlineData("size", "10")]
    [InlineData("lines", "5")]
    [InlineData("exec", "5")]
    public async Task A_number_that_stops_growing_is_a_hang_detected_within_timeout_plus_a_period(string kind, string stuckAt)
    {
        var path = Path.Combine(_dir.Path, "out.csv");
        ProgressSource source = kind switch
        {
            "size" => new ProgressSource.FileSize(path),
            "lines" => new ProgressSource.FileLines(path),
            _ => new ProgressSource.Exec(["sh", "-c", $"wc -l < '{path}'"]),
        };
        var probe = Liveness(new ProgressCheck(source), periodMs: 250, timeoutMs: 2000);
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("worker", "append", path, "100", "5", "marker", "stalled", "hang").WithSchedule(100).Probed(probe));
        var stalled = await rec.Marker("stalled");
        var unhealthy = await AssertHangRestarted(rec, probe, stalled.Time, atLeast: probe.Timeout / 2, output, $"progress {kind}");
        var what = kind switch { "size" => $"size of {path}", "lines" => $"lines of {path}", _ => $"exec: sh -c wc -l < '{path}'" };
        Assert.Matches($@"^hung: progress stuck at {stuckAt} for \d+(\.\d+)?m?s \({System.Text.RegularExpressions.Regex.Escape(what)}\)$", unhealthy.Why);
    }

    [Fact]
    public async Task A_number_that_keeps_growing_is_not_restarted_over_several_windows()
    {
        var path = Path.Combine(_dir.Path, "out.csv");
        var probe = Liveness(new ProgressCheck(new ProgressSource.FileLines(path)), periodMs: 250, timeoutMs: 1000);
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // 30 lines over 3 s: three windows of 1 s, each with growth.
        var unit = sup.Start(Fixture.Spec("worker", "append", path, "100", "30", "marker", "done", "hang").WithSchedule(100).Probed(probe));
        await rec.Marker("done");
        Assert.Empty(rec.Events.OfType<Unhealthy>());
        Assert.Single(rec.Events.OfType<Spawned>());
        // The probe did read: its gauge reaches the final count.
        Assert.True(await Procs.Eventually(() => unit.Snapshot.Gauges.TryGetValue("progress", out var g) && g == 30, TimeSpan.FromSeconds(5)),
            $"gauges: {string.Join(", ", unit.Snapshot.Gauges)}");
    }

    [Fact]
    public async Task Http_json_field_grows_with_each_answer_and_a_server_that_stops_answering_is_a_failed_read()
    {
        int port = Ports.Free();
        var url = Url(port, "/stats");
        // A stall window far longer than the read deadline (1 s): the failed read, not the missing growth, must be what
        // is seen. With 2 s, a check delayed on a busy machine let the stall window expire first (failed once in CI).
        var probe = Liveness(new ProgressCheck(new ProgressSource.HttpJson(url, "processed")), periodMs: 250, timeoutMs: 8000);
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // Until the server listens the reads are refused (no reading yet: within the window, not a failure); then
        // processed = 1, 2, 3, 4 (growing); the fifth request is never answered.
        var unit = sup.Start(Fixture.Spec("api", "http", "4", "hang").OnPort(port).WithSchedule(100).Probed(probe));
        var hung = await rec.Exactly("HTTP answered 4");
        // The failing read is the next check (within a period) and fails at its deadline (the period, at least 1 s).
        var deadline = probe.CheckDeadline;
        var unhealthy = await AssertHangRestarted(rec, probe with { Timeout = deadline }, hung.Time, atLeast: deadline / 2, output, "progress http json");
        // The read's own words, or, when the machine is so busy that even its cancellation comes later than the
        // runner's grace (500 ms), the runner's: either way the failed read at its 1 s deadline, not a stall.
        Assert.Contains(unhealthy.Why, new[]
        {
            $"progress read failed (processed from {url}): no answer from {url} within 1s",
            "progress check timed out after 1s",
        });
    }

    [Fact]
    public async Task Sqlite_row_count_that_stops_growing_is_a_hang()
    {
        var db = Path.Combine(_dir.Path, "jobs.db");
        using (var c = new SqliteConnection($"Data Source={db};Pooling=false"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "create table jobs (id integer primary key, at text)";
            cmd.ExecuteNonQuery();
        }
        var probe = Liveness(new ProgressCheck(new ProgressSource.Sql(SqlProvider.Sqlite, $"Data Source={db}", "select count(*) from jobs")),
            periodMs: 250, timeoutMs: 2000);
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("worker", "tick", "150", "6", "hang").WithSchedule(100).Probed(probe));
        // The work: a row for each of the fixture's ticks, then nothing (the "worker" hangs after six).
        DateTimeOffset lastInsert = default;
        for (int i = 1; i <= 6; i++)
        {
            await rec.Exactly($"tick {i}");
            using var c = new SqliteConnection($"Data Source={db};Pooling=false");
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "insert into jobs (at) values (datetime('now'))";
            cmd.ExecuteNonQuery();
            lastInsert = DateTimeOffset.UtcNow;
        }
        var unhealthy = await AssertHangRestarted(rec, probe, lastInsert, atLeast: probe.Timeout / 2, output, "progress sqlite");
        Assert.Matches(@"^hung: progress stuck at 6 for \d+(\.\d+)?s \(sqlite: select count\(\*\) from jobs\)$", unhealthy.Why);
    }

    [Fact]
    public async Task Custom_delegate_counts_and_a_throwing_read_is_a_failed_check_with_the_reason()
    {
        long count = 0;
        bool broken = false;
        var source = new ProgressSource.Custom(_ => Volatile.Read(ref broken)
            ? throw new InvalidOperationException("the queue is gone")
            : ValueTask.FromResult((double)Interlocked.Read(ref count)));
        var probe = Liveness(new ProgressCheck(source), periodMs: 200, timeoutMs: 1000);
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("worker", "tick", "150", "0").WithSchedule(100).Probed(probe));
        for (int i = 1; i <= 12; i++)
        {
            await rec.Exactly($"tick {i}");
            Interlocked.Increment(ref count);
        }
        Assert.True(await Procs.Eventually(() => unit.Snapshot.Gauges.TryGetValue("progress", out var g) && g >= 10, TimeSpan.FromSeconds(5)));
        Assert.Empty(rec.Events.OfType<Unhealthy>());
        var broke = DateTimeOffset.UtcNow;
        Volatile.Write(ref broken, true);
        var unhealthy = await AssertHangRestarted(rec, probe with { Timeout = TimeSpan.Zero }, broke, atLeast: TimeSpan.Zero, output, "progress custom (read fails)");
        Assert.Equal("progress read failed (custom): the queue is gone", unhealthy.Why);
    }

    // A source that never gives a number (not there yet, or never will be) is not a failure within the window — the
    // process may still be creating its file or opening its port — and a hang once the window is over, with the reason.
    [Theory]
    [InlineData("size", "does not exist")]
    [InlineData("lines", "does not exist")]
    [InlineData("exec", "command exited with code 3")]
    [InlineData("exec-text", "no number in the output: no digits here")]
    [InlineData("http", "connection refused by http://127.0.0.1:")]
    [InlineData("sqlite", "unable to open database file")]
    [InlineData("postgres", "connection refused")]
    public async Task A_source_that_never_reads_fails_once_the_window_is_over(string kind, string reason)
    {
        int port = Ports.Free();
        var missing = Path.Combine(_dir.Path, "missing.csv");
        ProgressSource source = kind switch
        {
            "size" => new ProgressSource.FileSize(missing),
            "lines" => new ProgressSource.FileLines(missing),
            "exec" => new ProgressSource.Exec(["sh", "-c", "echo 12; exit 3"]),
            "exec-text" => new ProgressSource.Exec(["echo", "no digits here"]),
            "http" => new ProgressSource.HttpJson(Url(port), "processed"),
            "sqlite" => new ProgressSource.Sql(SqlProvider.Sqlite, $"Data Source={Path.Combine(_dir.Path, "missing.db")}", "select count(*) from jobs"),
            _ => new ProgressSource.Sql(SqlProvider.Postgres, $"Host=127.0.0.1;Port={port};Username=postgres;Password=secret", "select 1"),
        };
        var probe = Liveness(new ProgressCheck(source), periodMs: 250, timeoutMs: 1000);
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var spawned = DateTimeOffset.UtcNow;
        sup.Start(Fixture.Spec("worker", "hang").WithSchedule(100).Probed(probe));
        var unhealthy = await AssertHangRestarted(rec, probe, spawned, atLeast: probe.Timeout, output, $"progress {kind} (never reads)");
        Assert.StartsWith("hung: no progress reading in ", unhealthy.Why);
        Assert.Contains(reason, unhealthy.Why);
        Assert.DoesNotContain("secret", unhealthy.Why);
        Assert.False(File.Exists(Path.Combine(_dir.Path, "missing.db")), "a read-only probe must not create the database");
    }
}
