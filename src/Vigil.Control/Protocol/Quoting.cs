namespace Vigil.Control;

/// <summary>Client-supplied text inside an error message: bounded, and on one line.</summary>
internal static class Quoting
{
    /// <summary>At most <paramref name="max"/> characters of <paramref name="s"/> (then "…"), control characters as '?'.</summary>
    public static string Clip(string s, int max)
    {
        var clipped = s.Length <= max ? s : s[..max] + "…";
        return string.Create(clipped.Length, clipped, static (span, src) =>
        {
            for (int i = 0; i < src.Length; i++) span[i] = char.IsControl(src[i]) ? '?' : src[i];
        });
    }
}
