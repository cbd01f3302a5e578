using Vigil.Specs;

namespace Vigil.Config;

public static partial class ConfigLoader
{
    private static readonly string[] TtyKeys = ["columns", "rows"];
    private static readonly string[] TmuxKeys = ["session", "columns", "rows"];

    internal sealed partial class Mapper
    {
        /// <summary><c>tty: true</c> (80x24), <c>false</c>, or <c>{ columns: N, rows: N }</c>; null when off or wrong.</summary>
        private TerminalSpec? Tty(YNode v, string path, Pos at)
        {
            if (v is not YMapping map) return Bool(v, path, at) == true ? TerminalSpec.Default : null;
            var spec = TerminalSpec.Default;
            foreach (var (key, keyPath, keyAt, value) in Entries(map, path, TtyKeys))
            {
                if (Int(value, keyPath, keyAt) is not { } n) continue;
                spec = key == "columns" ? spec with { Columns = n } : spec with { Rows = n };
            }
            return spec;
        }

        /// <summary><c>tmux: SESSION</c> or <c>tmux: { session: SESSION, columns: N, rows: N }</c>; null when wrong.</summary>
        private TmuxSpec? Tmux(YNode v, string path, Pos at)
        {
            if (v is not YMapping map) return String(v, path, at) is { } name ? new TmuxSpec(name) : null;
            string? session = null;
            var size = TerminalSpec.Default;
            foreach (var (key, keyPath, keyAt, value) in Entries(map, path, TmuxKeys))
            {
                if (key == "session") session = String(value, keyPath, keyAt);
                else if (Int(value, keyPath, keyAt) is { } n) size = key == "columns" ? size with { Columns = n } : size with { Rows = n };
            }
            if (session is null) Error(at, Join(path, "session"), "needs the tmux session's name (tmux: { session: NAME })");
            return session is null ? null : new TmuxSpec(session) { Size = size };
        }
    }
}
