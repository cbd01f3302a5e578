namespace Vigil.Specs;

/// <summary>
/// <c>tty:</c> of a unit: run it on a pseudo-terminal of this size, for programs that colour or line-buffer only on a
/// terminal. A terminal has one output stream, so stdout and stderr arrive merged, as stdout lines.
/// </summary>
public sealed record TerminalSpec
{
    /// <summary>80 columns by 24 rows, the classic terminal (and what <c>tty: true</c> means).</summary>
    public static readonly TerminalSpec Default = new();

    public int Columns { get; init; } = 80;
    public int Rows { get; init; } = 24;

    /// <summary>Problems, each naming its key under <paramref name="key"/> (<c>tty</c>, or <c>tmux</c> for a window's
    /// size); empty when valid.</summary>
    public IEnumerable<SpecError> Validate(string key = "tty")
    {
        // struct winsize holds unsigned shorts; a terminal of 0 columns makes programs divide by zero.
        if (Columns is < 1 or > ushort.MaxValue) yield return new(key + ".columns", $"must be between 1 and {ushort.MaxValue}");
        if (Rows is < 1 or > ushort.MaxValue) yield return new(key + ".rows", $"must be between 1 and {ushort.MaxValue}");
    }
}
