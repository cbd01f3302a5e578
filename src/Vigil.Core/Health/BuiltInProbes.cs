using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Specs;

namespace Vigil.Health;

/// <summary>The probe kinds Vigil.Core implements. Transports add theirs with their own <see cref="IProbeProvider"/>.</summary>
/// <param name="logger">Where probes report what only an operator can act on (sd-notify refusing a shared folder).</param>
public sealed class BuiltInProbes(ILogger? logger = null) : IProbeProvider
{
    /// <summary>Built-in probes that report nowhere (a supervisor makes its own, with its logger).</summary>
    public static BuiltInProbes Instance { get; } = new();

    private readonly ILogger _log = logger ?? NullLogger.Instance;

    public IProbe? Create(ProbeSpec spec, string unitName, IDictionary<string, string> environment) => spec.Check switch
    {
        ExecCheck c => new ExecProbe(c),
        HttpCheck c => new HttpProbe(c),
        TcpCheck c => new TcpProbe(c),
        ProgressCheck c => new ProgressProbe(c),
        OutputStallCheck => new OutputStallProbe(),
        HeartbeatFileCheck c => new HeartbeatFileProbe(c),
        MemoryCheck c => new MemoryProbe(c),
        CpuCheck c => new CpuProbe(c),
        SdNotifyCheck c => SdNotifyProbe.Open(c, unitName, environment, _log),
        CustomCheck c => c.Create(),
        _ => null,
    };
}
