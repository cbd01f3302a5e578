using System.Globalization;
using System.Net;
using System.Text;
using Vigil.Control;

namespace Vigil.Cli.Output;

/// <summary>
/// <c>vigil report --html FILE</c>: one self-contained page (inline CSS and SVG, no script, nothing fetched), readable
/// offline and from a mail attachment: the report's table, then per unit a timeline of up/unhealthy/down bands and a bar
/// per failure cause. Every text from the report is HTML-escaped (unit names and causes are anyone's strings).
/// </summary>
public static class ReportHtml
{
    private const int TimelineWidth = 1000, TimelineHeight = 28, BarWidth = 600, BarHeight = 18;

    private const string Css = """
        body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
        h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin: 1.6em 0 .4em; }
        table { border-collapse: collapse; } th, td { padding: .25em .8em; text-align: left; border-bottom: 1px solid #ddd; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        .band-up { fill: #3a9d5d; } .band-unhealthy { fill: #e0a526; } .band-down { fill: #d64545; } .gap { fill: #eee; }
        .legend span { display: inline-block; width: .9em; height: .9em; margin: 0 .3em 0 1em; vertical-align: -.1em; }
        .legend .up { background: #3a9d5d; } .legend .unhealthy { background: #e0a526; } .legend .down { background: #d64545; }
        .bar { fill: #d64545; } .axis { font-size: 11px; fill: #666; } .cause-label { font-size: 12px; fill: #222; }
        .muted { color: #777; }
        """;

    public static string Render(ReliabilityReport r)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        sb.Append("<title>Vigil report: ").Append(E(r.Instance)).Append("</title>\n<style>\n").Append(Css).Append("</style>\n</head>\n<body>\n");
        sb.Append("<h1>Vigil reliability report: ").Append(E(r.Instance)).Append("</h1>\n");
        sb.Append("<p class=\"muted\">From ").Append(E(ReliabilityView.Time(r.From))).Append(" to ").Append(E(ReliabilityView.Time(r.To)))
          .Append(". Up, unhealthy and down time count while Vigil ran; stopped units and Vigil's own absences are gaps.");
        if (r.DroppedEvents > 0) sb.Append(CultureInfo.InvariantCulture, $" {r.DroppedEvents} event(s) could not be recorded.");
        sb.Append("</p>\n<p class=\"legend\"><span class=\"up\"></span>up<span class=\"unhealthy\"></span>unhealthy<span class=\"down\"></span>down</p>\n");

        sb.Append("<table id=\"summary\">\n<thead><tr><th>unit</th><th>state</th><th>restarts</th><th>failures</th><th>available</th><th>downtime</th>")
          .Append("<th>mean recovery</th><th>worst recovery</th><th>MTBF</th></tr></thead>\n<tbody>\n");
        foreach (var u in r.Units)
        {
            var f = u.Figures;
            sb.Append("<tr data-unit=\"").Append(E(u.Name)).Append("\"><td>").Append(E(u.Name)).Append("</td><td>").Append(E(u.State ?? "(removed)")).Append("</td>");
            foreach (var cell in new[] { f.Restarts.ToString(CultureInfo.InvariantCulture), f.Failures.ToString(CultureInfo.InvariantCulture),
                ReliabilityView.Percent(f.AvailabilityPercent), ReliabilityView.Span(f.DowntimeSeconds), ReliabilityView.Span(f.MeanTimeToRecoverSeconds),
                ReliabilityView.Span(f.WorstTimeToRecoverSeconds), ReliabilityView.Span(f.MeanTimeBetweenFailuresSeconds) })
                sb.Append("<td class=\"num\">").Append(E(cell)).Append("</td>");
            sb.Append("</tr>\n");
        }
        sb.Append("</tbody>\n</table>\n");

        // One axis for every unit, from the first band recorded (a 30-day window of a history a few minutes old would
        // otherwise draw it all in the last pixel).
        var first = r.Units.SelectMany(u => u.Timeline).Select(b => b.From).DefaultIfEmpty(r.From).Min();
        var axisFrom = first > r.From ? first : r.From;
        foreach (var u in r.Units) Unit(sb, u, axisFrom, r.To);
        sb.Append("</body>\n</html>\n");
        return sb.ToString();
    }

    private static void Unit(StringBuilder sb, UnitReport u, DateTimeOffset from, DateTimeOffset to)
    {
        sb.Append("<section class=\"unit\" data-unit=\"").Append(E(u.Name)).Append("\">\n<h2>").Append(E(u.Name)).Append("</h2>\n");
        double span = Math.Max(1, (to - from).TotalMilliseconds);
        double X(DateTimeOffset t) => Math.Clamp((t - from).TotalMilliseconds / span * TimelineWidth, 0, TimelineWidth);
        sb.Append(CultureInfo.InvariantCulture, $"<svg class=\"timeline\" width=\"{TimelineWidth}\" height=\"{TimelineHeight + 16}\" viewBox=\"0 0 {TimelineWidth} {TimelineHeight + 16}\" role=\"img\" aria-label=\"timeline of {E(u.Name)}\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<rect class=\"gap\" x=\"0\" y=\"0\" width=\"{TimelineWidth}\" height=\"{TimelineHeight}\"/>\n");
        foreach (var b in u.Timeline)
        {
            double x = X(b.From), w = Math.Max(1, X(b.To) - x); // a band too short to see still shows as a line
            sb.Append(CultureInfo.InvariantCulture, $"<rect class=\"band band-{E(b.Kind)}\" data-kind=\"{E(b.Kind)}\" x=\"{x:0.##}\" y=\"0\" width=\"{w:0.##}\" height=\"{TimelineHeight}\">")
              .Append("<title>").Append(E($"{b.Kind} from {ReliabilityView.Time(b.From)} to {ReliabilityView.Time(b.To)}")).Append("</title></rect>\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"0\" y=\"{TimelineHeight + 13}\">{E(ReliabilityView.Time(from))}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"{TimelineWidth}\" y=\"{TimelineHeight + 13}\" text-anchor=\"end\">{E(ReliabilityView.Time(to))}</text>\n</svg>\n");

        var causes = u.Figures.Causes;
        if (causes.Count == 0) sb.Append("<p class=\"muted no-failures\">No failures.</p>\n");
        else
        {
            int most = causes.Max(c => c.Count);
            int height = causes.Count * (BarHeight + 24);
            sb.Append(CultureInfo.InvariantCulture, $"<svg class=\"causes\" width=\"{BarWidth + 80}\" height=\"{height}\" viewBox=\"0 0 {BarWidth + 80} {height}\" role=\"img\" aria-label=\"failure causes of {E(u.Name)}\">\n");
            for (int i = 0; i < causes.Count; i++)
            {
                var c = causes[i];
                int y = i * (BarHeight + 24);
                double w = Math.Max(2, (double)c.Count / most * BarWidth);
                sb.Append(CultureInfo.InvariantCulture, $"<g class=\"cause\" data-cause=\"{E(c.Cause)}\" data-count=\"{c.Count}\">")
                  .Append(CultureInfo.InvariantCulture, $"<text class=\"cause-label\" x=\"0\" y=\"{y + 12}\">{E($"{c.Cause} ×{c.Count}")}</text>")
                  .Append(CultureInfo.InvariantCulture, $"<rect class=\"bar\" x=\"0\" y=\"{y + 16}\" width=\"{w:0.##}\" height=\"{BarHeight}\">")
                  .Append("<title>").Append(E(ReliabilityView.Cause(c))).Append("</title></rect></g>\n");
            }
            sb.Append("</svg>\n");
        }
        sb.Append("</section>\n");
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
