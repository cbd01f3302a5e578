using Vigil.Health;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static Vigil.Tests.Health.ProbeKit;

namespace Vigil.Tests.Health;

/// <summary>One real PostgreSQL server for the class (started from the installed Debian binaries, stopped after).</summary>
public sealed class PostgresServer : IAsyncLifetime
{
    public Postgres Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await Postgres.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>Integration: the progress probe's PostgreSQL source (Npgsql) against a real server on loopback; the test
/// does the "work" (a row per fixture tick) and then stops doing it.</summary>
[Collection("processes")]
public sealed class PostgresProgressTests(PostgresServer pg, ITestOutputHelper output) : IClassFixture<PostgresServer>
{
    private async Task<string> NewTable()
    {
        var table = "jobs_" + Guid.NewGuid().ToString("N")[..8];
        await pg.Server.ExecuteAsync($"create table {table} (id serial primary key, at timestamptz default now())");
        return table;
    }

    private ProbeSpec Probe(string table, int periodMs, int timeoutMs) => Liveness(new ProgressCheck(new ProgressSource.Sql(SqlProvider.Postgres,
        $"Host=127.0.0.1;Port={pg.Server.Port};Username=postgres;Database=postgres", $"select count(*) from {table}")), periodMs, timeoutMs);

    [Fact]
    public async Task Row_count_that_stops_growing_is_a_hang_detected_within_timeout_plus_a_period()
    {
        var table = await NewTable();
        var probe = Probe(table, periodMs: 250, timeoutMs: 2000);
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        sup.Start(Fixture.Spec("worker", "tick", "150", "6", "hang").WithSchedule(100).Probed(probe));
        DateTimeOffset lastInsert = default;
        for (int i = 1; i <= 6; i++)
        {
            await rec.Exactly($"tick {i}");
            await pg.Server.ExecuteAsync($"insert into {table} default values");
            lastInsert = DateTimeOffset.UtcNow;
        }
        var unhealthy = await AssertHangRestarted(rec, probe, lastInsert, atLeast: probe.Timeout / 2, output, "progress postgres");
        Assert.Matches($@"^hung: progress stuck at 6 for \d+(\.\d+)?s \(postgres: select count\(\*\) from {table}\)$", unhealthy.Why);
    }

    [Fact]
    public async Task Row_count_that_keeps_growing_is_not_restarted_over_several_windows()
    {
        var table = await NewTable();
        var probe = Probe(table, periodMs: 200, timeoutMs: 1000);
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("worker", "tick", "150", "0").WithSchedule(100).Probed(probe));
        // 20 rows, one per 150 ms tick: three windows of 1 s, each with growth.
        for (int i = 1; i <= 20; i++)
        {
            await rec.Exactly($"tick {i}");
            await pg.Server.ExecuteAsync($"insert into {table} default values");
        }
        Assert.Empty(rec.Events.OfType<Unhealthy>());
        Assert.Single(rec.Events.OfType<Spawned>());
        Assert.True(await Procs.Eventually(() => unit.Snapshot.Gauges.TryGetValue("progress", out var g) && g == 20, TimeSpan.FromSeconds(5)),
            $"gauges: {string.Join(", ", unit.Snapshot.Gauges)}");
    }
}
