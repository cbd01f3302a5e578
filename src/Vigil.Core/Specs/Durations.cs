using System.Globalization;

namespace Vigil.Specs;

/// <summary>Durations as users write them: <c>100ms</c>, <c>1.5s</c>, <c>5m</c>, <c>1h</c>, <c>2d</c> or integer milliseconds.</summary>
public static class Durations
{
    public const string Expected = "a duration like 100ms, 1.5s, 5m, 1h or integer milliseconds";

    /// <summary>For messages: the longest duration there is (TimeSpan.MaxValue, about 29,000 years).</summary>
    public const string MaxText = "10675199d";

    public static bool TryParse(string? text, out TimeSpan value) => Parse(text, out value) == Outcome.Ok;

    /// <summary>True when <paramref name="text"/> is written like a duration but is longer than a TimeSpan can hold,
    /// so an error can say "too long" rather than "expected a duration".</summary>
    public static bool TooLong(string? text) => Parse(text, out _) == Outcome.TooLong;

    private enum Outcome { Ok, Malformed, TooLong }

    private static Outcome Parse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text)) return Outcome.Malformed;
        var t = text.Trim();
        int i = 0;
        while (i < t.Length && char.IsAsciiDigit(t[i])) i++;
        if (i == t.Length)
        {
            // Integer milliseconds. TimeSpan.FromMilliseconds(long) throws past TimeSpan.MaxValue; a bad duration is an
            // error value, not an exception. Digits past long are too long as well.
            if (!long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) ||
                ms > TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMillisecond) return Outcome.TooLong;
            value = TimeSpan.FromMilliseconds(ms);
            return Outcome.Ok;
        }
        i = 0;
        while (i < t.Length && (char.IsAsciiDigit(t[i]) || t[i] == '.')) i++;
        if (i == 0 || !double.TryParse(t.AsSpan(0, i), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n)) return Outcome.Malformed;
        double factorMs = t[i..].Trim() switch
        {
            "ms" => 1,
            "s" => 1000,
            "m" or "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => double.NaN,
        };
        if (double.IsNaN(factorMs)) return Outcome.Malformed;
        var total = n * factorMs;
        if (!(total < TimeSpan.MaxValue.TotalMilliseconds)) return Outcome.TooLong;
        value = TimeSpan.FromMilliseconds(total);
        return Outcome.Ok;
    }

    /// <summary>Shortest exact form: 500ms, 1.5s, 10s, 5m, 1h.</summary>
    public static string Format(TimeSpan d)
    {
        if (d.Ticks % TimeSpan.TicksPerMillisecond != 0 || d < TimeSpan.FromSeconds(1)) return $"{d.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms";
        if (d.TotalHours >= 1 && d.Ticks % TimeSpan.TicksPerHour == 0) return $"{(long)d.TotalHours}h";
        if (d.TotalMinutes >= 1 && d.Ticks % TimeSpan.TicksPerMinute == 0) return $"{(long)d.TotalMinutes}m";
        return $"{d.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s";
    }
}
