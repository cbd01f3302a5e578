using System.Text.Json;
using System.Text.Json.Serialization;
using Vigil.Control;

namespace Vigil.Cli.Output;

/// <summary>
/// The <c>--json</c> output: the control interface's own records, camelCase, the same names as the protocol
/// (docs/control-protocol.md). Source-generated, no reflection (Native AOT). Nulls are written (<c>"pid": null</c>),
/// so a script sees every field of the shape whatever the unit's state.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(IReadOnlyList<UnitInfo>))]
[JsonSerializable(typeof(IReadOnlyList<UnitDetail>))]
[JsonSerializable(typeof(IReadOnlyList<ActionOutcome>))]
[JsonSerializable(typeof(IReadOnlyList<EventInfo>))]
[JsonSerializable(typeof(IReadOnlyList<LogLine>))]
[JsonSerializable(typeof(ReloadResult))]
[JsonSerializable(typeof(ServerInfo))]
[JsonSerializable(typeof(SaveResult))]
public sealed partial class CliJson : JsonSerializerContext
{
    /// <summary>One object per line, for streams (<c>events -f --json</c>): each line parses on its own.</summary>
    public static CliJson Lines => s_lines ??= new(new JsonSerializerOptions(Default.Options) { WriteIndented = false });

    private static CliJson? s_lines;
}
