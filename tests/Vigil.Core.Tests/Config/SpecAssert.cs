using System.Collections;
using System.Reflection;
using Vigil.Specs;
using Xunit;

namespace Vigil.Tests.Config;

/// <summary>
/// Structural equality of specs for the tests, by reflection over every public property, so it is independent of the
/// config writer (a key the writer forgot shows up here as a difference): lists and dictionaries by content, URIs by
/// their text, delegates and library objects by reference.
/// </summary>
public static class SpecAssert
{
    public static void Equal(IReadOnlyList<ProcessSpec> expected, IReadOnlyList<ProcessSpec> actual, string? context = null)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            if (Difference(expected[i], actual[i], $"processes[{i}]") is { } d)
                Assert.Fail(d + (context is null ? "" : "\n" + context));
    }

    /// <summary>The first difference, as <c>path: expected X, got Y</c>, or null when equal.</summary>
    public static string? Difference(object? a, object? b, string path)
    {
        if (a is null || b is null) return a is null && b is null ? null : $"{path}: expected {Show(a)}, got {Show(b)}";
        var type = a.GetType();
        if (type != b.GetType()) return $"{path}: expected a {type.Name}, got a {b.GetType().Name}";
        if (a is string || type.IsPrimitive || type.IsEnum || a is TimeSpan or decimal)
            return a.Equals(b) ? null : $"{path}: expected {Show(a)}, got {Show(b)}";
        if (a is Uri ua) return ua.OriginalString == ((Uri)b).OriginalString ? null : $"{path}: expected {ua.OriginalString}, got {b}";
        if (a is Delegate || type.Namespace?.StartsWith("Vigil.Logs", StringComparison.Ordinal) == true)
            return ReferenceEquals(a, b) ? null : $"{path}: not the same {type.Name}";
        if (a is IDictionary da)
        {
            var db = (IDictionary)b;
            if (da.Count != db.Count) return $"{path}: expected {da.Count} entries, got {db.Count}";
            foreach (DictionaryEntry e in da)
            {
                if (!db.Contains(e.Key)) return $"{path}: missing {e.Key}";
                if (Difference(e.Value, db[e.Key], $"{path}.{e.Key}") is { } d) return d;
            }
            return null;
        }
        if (a is IEnumerable ea)
        {
            var la = ea.Cast<object?>().ToList();
            var lb = ((IEnumerable)b).Cast<object?>().ToList();
            if (la.Count != lb.Count) return $"{path}: expected {la.Count} items, got {lb.Count}";
            for (int i = 0; i < la.Count; i++)
                if (Difference(la[i], lb[i], $"{path}[{i}]") is { } d) return d;
            return null;
        }
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length > 0 || p.Name == "EqualityContract") continue;
            if (Difference(p.GetValue(a), p.GetValue(b), $"{path}.{p.Name}") is { } d) return d;
        }
        return null;
    }

    private static string Show(object? o) => o switch { null => "null", string s => $"'{s}'", _ => o.ToString() ?? "?" };
}
