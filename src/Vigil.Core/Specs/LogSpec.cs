namespace Vigil.Specs;

/// <summary>
/// The <c>log:</c> section of a unit: where its lines are written and how each is formatted. Immutable; checked by
/// <see cref="Validate"/> when the spec is accepted, so a bad value never half-starts a unit.
/// </summary>
public sealed record LogSpec
{
    public static readonly LogSpec Default = new();

    /// <summary>One file for both streams. Exclusive with <see cref="Out"/> and <see cref="Err"/>.</summary>
    public string? File { get; init; }

    /// <summary>File for stdout only.</summary>
    public string? Out { get; init; }

    /// <summary>File for stderr only.</summary>
    public string? Err { get; init; }

    /// <summary>Start each line with the ISO-8601 UTC time (milliseconds) at which it was read.</summary>
    public bool Timestamps { get; init; } = true;

    /// <summary>Tag each line with <c>out</c> or <c>err</c>.</summary>
    public bool Stream { get; init; }

    /// <summary>Prefix each line with <c>name: </c> (elife's format).</summary>
    public bool Prefix { get; init; }

    /// <summary>Remove ANSI CSI and OSC escape sequences before writing.</summary>
    public bool StripAnsi { get; init; }

    /// <summary>Rotate when a file would grow past this many bytes; null = never rotate.</summary>
    public long? MaxSize { get; init; }

    /// <summary>Rotated files kept (<c>path.1</c> … <c>path.keep</c>); older ones are deleted.</summary>
    public int Keep { get; init; } = 5;

    /// <summary>A longer line is split into pieces of this many bytes, each but the last marked <c>[continued]</c>.</summary>
    public int MaxLine { get; init; } = 65536;

    /// <summary>Lines kept in memory per unit for <c>vigil logs</c> and followers.</summary>
    public int RingLines { get; init; } = 1000;

    /// <summary>Streams whose lines also go to Vigil's own stdout (out) and stderr (err), as they are (Ligato's
    /// <c>out_writer</c>/<c>err_writer</c>); the log captures them either way.</summary>
    public LogEcho Echo { get; init; }

    /// <summary>Problems with the section, each naming the key; empty when valid.</summary>
    public IEnumerable<SpecError> Validate()
    {
        if (File is not null && (Out is not null || Err is not null))
            yield return new("log.file", "give either file (both streams) or out/err (separate files), not both");
        if (File is { Length: 0 }) yield return new("log.file", "must not be empty (leave it out for no file)");
        if (Limits.HasNul(File)) yield return new("log.file", Limits.NulMessage);
        if (Limits.HasNul(Out)) yield return new("log.out", Limits.NulMessage);
        if (Limits.HasNul(Err)) yield return new("log.err", Limits.NulMessage);
        if (Out is { Length: 0 }) yield return new("log.out", "must not be empty (leave it out for no file)");
        if (Err is { Length: 0 }) yield return new("log.err", "must not be empty (leave it out for no file)");
        if (MaxSize is { } m && m < 4096) yield return new("log.maxSize", "must be at least 4KB (e.g. 50MB), or left out for no rotation");
        if (Keep < 1) yield return new("log.keep", "must be 1 or more (rotated files to keep)");
        if (Keep > 1000) yield return new("log.keep", "must be at most 1000");
        if (MaxLine < 1) yield return new("log.maxLine", "must be a positive number of bytes");
        if (MaxLine > Limits.MaxLineBytes) yield return new("log.maxLine", "must be at most 16MB");
        if (RingLines < 0) yield return new("log.ringLines", "must be 0 or more");
        if (Echo is < LogEcho.None or > LogEcho.Both) yield return new("log.echo", "must be none, out, err or both");
        if (RingLines > Limits.MaxRingLines) yield return new("log.ringLines", $"must be at most {Limits.MaxRingLines:N0}");
    }
}

/// <summary>Which of a unit's streams are echoed to Vigil's own (<see cref="LogSpec.Echo"/>).</summary>
[Flags]
public enum LogEcho
{
    None = 0,
    /// <summary>stdout lines to Vigil's stdout.</summary>
    Out = 1,
    /// <summary>stderr lines to Vigil's stderr.</summary>
    Err = 2,
    Both = Out | Err,
}
