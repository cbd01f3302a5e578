using System.Globalization;
using System.Text;
using Vigil.Specs;
using Vigil.Supervision;

namespace Vigil.Control;

/// <summary>The engine's values in the words the protocol uses: lower case with dashes, durations as in config files.</summary>
internal static class Words
{
    /// <summary><c>SlowRetry</c> → <c>slow-retry</c>, <c>OnFailure</c> → <c>on-failure</c>.</summary>
    public static string Dashed(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 4);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (char.IsUpper(c))
            {
                if (i > 0) sb.Append('-');
                sb.Append(char.ToLowerInvariant(c));
            }
            else sb.Append(c);
        }
        return sb.ToString();
    }

    public static string Policy(RestartPolicyKind p) => Dashed(p.ToString());

    /// <summary>"100ms, 500ms, 1s (the last repeats)", "backoff 1s ×2 up to 5m", or "none (never restarts)".</summary>
    public static string Schedule(RestartSpec r)
    {
        if (r.Backoff is { } b)
            return $"backoff {Durations.Format(b.Initial)} ×{b.Multiplier.ToString(CultureInfo.InvariantCulture)} up to {Durations.Format(b.Max)}"
                + (b.Jitter > 0 ? $" ± {(b.Jitter * 100).ToString("0.#", CultureInfo.InvariantCulture)}%" : "");
        if (r.ScheduleMeansNever) return "none (never restarts)";
        return string.Join(", ", r.Schedule.Select(Durations.Format)) + (r.Schedule.Length > 1 ? " (the last repeats)" : " (repeating)");
    }

    /// <summary>"5 within 10m, then slow-retry every 5m"; null without a limit.</summary>
    public static string? Limit(CrashLoopLimit? l) => l is null ? null
        : string.Create(CultureInfo.InvariantCulture, $"{l.Restarts} within {Durations.Format(l.Within)}, then ")
          + (l.Then == LimitAction.Stop ? "stop" : $"slow-retry every {Durations.Format(l.SlowRetryDelay)}");

    /// <summary>Seconds for JSON: finite, rounded to the millisecond.</summary>
    public static double Seconds(TimeSpan t) => Math.Round(Math.Max(0, t.TotalSeconds), 3);
}
