namespace Vigil.Tether.Mqtt;

/// <summary>Checks topic names and topic filters (MQTT 3.1.1 §4.7), so a bad one is an ArgumentException naming it
/// before anything is sent.</summary>
public static class MqttTopic
{
    static readonly System.Text.UTF8Encoding StrictUtf8 = new(false, true);

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
