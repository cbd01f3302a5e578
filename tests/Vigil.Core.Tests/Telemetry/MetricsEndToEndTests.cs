using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Vigil.Tests.Cli;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Telemetry;

/// <summary>
/// The engine's metrics through a real <c>vigil run</c>: /metrics after a scripted scenario (a unit that crashes three
/// times, one that hangs once and is restarted by its output-stall probe, one that floods 1 MB), checked by Debian's
/// promtool and scraped by a real Prometheus server; OTLP to a loopback receiver that decodes the export request;
/// DogStatsD to a UDP listener; and the errors of the <c>telemetry:</c> section.
/// </summary>
[Collection("processes")]
public sealed partial class MetricsEndToEndTests : HarnessTests
{
    static readonly TimeSpan Long = TimeSpan.FromSeconds(90); // generous: the machine is often fully loaded

    static string F => Fixture.Path;

    /// <summary>The three units of the scenario; every one carries the harness token, so cleanup finds them.</summary>
    string Units => $$"""
        processes:
          - name: crashy
            command: ["{{F}}", print, "{{H.Token}}", crash, "{{H.Path("runs")}}", "3", marker, up, hang]
            restart: { schedule: [100ms] }
            health: [ { kind: exec, command: ["true"], period: 500ms } ]
          - name: hangs
            command: ["{{F}}", print, "{{H.Token}}", tick, "100", "5", hang-once, "{{H.Path("hung")}}", tick, "100", "0"]
            restart: { schedule: [100ms] }
            health: [ { kind: output-stall, timeout: 1500ms, period: 250ms } ]
          - name: flood
            command: ["{{F}}", print, "{{H.Token}}", bytes, "1000000", hang]
            health: [ { kind: cpu, max: 400%, period: 250ms } ]
        """;

    static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(20) };

    /// <summary>Samples of one exposition: <c>name{labels}</c> (labels sorted, scope labels left out) → value.</summary>
    static Dictionary<string, double> Parse(string exposition)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in exposition.Split('\n'))
        {
            var m = SampleRegex().Match(line);
            if (!m.Success) continue;
            var labels = LabelRegex().Matches(m.Groups[2].Value).Select(l => (l.Groups[1].Value, l.Groups[2].Value))
                .Where(l => !l.Item1.StartsWith("otel_scope_", StringComparison.Ordinal)).OrderBy(l => l.Item1, StringComparer.Ordinal)
                .Select(l => $"{l.Item1}=\"{l.Item2}\"");
            samples[$"{m.Groups[1].Value}{{{string.Join(",", labels)}}}"] = double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
        }
        return samples;
    }

    async Task<Dictionary<string, double>> MetricsUntil(int port, Func<Dictionary<string, double>, bool> done, string what)
    {
        Dictionary<string, double> last = [];
        var deadline = DateTime.UtcNow + Long;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = Parse(await Http.GetStringAsync($"http://127.0.0.1:{port}/metrics"));
                if (done(last)) return last;
            }
            catch (HttpRequestException) { } // not serving yet
            await Task.Delay(TimeSpan.FromMilliseconds(250), TimeProvider.System); // polling interval of a bounded wait
        }
        throw new TimeoutException($"/metrics never showed {what}:\n{string.Join('\n', last.Select(kv => $"{kv.Key} {kv.Value}"))}");
    }

    static double Get(Dictionary<string, double> m, string key) =>
        m.TryGetValue(key, out var v) ? v : throw new Xunit.Sdk.XunitException($"no sample {key} in:\n{string.Join('\n', m.Keys)}");

    [Fact]
    [Trait("Category", VigilProcess.Smoke)]
    public async Task Each_metric_reads_right_after_three_crashes_a_hang_and_a_flood_and_promtool_and_a_real_prometheus_accept_it()
    {
        int port = Ports.Free();
        H.Write("vigil.yaml", Units + "\n" + $"telemetry:\n  prometheus: {port}\n");
        H.Start("run");

        var m = await MetricsUntil(port, s =>
            s.GetValueOrDefault("vigil_unit_restarts_total{reason=\"exit\",unit=\"crashy\"}") == 3
            && s.GetValueOrDefault("vigil_unit_restarts_total{reason=\"unhealthy:output-stall\",unit=\"hangs\"}") == 1
            && s.GetValueOrDefault("vigil_unit_up{unit=\"hangs\"}") == 1
            && s.GetValueOrDefault("vigil_unit_up{unit=\"crashy\"}") == 1
            && s.GetValueOrDefault("vigil_output_bytes_total{stream=\"stdout\",unit=\"flood\"}") >= 1_000_000
            && s.GetValueOrDefault("vigil_probe_checks_total{kind=\"exec\",probe=\"exec\",result=\"ok\",unit=\"crashy\"}") >= 2
            && s.ContainsKey("vigil_probe_value{name=\"cpu_percent\",unit=\"flood\"}"),
            "three restarts of crashy, one of hangs, the whole flood");

        // Unit state, up, uptime.
        Assert.Equal(1, Get(m, "vigil_unit_state{state=\"running\",unit=\"crashy\"}"));
        Assert.Equal(1, Get(m, "vigil_unit_up{unit=\"crashy\"}"));
        Assert.InRange(Get(m, "vigil_unit_uptime_seconds{unit=\"crashy\"}"), 0.0001, 600);
        Assert.DoesNotContain(m.Keys, k => k.StartsWith("vigil_unit_ready{", StringComparison.Ordinal)); // no readiness probe
        // Restarts by reason: only the crashes, only the hang; every reason a unit can have is there from the start, at 0.
        string[] reasons = ["exit", "signal", "oom", "spawn-failed", "manual"];
        Assert.All(reasons, r => Assert.Equal(0, Get(m, $"vigil_unit_restarts_total{{reason=\"{r}\",unit=\"flood\"}}")));
        Assert.All(reasons.Skip(1), r => Assert.Equal(0, Get(m, $"vigil_unit_restarts_total{{reason=\"{r}\",unit=\"crashy\"}}")));
        Assert.Equal(0, Get(m, "vigil_unit_restarts_total{reason=\"exit\",unit=\"hangs\"}"));
        Assert.Equal(0, Get(m, "vigil_unit_restarts_total{reason=\"unhealthy:exec\",unit=\"crashy\"}")); // its probe could restart it
        Assert.Equal(0, Get(m, "vigil_unit_restarts_total{reason=\"unhealthy:cpu\",unit=\"flood\"}"));
        // Downtime and time to recover: three outages of crashy (each at least its 100 ms backoff), one of hangs.
        Assert.Equal(3, Get(m, "vigil_unit_recovery_duration_seconds_count{to=\"running\",unit=\"crashy\"}"));
        Assert.Equal(1, Get(m, "vigil_unit_recovery_duration_seconds_count{to=\"running\",unit=\"hangs\"}"));
        double down = Get(m, "vigil_unit_downtime_seconds_total{unit=\"crashy\"}");
        Assert.InRange(down, 0.3, 120);
        Assert.Equal(down, Get(m, "vigil_unit_recovery_duration_seconds_sum{to=\"running\",unit=\"crashy\"}"), 6);
        Assert.Equal(0, Get(m, "vigil_unit_downtime_seconds_total{unit=\"flood\"}"));
        // Probes: the stall failed checks before the restart; the exec probe passes with a duration per check.
        Assert.True(Get(m, "vigil_probe_checks_total{kind=\"output-stall\",probe=\"output-stall\",result=\"failed\",unit=\"hangs\"}") >= 1);
        Assert.True(Get(m, "vigil_probe_check_duration_seconds_count{probe=\"exec\",unit=\"crashy\"}") >= 2);
        Assert.Equal(0, Get(m, "vigil_probe_consecutive_failures{probe=\"exec\",unit=\"crashy\"}"));
        // Output: the flood's exact bytes and lines (one newline every 100 bytes), plus the token line.
        int tokenBytes = H.Token.Length + 1;
        Assert.Equal(1_000_000 + tokenBytes, Get(m, "vigil_output_bytes_total{stream=\"stdout\",unit=\"flood\"}"));
        Assert.Equal(10_000 + 1, Get(m, "vigil_output_lines_total{stream=\"stdout\",unit=\"flood\"}"));
        Assert.Equal(0, Get(m, "vigil_output_lines_total{stream=\"stderr\",unit=\"flood\"}"));
        Assert.Equal(0, Get(m, "vigil_log_dropped_lines_total{unit=\"flood\"}"));
        Assert.InRange(Get(m, "vigil_output_idle_seconds{unit=\"flood\"}"), 0, 600);
        // The process tree: CPU time, memory, fds of a running fixture.
        Assert.True(Get(m, "vigil_process_cpu_time_seconds_total{unit=\"flood\"}") > 0);
        Assert.InRange(Get(m, "vigil_process_memory_usage_bytes{unit=\"flood\"}"), 1 << 20, 4L << 30);
        Assert.InRange(Get(m, "vigil_process_open_fds{unit=\"flood\"}"), 3, 10_000);
        // What probes observe, as gauges (the cpu probe's share; a tether probe's ping_ms and pong fields go the same way).
        Assert.InRange(Get(m, "vigil_probe_value{name=\"cpu_percent\",unit=\"flood\"}"), 0, 400);

        // promtool: the exposition is valid, with no lint warning.
        var text = await Http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        var (code, output) = await Run("promtool", ["check", "metrics"], text);
        Assert.True(code == 0 && output.Trim().Length == 0, $"promtool check metrics: exit {code}\n{output}");

        // A real Prometheus server scrapes vigil and answers a query for crashy's restarts.
        await using var prometheus = await PrometheusServer.StartAsync(H.Path("prometheus"), port);
        var answer = await prometheus.QueryUntil("vigil_unit_restarts_total{unit=\"crashy\",reason=\"exit\"}", v => v == "3", Long);
        Assert.Equal("3", answer);
    }

    [Fact]
    public async Task Otlp_posts_the_metrics_to_a_collector_as_protobuf()
    {
        using var receiver = new OtlpReceiver();
        H.Write("vigil.yaml", Units + "\n" + $"telemetry:\n  otlp: {{ endpoint: \"http://127.0.0.1:{receiver.Port}\", interval: 500ms }}\n");
        H.Start("run");

        var restarts = await receiver.Until(ps => ps.Any(p => p is { Metric: "vigil.unit.restarts", Unit: "crashy", Value: 3 }), Long);
        Assert.Contains(restarts, p => p is { Metric: "vigil.unit.up", Unit: "flood" });
        Assert.Contains(restarts, p => p is { Metric: "vigil.output.bytes", Unit: "flood" });
        Assert.Contains(restarts, p => p is { Metric: "vigil.process.memory.usage", Unit: "flood" });
        Assert.Equal("/v1/metrics", receiver.Path);
        Assert.Equal("application/x-protobuf", receiver.ContentType);
    }

    [Fact]
    public async Task Dogstatsd_sends_the_pingers_names_to_the_agent_that_DD_variables_name()
    {
        using var agent = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int agentPort = ((IPEndPoint)agent.Client.LocalEndPoint!).Port;
        H.Write("vigil.yaml", Units + "\n" + "telemetry:\n  dogstatsd: { tags: [site:lab], interval: 500ms }\n");
        var vigil = H.StartWith(new Dictionary<string, string?> { ["DD_AGENT_HOST"] = "127.0.0.1", ["DD_DOGSTATSD_PORT"] = agentPort.ToString(CultureInfo.InvariantCulture) }, "run");

        var seen = new List<string>();
        double restarts = 0;
        bool up = false, stdoutCount = false;
        using var cts = new CancellationTokenSource(Long);
        while (!(restarts >= 3 && up && stdoutCount))
        {
            string d;
            try { d = Encoding.UTF8.GetString((await agent.ReceiveAsync(cts.Token)).Buffer); }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the agent never got 3 restarts ({restarts}), flood's up gauge ({up}) and its line count ({stdoutCount});"
                    + $" got:\n{string.Join('\n', seen.TakeLast(80))}\nvigil's output:\n{string.Join('\n', vigil.Out.TakeLast(40))}\n{string.Join('\n', vigil.Err)}");
            }
            seen.Add(d);
            if (Regex.Match(d, @"^restartProcess:(\d+)\|c\|#site:lab,targetApp:crashy$") is { Success: true } r)
                restarts += double.Parse(r.Groups[1].Value, CultureInfo.InvariantCulture);
            up |= d == "vigil.unit.up:1|g|#site:lab,targetApp:flood";
            stdoutCount |= d.StartsWith("vigil.output.lines:", StringComparison.Ordinal) && d.EndsWith("|c|#site:lab,targetApp:flood,stream:stdout", StringComparison.Ordinal);
        }
        Assert.Equal(3, restarts);
        Assert.Contains(seen, d => Regex.IsMatch(d, @"^vigil\.unit\.restarts:\d+\|c\|#site:lab,targetApp:crashy,reason:exit$"));
    }

    [Fact]
    public async Task A_taken_prometheus_port_is_an_error_naming_the_key_and_nothing_starts()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        H.Write("vigil.yaml", Units + "\n" + $"telemetry:\n  prometheus: 127.0.0.1:{port}\n");
        var vigil = H.Start("run");

        Assert.Equal(2, await vigil.WaitExit(Long));
        var err = string.Join('\n', vigil.Err);
        Assert.Contains($"telemetry.prometheus: cannot serve /metrics on 127.0.0.1:{port}", err);
        Assert.Contains("nothing was started", err);
        Assert.Empty(Procs.WithArg(H.Token)); // no unit was started
        Assert.False(File.Exists(H.Path("runs")));
    }

    [Fact]
    public async Task A_reload_that_changes_telemetry_says_the_exporters_keep_their_settings_until_a_restart()
    {
        int port = Ports.Free();
        string Config(int p, string tags) => $"processes:\n  - {{ name: s, command: [sleep, \"{H.Token}\"] }}\n"
            + $"telemetry:\n  prometheus: {p}\n  dogstatsd: {{ port: {p}, tags: [{tags}] }}\n";
        const string notice = "vigil: telemetry: changed in the config; the exporters keep their old settings until Vigil is restarted";
        H.Write("vigil.yaml", Config(port, "a:1, b:2"));
        var vigil = H.Start("run");
        await MetricsUntil(port, s => s.GetValueOrDefault("vigil_unit_up{unit=\"s\"}") == 1, "the unit up");

        H.Write("vigil.yaml", Config(port, "a:1, b:2") + "# the same telemetry\n");
        var (same, _, sameErr) = await H.Cli("reload");
        Assert.True(same == 0, sameErr);
        await vigil.WaitLine(l => l.Contains(" vigil reloaded: "), "the first reload");
        Assert.DoesNotContain(vigil.Out, l => l.Contains(notice));

        H.Write("vigil.yaml", Config(Ports.Free(), "a:1, b:3"));
        var (changed, _, changedErr) = await H.Cli("reload");
        Assert.True(changed == 0, changedErr);
        await vigil.WaitLine(l => l.Contains(notice), "the telemetry notice");
        await MetricsUntil(port, s => s.ContainsKey("vigil_unit_up{unit=\"s\"}"), "/metrics still on the old port");
    }

    static async Task<(int Code, string Output)> Run(string exe, string[] args, string stdin)
    {
        var psi = new ProcessStartInfo(exe, args) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        await p.StandardInput.WriteAsync(stdin);
        p.StandardInput.Close();
        using var cts = new CancellationTokenSource(Long);
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await output + await error);
    }

    [GeneratedRegex(@"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([-+0-9.eEInfa]+)$")]
    private static partial Regex SampleRegex();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelRegex();
}

/// <summary>Debian's Prometheus server on a free loopback port, scraping one target every second, with its own
/// config and storage in a folder of the test; stopped (and waited for) when disposed.</summary>
sealed class PrometheusServer : IAsyncDisposable
{
    readonly Process _p;
    readonly StringBuilder _log = new();
    public int Port { get; }

    PrometheusServer(Process p, int port) => (_p, Port) = (p, port);

    public static async Task<PrometheusServer> StartAsync(string dir, int target)
    {
        Directory.CreateDirectory(dir);
        var config = Path.Combine(dir, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global: {"{"} scrape_interval: 1s, evaluation_interval: 1s {"}"}
            scrape_configs:
              - job_name: vigil
                static_configs: [ {"{"} targets: ["127.0.0.1:{target}"] {"}"} ]
            """);
        int port = Ports.Free();
        var psi = new ProcessStartInfo("prometheus",
        [
            $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(dir, "data")}",
            $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        ]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir };
        var server = new PrometheusServer(Process.Start(psi)!, port);
        server._p.OutputDataReceived += (_, e) => { lock (server._log) server._log.AppendLine(e.Data); };
        server._p.ErrorDataReceived += (_, e) => { lock (server._log) server._log.AppendLine(e.Data); };
        server._p.BeginOutputReadLine();
        server._p.BeginErrorReadLine();
        return server;
    }

    /// <summary>Asks <c>/api/v1/query</c> until the first result's value satisfies <paramref name="done"/>; returns it.</summary>
    public async Task<string> QueryUntil(string promql, Func<string, bool> done, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var deadline = DateTime.UtcNow + timeout;
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await http.GetStringAsync($"http://127.0.0.1:{Port}/api/v1/query?query={Uri.EscapeDataString(promql)}");
                using var doc = JsonDocument.Parse(last);
                var result = doc.RootElement.GetProperty("data").GetProperty("result");
                if (result.GetArrayLength() > 0 && result[0].GetProperty("value")[1].GetString() is { } v && done(v)) return v;
            }
            catch (HttpRequestException) { } // not up yet
            if (_p.HasExited) break;
            await Task.Delay(TimeSpan.FromMilliseconds(250), TimeProvider.System); // polling interval of a bounded wait
        }
        string log;
        lock (_log) log = _log.ToString();
        throw new TimeoutException($"prometheus never answered {promql} as expected; last answer: {last}\nits log:\n{log}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_p.HasExited)
        {
            _p.Kill(entireProcessTree: true);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _p.WaitForExitAsync(cts.Token);
        }
        _p.Dispose();
    }
}

/// <summary>One data point an OTLP export carried: its metric, its <c>unit</c> attribute and its integer value (sums
/// and gauges of whole numbers; null otherwise).</summary>
sealed record OtlpPoint(string Metric, string? Unit, long? Value);

/// <summary>
/// A loopback stand-in for an OpenTelemetry collector: accepts <c>POST /v1/metrics</c> and decodes the protobuf
/// <c>ExportMetricsServiceRequest</c> with a small wire-format reader (opentelemetry-proto's metrics.proto field
/// numbers), enough to find each point's metric name, unit attribute and integer value.
/// </summary>
sealed class OtlpReceiver : IDisposable
{
    readonly HttpListener _listener = new();
    readonly List<OtlpPoint> _points = [];
    readonly SemaphoreSlim _received = new(0);
    public int Port { get; }
    public string? Path { get; private set; }
    public string? ContentType { get; private set; }
    /// <summary>Why a request could not be decoded (the test fails with it).</summary>
    public string? Error { get; private set; }

    public OtlpReceiver()
    {
        Port = Ports.Free();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _ = Task.Run(ServeAsync);
    }

    async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
            using var body = new MemoryStream();
            await ctx.Request.InputStream.CopyToAsync(body);
            lock (_points)
            {
                Path = ctx.Request.Url!.AbsolutePath;
                ContentType = ctx.Request.ContentType;
                try { _points.AddRange(Decode(body.ToArray())); }
                catch (Exception e) when (e is InvalidDataException or ArgumentException or IndexOutOfRangeException) { Error = e.Message; }
            }
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "application/x-protobuf";
            ctx.Response.Close();
            _received.Release();
        }
    }

    /// <summary>Waits until the points received so far satisfy <paramref name="done"/>; returns them.</summary>
    public async Task<List<OtlpPoint>> Until(Func<List<OtlpPoint>, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            List<OtlpPoint> now;
            lock (_points) now = [.. _points];
            if (done(now)) return now;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await _received.WaitAsync(left))
                throw new TimeoutException($"no OTLP export satisfied the test (decoding error: {Error ?? "none"}); received {now.Count} points: "
                    + string.Join(", ", now.Select(p => $"{p.Metric}{{{p.Unit}}}={p.Value}").Distinct().Take(60)));
        }
    }

    static IEnumerable<OtlpPoint> Decode(byte[] request)
    {
        // ExportMetricsServiceRequest.resource_metrics(1) → ResourceMetrics.scope_metrics(2) → ScopeMetrics.metrics(2)
        // → Metric.name(1), gauge(5) | sum(7) | histogram(9) → data_points(1) → NumberDataPoint.attributes(7), as_int(6)
        // (HistogramDataPoint.attributes is 9; its 6 and 7 are the packed bucket counts and bounds)
        foreach (var rm in Proto.Messages(request, 1))
            foreach (var sm in Proto.Messages(rm, 2))
                foreach (var metric in Proto.Messages(sm, 2))
                {
                    var name = Proto.Strings(metric, 1).FirstOrDefault() ?? "";
                    foreach (var data in Proto.Fields(metric).Where(f => f.Field is 5 or 7 or 9 && f.Wire == 2))
                        foreach (var point in Proto.Messages(data.Bytes, 1))
                        {
                            string? unit = null;
                            foreach (var kv in Proto.Messages(point, data.Field == 9 ? 9 : 7))
                                if (Proto.Strings(kv, 1).FirstOrDefault() == "unit")
                                    unit = Proto.Messages(kv, 2).SelectMany(v => Proto.Strings(v, 1)).FirstOrDefault();
                            long? value = data.Field == 9 ? null : Proto.Fields(point).Where(f => f.Field == 6 && f.Wire == 1).Select(f => (long?)f.Fixed).FirstOrDefault();
                            yield return new OtlpPoint(name, unit, value);
                        }
                }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
    }
}

/// <summary>The protobuf wire format, read only: varints, fixed64/32, length-delimited fields.</summary>
static class Proto
{
    public readonly record struct FieldValue(int Field, int Wire, ulong Varint, long Fixed, byte[] Bytes);

    public static List<FieldValue> Fields(byte[] message)
    {
        var fields = new List<FieldValue>();
        int i = 0;
        while (i < message.Length)
        {
            ulong key = Varint(message, ref i);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: fields.Add(new(field, wire, Varint(message, ref i), 0, [])); break;
                case 1: fields.Add(new(field, wire, 0, BitConverter.ToInt64(message, i), [])); i += 8; break;
                case 5: fields.Add(new(field, wire, 0, BitConverter.ToInt32(message, i), [])); i += 4; break;
                case 2:
                    int length = checked((int)Varint(message, ref i));
                    fields.Add(new(field, wire, 0, 0, message[i..(i + length)]));
                    i += length;
                    break;
                default: throw new InvalidDataException($"protobuf wire type {wire} at byte {i}");
            }
        }
        return fields;
    }

    public static IEnumerable<byte[]> Messages(byte[] message, int field) => Fields(message).Where(f => f.Field == field && f.Wire == 2).Select(f => f.Bytes);

    public static IEnumerable<string> Strings(byte[] message, int field) => Messages(message, field).Select(b => Encoding.UTF8.GetString(b));

    static ulong Varint(byte[] b, ref int i)
    {
        ulong v = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte x = b[i++];
            v |= (ulong)(x & 0x7f) << shift;
            if (x < 0x80) return v;
        }
    }
}
