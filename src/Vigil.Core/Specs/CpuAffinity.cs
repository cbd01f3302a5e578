using System.Collections.Immutable;
using System.Globalization;
using System.Numerics;

namespace Vigil.Specs;

/// <summary>
/// The CPUs a unit's process may run on (sched_setaffinity on the child after it is spawned), and how long after the
/// spawn to set it (Ligato's <c>cpu_affinity_delay</c>: a program that pins its own threads at start-up can be left
/// to do so first). Written as taskset writes it: a CPU list (<c>0-2,6</c>) or a hex mask (<c>0x47</c>).
/// </summary>
public sealed record CpuAffinity
{
    /// <summary>The highest CPU number accepted (the kernel's CONFIG_NR_CPUS maximum).</summary>
    public const int MaxCpu = 8191;

    /// <summary>The CPU numbers, ascending and without repeats.</summary>
    public ImmutableArray<int> Cpus { get; init; } = [];

    /// <summary>Wait this long after the spawn before setting the affinity; zero = at once.</summary>
    public TimeSpan Delay { get; init; }

    public IEnumerable<SpecError> Validate()
    {
        if (Cpus.IsDefaultOrEmpty) yield return new("cpuAffinity", "names no CPU (give a list like 0-2,6 or a mask like 0x7)");
        else if (Cpus.Any(c => c is < 0 or > MaxCpu)) yield return new("cpuAffinity", $"CPU numbers go from 0 to {MaxCpu}");
        if (Delay < TimeSpan.Zero) yield return new("cpuAffinity.delay", "must not be negative");
        if (Limits.TimerWait(Delay, "cpuAffinity.delay") is { } t) yield return t;
    }

    /// <summary>The list form, as taskset -c and /proc/PID/status' Cpus_allowed_list write it (<c>0-2,6</c>).</summary>
    public string ListText => FormatList(Cpus);

    public override string ToString() => Delay > TimeSpan.Zero ? $"{ListText} after {Durations.Format(Delay)}" : ListText;

    /// <summary>Parses a CPU list (<c>0-2,6</c>: numbers and ranges, comma separated; blanks allowed).</summary>
    public static bool TryParseList(string text, out ImmutableArray<int> cpus, out string? error)
    {
        cpus = [];
        error = null;
        var set = new SortedSet<int>();
        foreach (var raw in text.Split(','))
        {
            var part = raw.Trim();
            if (part.Length == 0) { error = $"expected a CPU list like 0-2,6, got an empty entry in \"{text}\""; return false; }
            var dash = part.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
            {
                if (!Cpu(part, out var one)) { error = $"expected a CPU number (0-{MaxCpu}), got \"{part}\""; return false; }
                set.Add(one);
                continue;
            }
            if (!Cpu(part[..dash].Trim(), out var lo) || !Cpu(part[(dash + 1)..].Trim(), out var hi))
            {
                error = $"expected a CPU range like 0-3 (numbers 0-{MaxCpu}), got \"{part}\"";
                return false;
            }
            if (hi < lo) { error = $"the range \"{part}\" goes backwards"; return false; }
            for (int c = lo; c <= hi; c++) set.Add(c);
        }
        cpus = [.. set];
        return true;

        static bool Cpu(string s, out int n) =>
            int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out n) && n <= MaxCpu;
    }

    /// <summary>Parses a hex mask as taskset takes it (<c>47</c> or <c>0x47</c>: bit n is CPU n; commas between
    /// 32-bit words, as the kernel prints a long mask, are allowed).</summary>
    public static bool TryParseMask(string text, out ImmutableArray<int> cpus, out string? error)
    {
        cpus = [];
        error = null;
        var hex = text.Trim().Replace(",", "", StringComparison.Ordinal);
        if (hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) hex = hex[2..];
        if (hex.Length == 0 || hex.Length > (MaxCpu + 1) / 4 || !hex.All(char.IsAsciiHexDigit))
        {
            error = $"expected a hexadecimal CPU mask like 0x7 (as taskset takes it), got \"{text}\"";
            return false;
        }
        var mask = BigInteger.Parse("0" + hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        var list = ImmutableArray.CreateBuilder<int>();
        for (int bit = 0; !mask.IsZero; bit++, mask >>= 1)
            if (!mask.IsEven) list.Add(bit);
        if (list.Count == 0) { error = $"the mask \"{text}\" names no CPU"; return false; }
        cpus = list.ToImmutable();
        return true;
    }

    /// <summary>The mask form (<c>0x47</c>), as Ligato's <c>cpu_affinity_mask</c> holds it.</summary>
    public string MaskText
    {
        get
        {
            var mask = BigInteger.Zero;
            foreach (var c in Cpus) mask |= BigInteger.One << c;
            var hex = mask.ToString("x", CultureInfo.InvariantCulture).TrimStart('0');
            return "0x" + (hex.Length == 0 ? "0" : hex);
        }
    }

    /// <summary><c>0-2,6</c> for [0, 1, 2, 6].</summary>
    public static string FormatList(IReadOnlyList<int> cpus)
    {
        var parts = new List<string>();
        for (int i = 0; i < cpus.Count;)
        {
            int j = i;
            while (j + 1 < cpus.Count && cpus[j + 1] == cpus[j] + 1) j++;
            parts.Add(j == i ? Invariant(cpus[i]) : $"{Invariant(cpus[i])}-{Invariant(cpus[j])}");
            i = j + 1;
        }
        return string.Join(',', parts);
    }

    private static string Invariant(int n) => n.ToString(CultureInfo.InvariantCulture);
}
