using Vigil.Config;
using Vigil.Telemetry;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Telemetry;

/// <summary>The <c>telemetry:</c> section: what it accepts, its positioned errors, and its round trip through <c>vigil save</c>.</summary>
public sealed class TelemetryConfigTests
{
    private static TelemetrySettings Load(string telemetry) =>
        ConfigLoader.Parse($"processes: [{{ command: x }}]\ntelemetry:\n{telemetry}", "vigil.yaml", "/srv", TestExtensions.Vigil).Sections.Get(TelemetryConfig.Section);

    private static string[] Errors(string telemetry) =>
        [.. Assert.Throws<ConfigException>(() => ConfigLoader.Parse($"processes: [{{ command: x }}]\ntelemetry:\n{telemetry}", "vigil.yaml", "/srv", TestExtensions.Vigil))
            .Errors.Select(e => e.ToString())];

    [Fact]
    public void Every_exporter_is_off_unless_its_key_is_given()
    {
        var none = ConfigLoader.Parse("processes: [{ command: x }]", "vigil.yaml", "/srv", TestExtensions.Vigil).Sections.Get(TelemetryConfig.Section);
        Assert.False(none.Any);
        var otlpOnly = Load("  otlp: {}\n");
        Assert.True(otlpOnly.Otlp.Enabled);
        Assert.False(otlpOnly.Prometheus.IsSet);
        Assert.False(otlpOnly.DogStatsD.Enabled);
        Assert.Equal("http://127.0.0.1:4318", otlpOnly.Otlp.Endpoint);
        Assert.Equal(new Uri("http://127.0.0.1:4318/v1/metrics"), TelemetryHost.OtlpEndpoint(otlpOnly.Otlp));
        Assert.Equal(new Uri("http://collector:4318/custom"), TelemetryHost.OtlpEndpoint(otlpOnly.Otlp with { Endpoint = "http://collector:4318/custom" }));
    }

    [Theory]
    [InlineData("9464", "127.0.0.1", 9464)]          // a port alone is loopback
    [InlineData("127.0.0.1:9100", "127.0.0.1", 9100)]
    [InlineData("0.0.0.0:9464", "0.0.0.0", 9464)]    // every interface, because it is written out
    [InlineData("\"[::1]:9464\"", "::1", 9464)]
    [InlineData("localhost:9464", "localhost", 9464)]
    public void Prometheus_takes_a_port_or_an_address_and_port(string value, string host, int port)
    {
        var s = Load($"  prometheus: {value}\n");
        Assert.Equal(new ListenAddress(host, port), s.Prometheus);
    }

    [Fact]
    public void Bad_keys_are_reported_at_their_position_with_the_key_and_what_was_expected()
    {
        const string expected = "a port (9464, on 127.0.0.1) or an IP address and port (127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464)";
        Assert.Equal([$"vigil.yaml:3:3: telemetry.prometheus: expected {expected}, got 'metrics.example.com'"], Errors("  prometheus: metrics.example.com\n"));
        Assert.Equal([$"vigil.yaml:3:3: telemetry.prometheus: expected {expected}, got '70000'"], Errors("  prometheus: 70000\n"));
        Assert.Equal([$"vigil.yaml:3:3: telemetry.prometheus: expected {expected}, got 'example.com:9464'"], Errors("  prometheus: example.com:9464\n"));
        Assert.Equal(
            [
                "vigil.yaml:4:5: telemetry.otlp.endpoint: expected an http:// or https:// URL such as http://127.0.0.1:4318, got 'ftp://collector'",
                "vigil.yaml:5:5: telemetry.otlp.protocol: expected http/protobuf or grpc, got 'udp'",
                "vigil.yaml:6:5: telemetry.otlp.interval: must be at least 100ms",
            ],
            Errors("  otlp:\n    endpoint: ftp://collector\n    protocol: udp\n    interval: 10ms\n"));
        Assert.Equal(
            [
                "vigil.yaml:3:16: telemetry.dogstatsd.port: expected a port 1-65535, got 0",
                "vigil.yaml:3:25: telemetry.dogstatsd.tags: expected a list of strings, got 'site'",
            ],
            Errors("  dogstatsd: { port: 0, tags: site }\n"));
        Assert.Equal(["vigil.yaml:3:3: telemetry.prometheu: unknown key; did you mean 'prometheus'?"], Errors("  prometheu: 9464\n"));
        Assert.Equal(["vigil.yaml:3:3: telemetry.otlp: expected a mapping, got 'http://127.0.0.1:4318'"], Errors("  otlp: http://127.0.0.1:4318\n"));
    }

    [Fact]
    public void The_section_is_written_back_only_as_given_and_reads_back_equal()
    {
        var given = Load("  prometheus: 0.0.0.0:9464\n  otlp: { protocol: grpc, endpoint: \"http://127.0.0.1:4317\", interval: 5s }\n  dogstatsd: { host: agent, prefix: vigil., tags: [site:lab, env:test] }\n");
        var yaml = ConfigWriter.ToYaml("default", [new Vigil.Specs.ProcessSpec { Name = "w", Command = ["x"] }],
            ConfigSections.Empty.With(TelemetryConfig.Section, given), extensions: TestExtensions.Vigil);
        var back = ConfigLoader.Parse(yaml, "saved.yaml", "/elsewhere", TestExtensions.Vigil).Sections.Get(TelemetryConfig.Section);
        Assert.True(back.SameAs(given), yaml);
        Assert.Equal(["site:lab", "env:test"], back.DogStatsD.Tags);
        Assert.Equal(OtlpProtocol.Grpc, back.Otlp.Protocol);
        Assert.Contains("prometheus: 0.0.0.0:9464", yaml);
        Assert.DoesNotContain("port:", yaml); // the dogstatsd port was not given: DD_DOGSTATSD_PORT still applies

        var none = ConfigWriter.ToYaml("default", [new Vigil.Specs.ProcessSpec { Name = "w", Command = ["x"] }],
            ConfigSections.Empty.With(TelemetryConfig.Section, TelemetrySettings.Default), extensions: TestExtensions.Vigil);
        Assert.DoesNotContain("telemetry", none);
    }
}
