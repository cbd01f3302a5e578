using Vigil.Specs;

namespace Vigil.Config;

internal static partial class ConfigNodes
{
    /// <summary><c>tty:</c> as written: <c>true</c> for the default size, else its columns and rows.</summary>
    private static CNode Tty(TerminalSpec t) => t == TerminalSpec.Default
        ? new CWord("true")
        : new CMap([new("columns", Int(t.Columns)), new("rows", Int(t.Rows))], Flow: true);

    /// <summary><c>tmux:</c> as written: the session, and the window's size when it is not 80x24.</summary>
    private static CNode Tmux(TmuxSpec t) => new CMap(t.Size == TerminalSpec.Default
        ? [new("session", new CText(t.Session))]
        : [new("session", new CText(t.Session)), new("columns", Int(t.Size.Columns)), new("rows", Int(t.Size.Rows))], Flow: true);
}
