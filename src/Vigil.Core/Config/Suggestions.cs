namespace Vigil.Config;

/// <summary>"Did you mean …?" for config keys and command-line words alike.</summary>
public static class Suggestions
{
    /// <summary>The known key nearest to <paramref name="key"/> by edit distance (case-insensitive, a swap of two
    /// neighbours counting as one edit), when at most max(2, a third of its length) edits away; else null.</summary>
    public static string? Nearest(string key, IEnumerable<string> known)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        var lower = key.ToLowerInvariant();
        foreach (var candidate in known)
        {
            int allowed = Math.Max(2, candidate.Length / 3);
            // The distance is at least the difference in length: skip what cannot qualify, so a key of 100 KB (a
            // fuzzer's, or a broken file's) costs no 100 KB × length matrix per known key.
            if (Math.Abs(lower.Length - candidate.Length) > allowed) continue;
            int d = EditDistance(lower, candidate.ToLowerInvariant());
            if (d <= allowed && d < candidate.Length && d < bestDistance) (best, bestDistance) = (candidate, d);
        }
        return best;
    }

    /// <summary>Levenshtein distance with adjacent transpositions (optimal string alignment).</summary>
    public static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
