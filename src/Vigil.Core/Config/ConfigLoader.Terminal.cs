using Vigil.Specs;

namespace Vigil.Config;

public static partial class ConfigLoader
{
    private static readonly string[] TtyKeys = ["columns", "rows"];

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
    }
}
