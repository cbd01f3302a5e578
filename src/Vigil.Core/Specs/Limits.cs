using System.Collections.Immutable;

namespace Vigil.Specs;

/// <summary>
/// The bounds that specs are validated against, in one place so that the config loader, the C# API and the README
/// agree. A value past a bound is refused with a message naming the bound, rather than failing later at run time
/// (a timer that throws, a ring that exhausts memory, an argument cut at a NUL byte).
/// </summary>
public static class Limits
{
    /// <summary>The longest a single timer may wait: probe periods, timeouts and initial delays, the cpu window,
    /// the sd-notify watchdog, stop.timeout and stop.killWait. .NET timers cannot wait more than int.MaxValue ms
    /// (≈ 24.8 days; System.Threading.Timer throws past it), and 24 days is the round figure below that.
    /// Restart delays are not bounded by it: the engine chains them.</summary>
    public static readonly TimeSpan MaxTimerWait = TimeSpan.FromDays(24);

    /// <summary>Lines kept in memory per unit (<c>log.ringLines</c>).</summary>
    public const int MaxRingLines = 1_000_000;

    /// <summary>The longest line piece (<c>log.maxLine</c>): the capture buffers one line of this size per stream.</summary>
    public const int MaxLineBytes = 16 * 1024 * 1024;

    /// <summary>Consecutive checks a probe counts (<c>failureThreshold</c>, <c>successThreshold</c>).</summary>
    public const int MaxThreshold = 10_000;

    /// <summary><c>restart.limit.restarts</c>: the restart history keeps one time stamp per restart in the window.</summary>
    public const int MaxLimitRestarts = 10_000;

    /// <summary><c>restart.backoff.multiplier</c>: beyond this the second delay is already the maximum.</summary>
    public const double MaxBackoffMultiplier = 1000;

    /// <summary><c>cpu</c> max/min, in % of one core: 1024 cores.</summary>
    public const double MaxCpuPercent = 102_400;

    /// <summary>The message for a string that holds U+0000.</summary>
    public const string NulMessage = "contains a NUL byte (\\0), which no path, argument or environment variable can hold";

    /// <summary>True when <paramref name="s"/> holds U+0000: exec(2), open(2) and the environment take C strings, so the
    /// text after it would be silently cut off (or .NET's path APIs throw).</summary>
    public static bool HasNul(string? s) => s is not null && s.Contains('\0');

    /// <summary>Problems for every element of <paramref name="items"/> that holds a NUL byte, at <c>key[i]</c>.</summary>
    public static IEnumerable<SpecError> NulIn(ImmutableArray<string> items, string key)
    {
        if (items.IsDefault) yield break;
        for (int i = 0; i < items.Length; i++)
            if (HasNul(items[i])) yield return new($"{key}[{i}]", NulMessage);
    }

    /// <summary>"must be at most 24d (the longest a timer can wait)" at <paramref name="key"/> when <paramref name="d"/> is past <see cref="MaxTimerWait"/>.</summary>
    public static SpecError? TimerWait(TimeSpan d, string key) =>
        d > MaxTimerWait ? new(key, $"must be at most 24d (the longest a timer can wait), got {Durations.Format(d)}") : null;
}
