namespace Vigil.Tether.Mqtt;

/// <summary>Topic names and topic filters (MQTT 3.1.1 §4.7).</summary>
public static class MqttTopic
{
    static readonly System.Text.UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>
    /// Whether <paramref name="topic"/> matches <paramref name="filter"/>: <c>+</c> is exactly one level (possibly
    /// empty), <c>#</c> (last) is any number of levels including the parent (<c>a/#</c> matches <c>a</c>), and a
    /// topic starting with <c>$</c> is not matched by a wildcard in the first level (§4.7.2).
    /// </summary>
    public static bool Matches(string filter, string topic)
    {
        if (topic.StartsWith('$') && (filter.StartsWith('+') || filter.StartsWith('#'))) return false;
        var f = filter.Split('/');
        var t = topic.Split('/');
        for (int i = 0; i < f.Length; i++)
        {
            if (f[i] == "#") return true;
            if (i >= t.Length) return false;
            if (f[i] != "+" && f[i] != t[i]) return false;
        }
        return f.Length == t.Length;
    }

    /// <summary>Null when <paramref name="filter"/> is a valid subscription filter, else what is wrong with it.</summary>
    public static string? CheckFilter(string filter)
    {
        if (CheckCommon(filter, "topic filter") is { } error) return error;
        var levels = filter.Split('/');
        for (int i = 0; i < levels.Length; i++)
        {
            var level = levels[i];
            if (level.Contains('#') && (level != "#" || i != levels.Length - 1))
                return $"topic filter '{filter}': '#' must be a whole level and the last one";
            if (level.Contains('+') && level != "+")
                return $"topic filter '{filter}': '+' must be a whole level";
        }
        return null;
    }

    /// <summary>Null when <paramref name="topic"/> is a valid topic name to publish on, else what is wrong with it.</summary>
    public static string? CheckName(string topic) =>
        CheckCommon(topic, "topic name")
        ?? (topic.AsSpan().IndexOfAny('+', '#') >= 0 ? $"topic name '{topic}' must not contain the wildcards + or #" : null);

    static string? CheckCommon(string s, string what)
    {
        if (s.Length == 0) return $"a {what} must not be empty";
        if (s.Contains('\0')) return $"{what} '{s}' must not contain U+0000";
        int bytes;
        try { bytes = StrictUtf8.GetByteCount(s); }
        catch (System.Text.EncoderFallbackException) { return $"{what} '{s}' is not valid Unicode (a lone surrogate)"; }
        if (bytes > ushort.MaxValue) return $"{what} is longer than 65535 UTF-8 bytes";
        return null;
    }
}
