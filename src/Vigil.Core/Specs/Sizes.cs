using System.Globalization;

namespace Vigil.Specs;

/// <summary>Byte sizes as users write them: <c>512</c> (bytes), <c>64KB</c>, <c>50MB</c>, <c>2GB</c>, <c>1.5GiB</c>.
/// K, M, G, T are powers of 1024 with or without <c>B</c>/<c>iB</c> (as PM2's <c>max_size</c> and most log tools).</summary>
public static class Sizes
{
    public const string Expected = "a size like 512, 64KB, 50MB or 2GB";

    /// <summary>For messages: the largest size accepted (long.MaxValue / 2 bytes, so that sums of sizes cannot overflow).</summary>
    public const string MaxText = "4EiB";

    public static bool TryParse(string? text, out long bytes) => Parse(text, out bytes) == Outcome.Ok;

    /// <summary>True when <paramref name="text"/> is written like a size but is past <see cref="MaxText"/>.</summary>
    public static bool TooLarge(string? text) => Parse(text, out _) == Outcome.TooLarge;

    private enum Outcome { Ok, Malformed, TooLarge }

    private static Outcome Parse(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text)) return Outcome.Malformed;
        var t = text.Trim();
        int i = 0;
        while (i < t.Length && (char.IsAsciiDigit(t[i]) || t[i] == '.')) i++;
        if (i == 0 || !double.TryParse(t.AsSpan(0, i), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n)) return Outcome.Malformed;
        var unit = t[i..].Trim().ToUpperInvariant();
        if (unit.EndsWith("IB", StringComparison.Ordinal)) unit = unit[..^2];
        else if (unit.Length > 1 && unit.EndsWith('B')) unit = unit[..^1];
        double factor = unit switch
        {
            "" or "B" => 1,
            "K" => 1024d,
            "M" => 1024d * 1024,
            "G" => 1024d * 1024 * 1024,
            "T" => 1024d * 1024 * 1024 * 1024,
            _ => double.NaN,
        };
        if (double.IsNaN(factor)) return Outcome.Malformed;
        var total = Math.Round(n * factor);
        if (!(total <= long.MaxValue / 2)) return Outcome.TooLarge;
        bytes = (long)total;
        return Outcome.Ok;
    }

    /// <summary>A size for people: <c>512B</c>, <c>100MiB</c>, <c>2.1GiB</c> (powers of 1024, at most one decimal).</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (Math.Abs(v) >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return v.ToString(u == 0 ? "0" : "0.#", CultureInfo.InvariantCulture) + units[u];
    }
}
