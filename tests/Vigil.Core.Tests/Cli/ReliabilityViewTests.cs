using System.Text.Json;
using Vigil.Control;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>Unit: what <c>vigil status</c> adds and what <c>vigil report</c> prints for given statistics (a canned
/// <see cref="FakeControl"/>; the real figures are tested end to end in <see cref="HistoryCliTests"/>).</summary>
public sealed class ReliabilityViewTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 6, 0, 0, TimeSpan.Zero);

    private static ReliabilityWindow Window(string name, int restarts) => new()
    {
        Window = name, From = T0, To = T0.AddHours(1), Restarts = restarts, Failures = restarts + 1, AvailabilityPercent = 99.5,
        UpSeconds = 3582, DowntimeSeconds = 18, Recoveries = restarts, MeanTimeToRecoverSeconds = 0.25, WorstTimeToRecoverSeconds = 12.5,
        MeanTimeBetweenFailuresSeconds = 900,
        Causes =
        [
            new FailureCauseInfo { Cause = "exited with code 3", Count = 12, First = T0, Last = T0.AddMinutes(50) },
            new FailureCauseInfo { Cause = "hung: no output", Count = 3, First = T0.AddMinutes(5), Last = T0.AddMinutes(7) },
        ],
    };

    [Fact]
    public async Task Status_shows_each_window_and_the_causes_of_the_longest()
    {
        var fake = new FakeControl
        {
            Details = [new UnitDetail { Id = 1, Name = "web", State = "running", Reliability = [Window("1h", 2), Window("1d", 5), Window("30d", 12)] }],
        };
        var (code, output, _) = await fake.Run("status", "web");
        Assert.Equal(0, code);
        var lines = output.Split('\n');
        Assert.Contains("  reliability (from the history: lifetime, across vigil restarts):", lines);
        Assert.Contains(lines, l => l.StartsWith("    restarts ") && l.Contains(" 2 ") && l.Contains(" 5 ") && l.TrimEnd().EndsWith(" 12"));
        Assert.Contains(lines, l => l.StartsWith("    available ") && l.Contains("99.5%"));
        Assert.Contains(lines, l => l.StartsWith("    recovery ") && l.Contains("250ms mean, 12.5s worst"));
        Assert.Contains(lines, l => l.StartsWith("    mtbf ") && l.Contains("15m"));
        Assert.Contains("  failure causes (last 30d):", lines);
        Assert.Contains("    exited with code 3 ×12 (first 2026-11-22 06:00:00Z, last 2026-11-22 06:50:00Z)", lines);
        Assert.Contains("    hung: no output ×3 (first 2026-11-22 06:05:00Z, last 2026-11-22 06:07:00Z)", lines);

        var (_, json, _) = await fake.Run("status", "web", "--json");
        using var doc = JsonDocument.Parse(json);
        var last = doc.RootElement[0].GetProperty("reliability")[2];
        Assert.Equal("30d", last.GetProperty("window").GetString());
        Assert.Equal(12, last.GetProperty("causes")[0].GetProperty("count").GetInt32());
        Assert.Equal(0.25, last.GetProperty("meanTimeToRecoverSeconds").GetDouble());
    }

    [Fact]
    public async Task Status_without_history_shows_no_statistics()
    {
        var fake = new FakeControl { Details = [new UnitDetail { Id = 1, Name = "web", State = "running" }] };
        var (_, output, _) = await fake.Run("status", "web");
        Assert.DoesNotContain("reliability", output);
    }

    [Fact]
    public async Task Report_prints_one_row_per_unit_and_passes_since_on()
    {
        var fake = new FakeControl
        {
            Report = new ReliabilityReport
            {
                Instance = "shop", From = T0, To = T0.AddDays(7), Database = "/var/lib/vigil/shop-1/state.db",
                Units =
                [
                    new UnitReport { Name = "web", State = "running", Figures = Window("7d", 4) },
                    new UnitReport { Name = "old", State = null, Figures = new ReliabilityWindow { Window = "7d" } },
                ],
            },
        };
        var (code, output, _) = await fake.Run("report", "--since", "7d");
        Assert.Equal(0, code);
        Assert.NotNull(fake.ReportSince);
        Assert.InRange(DateTimeOffset.UtcNow - fake.ReportSince!.Value, TimeSpan.FromDays(7) - TimeSpan.FromMinutes(1), TimeSpan.FromDays(7) + TimeSpan.FromMinutes(1));
        var lines = output.Split('\n');
        Assert.Equal("reliability of 'shop' from 2026-11-22 06:00:00Z to 2026-11-29 06:00:00Z (history /var/lib/vigil/shop-1/state.db)", lines[0]);
        Assert.Equal(["NAME", "STATE", "RESTARTS", "FAILURES", "AVAILABLE", "DOWNTIME", "MTTR", "WORST", "MTBF", "TOP", "CAUSE"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["web", "running", "4", "5", "99.5%", "18s", "250ms", "12.5s", "15m", "exited", "with", "code", "3", "×12"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["old", "(removed)", "0", "0", "-", "0ms", "-", "-", "-", "-"], lines[3].Split(' ', StringSplitOptions.RemoveEmptyEntries));

        (code, _, var err) = await fake.Run("report", "--since", "last tuesday");
        Assert.Equal(2, code);
        Assert.Contains("--since: expected a duration like 100ms", err);
        (code, _, err) = await fake.Run("report", "--json", "--html", "x.html");
        Assert.Equal(2, code);
        Assert.Contains("report: give --json or --html FILE, not both", err);
    }

    [Fact]
    public void The_html_page_escapes_every_name_and_cause()
    {
        var html = Vigil.Cli.Output.ReportHtml.Render(new ReliabilityReport
        {
            Instance = "<script>x</script>", From = T0, To = T0.AddHours(1),
            Units = [new UnitReport { Name = "a\"><img src=x>", State = "running", Figures = Window("1h", 1) with { Causes = [new FailureCauseInfo { Cause = "<b>bold</b>", Count = 1 }] } }],
        });
        Assert.DoesNotContain("<script>x", html);
        Assert.DoesNotContain("<img", html);
        Assert.DoesNotContain("<b>bold", html);
        Assert.Contains("&lt;b&gt;bold&lt;/b&gt;", html);
        Assert.DoesNotContain("<script", html);
    }
}
