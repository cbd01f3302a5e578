using System.Text;

namespace Vigil.Config;

/// <summary>Splits a command written as one string into argv, the way a POSIX shell splits words, without any of the
/// rest of a shell: no variables, globs, tilde, pipes or redirections.</summary>
public static class CommandLine
{
    /// <summary>
    /// Splits on whitespace. <c>'…'</c> keeps everything literally; <c>"…"</c> keeps everything except that <c>\"</c> and
    /// <c>\\</c> stand for <c>"</c> and <c>\</c>; outside quotes, a backslash makes the next character literal. Quotes
    /// may touch other text (<c>--name="a b"</c> is one word) and <c>''</c> is an empty word.
    /// </summary>
    /// <returns>False, with <paramref name="error"/> set, for an unterminated quote or a trailing backslash.</returns>
    public static bool TrySplit(string text, out IReadOnlyList<string> words, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        var list = new List<string>();
        var current = new StringBuilder();
        bool inWord = false;
        words = list;
        error = null;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            switch (c)
            {
                case ' ' or '\t' or '\n' or '\r':
                    if (inWord) { list.Add(current.ToString()); current.Clear(); inWord = false; }
                    break;
                case '\\':
                    if (i + 1 >= text.Length) { error = "ends with a backslash that escapes nothing"; return false; }
                    current.Append(text[++i]);
                    inWord = true;
                    break;
                case '\'':
                {
                    int end = text.IndexOf('\'', i + 1);
                    if (end < 0) { error = $"unterminated single quote (opened at character {i + 1})"; return false; }
                    current.Append(text, i + 1, end - i - 1);
                    i = end;
                    inWord = true;
                    break;
                }
                case '"':
                {
                    int open = i;
                    for (i++; ; i++)
                    {
                        if (i >= text.Length) { error = $"unterminated double quote (opened at character {open + 1})"; return false; }
                        if (text[i] == '"') break;
                        if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] is '"' or '\\') i++;
                        current.Append(text[i]);
                    }
                    inWord = true;
                    break;
                }
                default:
                    current.Append(c);
                    inWord = true;
                    break;
            }
        }
        if (inWord) list.Add(current.ToString());
        return true;
    }
}
