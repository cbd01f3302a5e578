using Vigil.Specs;

namespace Vigil.Config;

internal static partial class ConfigNodes
{
    /// <summary><c>tty:</c> as written: <c>true</c> for the default size, else its columns and rows.</summary>
    private static CNode Tty(TerminalSpec t) => t == TerminalSpec.Default
        ? new CWord("true")
        : new CMap([new("columns", Int(t.Columns)), new("rows", Int(t.Rows))], Flow: true);
}
