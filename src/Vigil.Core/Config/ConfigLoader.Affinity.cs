using System.Collections.Immutable;
using Vigil.Specs;

namespace Vigil.Config;

public static partial class ConfigLoader
{
    private static readonly string[] CpuAffinityKeys = ["cpus", "delay"];

    internal sealed partial class Mapper
    {
        /// <summary><c>cpuAffinity:</c> a CPU list (<c>"0-2,6"</c>), a hex mask (<c>"0x47"</c>), or
        /// <c>{ cpus: …, delay: 1s }</c>.</summary>
        private CpuAffinity? CpuAffinity(YNode v, string path, Pos at)
        {
            if (v is YScalar { IsNull: true }) return null;
            if (v is YMapping m)
            {
                ImmutableArray<int>? cpus = null;
                var delay = TimeSpan.Zero;
                foreach (var (key, keyPath, kAt, value) in Entries(m, path, CpuAffinityKeys))
                {
                    if (key == "cpus") cpus = Cpus(value, keyPath, kAt);
                    else delay = Duration(value, keyPath, kAt) ?? delay;
                }
                if (cpus is null && !m.Entries.Any(e => e.Key is YScalar { Value: "cpus" }))
                    Error(m.Start, path, "missing 'cpus' (a CPU list like 0-2,6 or a mask like 0x7)");
                return cpus is { } c ? new CpuAffinity { Cpus = c, Delay = delay } : null;
            }
            return Cpus(v, path, at) is { } list ? new CpuAffinity { Cpus = list } : null;
        }

        /// <summary>A CPU list, or a mask when it starts with 0x.</summary>
        internal ImmutableArray<int>? Cpus(YNode v, string path, Pos at)
        {
            if (String(v, path, at) is not { } text) return null;
            bool ok = text.TrimStart().StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                ? Specs.CpuAffinity.TryParseMask(text, out var cpus, out var error)
                : Specs.CpuAffinity.TryParseList(text, out cpus, out error);
            if (ok) return cpus;
            Error(at, path, error!);
            return null;
        }
    }
}
