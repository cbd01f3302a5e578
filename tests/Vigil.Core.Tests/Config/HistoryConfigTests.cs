using Vigil.Config;
using Vigil.Telemetry.History;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Config;

/// <summary>Unit: the top-level <c>history:</c> key, read with positioned errors and written back by <c>vigil save</c>.</summary>
public sealed class HistoryConfigTests
{
    private const string Units = "processes:\n  - command: x\n";

    private static VigilConfig Parse(string text) => ConfigLoader.Parse(text, "vigil.yaml", "/srv/app", TestExtensions.Vigil);

    private static string[] Errors(string text)
    {
        var e = Assert.Throws<ConfigException>(() => Parse(text));
        return [.. e.Errors.Select(x => x.ToString())];
    }

    [Theory]
    [InlineData("", true, 30 * 24 * 60, 100L << 20)]
    [InlineData("history: false\n", false, 30 * 24 * 60, 100L << 20)]
    [InlineData("history: true\n", true, 30 * 24 * 60, 100L << 20)]
    [InlineData("history: { keep: 7d }\n", true, 7 * 24 * 60, 100L << 20)]
    [InlineData("history: { keep: 90m, maxSize: 20MB }\n", true, 90, 20L << 20)]
    [InlineData("history: { enabled: false, keep: 1h }\n", false, 60, 100L << 20)]
    [InlineData("history: ~\n", true, 30 * 24 * 60, 100L << 20)]
    public void History_is_read_with_its_defaults(string yaml, bool enabled, int keepMinutes, long maxSize) =>
        Assert.Equal(new HistorySettings(enabled, TimeSpan.FromMinutes(keepMinutes), maxSize), Parse(Units + yaml).History);

    [Fact]
    public void Bad_history_values_are_errors_at_their_keys() =>
        Assert.Equal(
            [
                "vigil.yaml:3:1: history: expected true or false, got 'sometimes'",
            ],
            Errors(Units + "history: sometimes\n"));

    [Fact]
    public void Bad_history_keys_are_errors_with_positions_and_suggestions()
    {
        Assert.Equal(
            [
                "vigil.yaml:3:12: history.keep: expected at least 1m (how long events are kept), got 10s",
                "vigil.yaml:3:23: history.maxSize: expected at least 1MB (the database's size bound), got 1KiB",
                "vigil.yaml:3:37: history.enable: unknown key; did you mean 'enabled'?",
            ],
            Errors(Units + "history: { keep: 10s, maxSize: 1KB, enable: true }\n"));
        Assert.Equal(
            ["vigil.yaml:4:3: history.keep: expected a duration like 100ms, 1.5s, 5m, 1h or integer milliseconds, got 'forever'"],
            Errors(Units + "history:\n  keep: forever\n"));
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("history: false\n", "history: false")]
    [InlineData("history: { keep: 7d, maxSize: 20MB }\n", "history: {keep: 7d, maxSize: 20MB}")]
    [InlineData("history: { keep: 90m }\n", "history: {keep: 90m}")]
    public void History_is_written_back_only_when_not_the_default(string yaml, string? written)
    {
        var config = Parse(Units + yaml);
        var text = ConfigWriter.ToYaml(config.Name, config.Processes, config.Sections, config.StatusEvents, TestExtensions.Vigil, config.History);
        if (written is null) Assert.DoesNotContain("history", text);
        else Assert.Contains("\n" + written + "\n", text);
        Assert.Equal(config.History, Parse(text).History);
    }
}
