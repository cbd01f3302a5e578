using Vigil.Config;
using Vigil.Health;
using Vigil.Specs;
using Xunit;

namespace Vigil.Tests.Config;

/// <summary>The <c>health:</c> keys of the http, tcp and progress probes: what they map to, and errors that name the key.</summary>
public sealed class NetProbeConfigTests
{
    private const string Base = "/srv/app";

    private static ProbeSpec Probe(string yaml) =>
        Assert.Single(Assert.Single(ConfigLoader.Parse($"processes:\n  - command: x\n    health:\n      - {yaml}\n", "vigil.yaml", Base).Processes).Health);

    private static string Error(string yaml) =>
        Assert.Single(Assert.Throws<ConfigException>(() => ConfigLoader.Parse($"processes:\n  - command: x\n    health:\n      - {yaml}\n", "vigil.yaml", Base)).Errors).ToString();

    // ---- http ----

    [Fact]
    public void Http_maps_url_status_range_and_body()
    {
        var p = Probe("""{ kind: http, url: "http://127.0.0.1:8080/health", status: 200-299, body: ok, period: 5s, timeout: 1s, failureThreshold: 3 }""");
        var c = Assert.IsType<HttpCheck>(p.Check);
        Assert.Equal(new Uri("http://127.0.0.1:8080/health"), c.Url);
        Assert.Equal((200, 299), (c.StatusMin, c.StatusMax));
        Assert.Equal("ok", c.BodyContains);
        Assert.Equal((TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1), 3), (p.Period, p.Timeout, p.FailureThreshold));
        Assert.Equal(TimeSpan.FromSeconds(1), p.CheckDeadline);
        Assert.Equal("http", p.Name);
    }

    [Fact]
    public void Http_defaults_accept_2xx_and_3xx_with_any_body_and_one_status_is_an_exact_match()
    {
        var c = Assert.IsType<HttpCheck>(Probe("{ kind: http, url: 'http://localhost/' }").Check);
        Assert.Equal((200, 399, (string?)null), (c.StatusMin, c.StatusMax, c.BodyContains));
        var exact = Assert.IsType<HttpCheck>(Probe("{ kind: http, url: 'http://localhost/', status: 204 }").Check);
        Assert.Equal((204, 204), (exact.StatusMin, exact.StatusMax));
    }

    [Theory]
    [InlineData("{ kind: http, url: 'http://h/', status: 299-200 }", "vigil.yaml:4:41: processes[0].health[0].status: expected a range within 100-599, got 299-200")]
    [InlineData("{ kind: http, url: 'http://h/', status: 200-700 }", "vigil.yaml:4:41: processes[0].health[0].status: expected a range within 100-599, got 200-700")]
    [InlineData("{ kind: http, url: 'http://h/', status: ok }", "vigil.yaml:4:41: processes[0].health[0].status: expected a status like 200, or a range like 200-299, got 'ok'")]
    [InlineData("{ kind: http, url: 'ftp://h/' }", "vigil.yaml:4:23: processes[0].health[0].url: expected an http:// or https:// URL, got 'ftp://h/'")]
    [InlineData("{ kind: http }", "vigil.yaml:4:9: processes[0].health[0].url: this http probe needs url: http://127.0.0.1:8080/health")]
    [InlineData("{ kind: http, url: 'http://h/', adress: x }", "vigil.yaml:4:41: processes[0].health[0].adress: unknown key")]
    public void Http_errors_name_the_key(string yaml, string expected) => Assert.StartsWith(expected, Error(yaml));

    // ---- tcp ----

    [Theory]
    [InlineData("127.0.0.1:5432", "127.0.0.1", 5432)]
    [InlineData("db.local:6379", "db.local", 6379)]
    [InlineData("'[::1]:5432'", "::1", 5432)]
    public void Tcp_maps_host_and_port(string address, string host, int port)
    {
        var c = Assert.IsType<TcpCheck>(Probe($"{{ kind: tcp, address: {address} }}").Check);
        Assert.Equal((host, port), (c.Host, c.Port));
    }

    [Theory]
    [InlineData("{ kind: tcp, address: localhost }", "processes[0].health[0].address: expected host:port, got 'localhost'")]
    [InlineData("{ kind: tcp, address: 'h:http' }", "processes[0].health[0].address: expected host:port, got 'h:http'")]
    [InlineData("{ kind: tcp, address: 'h:70000' }", "processes[0].health[0].address: port 70000 is outside 1-65535")]
    [InlineData("{ kind: tcp, address: ':80' }", "processes[0].health[0].address: expected host:port, got ':80'")]
    [InlineData("{ kind: tcp }", "processes[0].health[0].address: this tcp probe needs address: 127.0.0.1:5432")]
    public void Tcp_errors_name_the_key(string yaml, string expected) => Assert.Contains(expected, Error(yaml));

    // ---- progress ----

    [Fact]
    public void Progress_sources_map_to_their_records_with_paths_resolved_against_the_config_folder()
    {
        var exec = Assert.IsType<ProgressSource.Exec>(Assert.IsType<ProgressCheck>(Probe("""{ kind: progress, exec: [sh, -c, "wc -l < out.csv"], timeout: 5m }""").Check).Source);
        Assert.Equal(["sh", "-c", "wc -l < out.csv"], exec.Command.ToArray());
        Assert.Equal(new ProgressSource.FileSize("/srv/app/out/data.bin"), Source("{ kind: progress, file: out/data.bin }"));
        Assert.Equal(new ProgressSource.FileLines("/var/log/out.csv"), Source("{ kind: progress, lines: /var/log/out.csv }"));
        Assert.Equal(new ProgressSource.HttpJson(new Uri("http://127.0.0.1:9000/stats"), "stats.processed"),
            Source("{ kind: progress, http: 'http://127.0.0.1:9000/stats', json: stats.processed }"));
    }

    [Theory]
    [InlineData("'Data Source=jobs.db'", null, SqlProvider.Sqlite)]
    [InlineData("'Host=127.0.0.1;Database=jobs;Username=vigil'", null, SqlProvider.Postgres)]
    [InlineData("'Server=db;Database=jobs'", null, SqlProvider.Postgres)]
    [InlineData("'Data Source=jobs.db'", "postgres", SqlProvider.Postgres)]
    [InlineData("'Host=x'", "sqlite", SqlProvider.Sqlite)]
    public void Progress_sql_driver_is_given_or_inferred_from_the_connection(string connection, string? driver, SqlProvider expected)
    {
        var driverKey = driver is null ? "" : $", driver: {driver}";
        var sql = Assert.IsType<ProgressSource.Sql>(Source($"{{ kind: progress, sql: 'select count(*) from jobs', connection: {connection}{driverKey} }}"));
        Assert.Equal(expected, sql.Provider);
        Assert.Equal("select count(*) from jobs", sql.Query);
    }

    [Fact]
    public void Progress_is_a_stall_window_whose_default_period_follows_the_timeout()
    {
        var defaults = Probe("{ kind: progress, lines: out.csv }");
        Assert.Equal((TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(30), 1), (defaults.Timeout, defaults.Period, defaults.FailureThreshold));
        var p = Probe("{ kind: progress, lines: out.csv, timeout: 2s }");
        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(500)), (p.Timeout, p.Period));
        Assert.Equal(TimeSpan.FromSeconds(1), p.CheckDeadline); // a stall window is not a deadline: a check gets its period, at least 1 s
        var q = Probe("{ kind: progress, lines: out.csv, timeout: 2s, period: 1s }");
        Assert.Equal(TimeSpan.FromSeconds(1), q.Period);
    }

    [Theory]
    [InlineData("{ kind: progress, exec: [x], file: out.csv }", "processes[0].health[0]: a progress probe takes one source, got exec and file")]
    [InlineData("{ kind: progress, lines: a, http: 'http://h/', json: n }", "processes[0].health[0]: a progress probe takes one source, got lines and http")]
    [InlineData("{ kind: progress, timeout: 1m }", "processes[0].health[0]: a progress probe needs one source: exec: [cmd…], file: PATH (size)")]
    [InlineData("{ kind: progress, http: 'http://h/stats' }", "processes[0].health[0].json: an http progress source needs json: the numeric field to read")]
    [InlineData("{ kind: progress, http: 'h:80/stats', json: n }", "processes[0].health[0].http: expected an http:// or https:// URL, got 'h:80/stats'")]
    [InlineData("{ kind: progress, sql: 'select 1' }", "processes[0].health[0].connection: a sql progress source needs connection:")]
    [InlineData("{ kind: progress, sql: 'select 1', connection: 'Host=x', driver: mysql }", "processes[0].health[0].driver: ")]
    [InlineData("{ kind: progress, lines: out.csv, body: x }", "processes[0].health[0].body: unknown key")]
    public void Progress_errors_name_the_key(string yaml, string expected) => Assert.Contains(expected, Error(yaml));

    private static ProgressSource Source(string yaml) => Assert.IsType<ProgressCheck>(Probe(yaml).Check).Source;
}
