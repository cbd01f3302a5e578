using Vigil.Config;
using Vigil.Telemetry;
using Vigil.Tether;
using Vigil.Tether.Cops;

namespace Vigil.Tests.Support;

/// <summary>The config extensions the vigil executable registers (Tether's section and probe kind, the telemetry: section), for tests that
/// read or write configs as vigil does.</summary>
internal static class TestExtensions
{
    /// <summary>A new instance each time: extensions are per program, never shared state.</summary>
    public static ConfigExtensions Vigil => new ConfigExtensions().AddTether().AddCops().AddCopsFiles().AddTelemetry();
}
