namespace Vigil.Specs;

/// <summary>
/// <c>tmux:</c> of a unit: run it inside a window of the tmux session <see cref="Session"/> on Vigil's own tmux server,
/// where an operator can watch it live (<c>vigil attach NAME</c>). Output is still captured (through pipe-pane).
/// </summary>
public sealed record TmuxSpec(string Session)
{
    /// <summary>The window's size (<c>tmux.columns</c>, <c>tmux.rows</c>), 80x24 by default.</summary>
    public TerminalSpec Size { get; init; } = TerminalSpec.Default;

    /// <summary>Problems, each naming its key under <c>tmux</c>; empty when valid.</summary>
    public IEnumerable<SpecError> Validate()
    {
        // tmux turns ':' and '.' in session names into '_' (they separate a target's parts), so such a name would
        // never be found again under the name the config gives.
        if (string.IsNullOrWhiteSpace(Session)) yield return new("tmux.session", "must not be empty");
        else if (Session.AsSpan().IndexOfAny(":.\0") >= 0 || Session.StartsWith('=') || Session.StartsWith('$'))
            yield return new("tmux.session", $"'{Session.Replace("\0", "\\0")}' is not a tmux session name (no ':', '.', NUL, nor a leading '=' or '$')");
        foreach (var e in Size.Validate("tmux")) yield return e;
    }
}
