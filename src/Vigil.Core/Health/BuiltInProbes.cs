using Vigil.Specs;

namespace Vigil.Health;

/// <summary>The probe kinds Vigil.Core implements. Transports add theirs with their own <see cref="IProbeProvider"/>.</summary>
public sealed class BuiltInProbes : IProbeProvider
{
    public static BuiltInProbes Instance { get; } = new();

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
        SdNotifyCheck c => SdNotifyProbe.Open(c, unitName, environment),
        CustomCheck c => c.Create(),
        _ => null,
    };
}
