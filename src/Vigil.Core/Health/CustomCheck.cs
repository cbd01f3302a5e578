using Vigil.Specs;

namespace Vigil.Health;

/// <summary>A library probe: any <see cref="IProbe"/> factory (created anew for each run). Not plain data, so it lives
/// with the probes rather than in Specs; a config file cannot hold it.</summary>
public sealed record CustomCheck(string Label, Func<IProbe> Create) : ProbeCheck
{
    public override string Kind => Label;
}
