using Vigil.Config;
using Vigil.Specs;

namespace Vigil.Tether.Cops;

/// <summary>
/// A COPS configuration file read as it is (<c>vigil run -c cops.json</c>), detected by its <c>processList</c>. Both
/// key sets are accepted: the design review's (<c>ourUri</c>, <c>heartbeatFreq</c>, <c>replyToGetDeadline</c>,
/// <c>heartbeatErrorAllowance</c>) and the shipped code's (<c>heartbeatFrequencyMS</c>, <c>patrolFrequencyMS</c>,
/// per process <c>hangTimeAllowanceMS</c>, <c>requiredForHealthyStatus</c>). Each process becomes a unit with a
/// <c>kind: cops</c> probe (action kill when <c>killOnHang</c>, else notify); it is an external unit attached to the
/// PID it reports (<c>attach: { probe: cops }</c>) unless the entry also has Vigil's <c>command</c>, which starts it.
/// Vigil's additions: <c>http</c> (top level or per process: the base URL for COPS over HTTP; without it, MQTT through
/// the <c>tether:</c> broker) and <c>command</c>.
/// </summary>
public static class CopsFile
{
    private static readonly string[] TopKeys =
        ["ourUri", "heartbeatFreq", "replyToGetDeadline", "heartbeatErrorAllowance", "heartbeatFrequencyMS", "patrolFrequencyMS", "processList", "http"];
    private static readonly string[] ProcessKeys = ["name", "uri", "killOnHang", "hangTimeAllowanceMS", "requiredForHealthyStatus", "command", "http"];

    /// <summary>The import <see cref="AddCopsFiles"/> registers.</summary>
    public static ConfigImport Import { get; } = new("COPS", "processList", TopKeys, Map);

    /// <summary>Registers the COPS file format; returns <paramref name="extensions"/>.</summary>
    public static ConfigExtensions AddCopsFiles(this ConfigExtensions extensions)
    {
        ArgumentNullException.ThrowIfNull(extensions);
        return extensions.Add(Import);
    }

    private static IReadOnlyList<(ProcessSpec, string)> Map(IReadOnlyList<ConfigValue> top)
    {
        string ourUri = "/cops";
        TimeSpan? freq = null, deadline = null;
        int? allowance = null;
        string? http = null;
        ConfigValue? list = null;
        foreach (var v in top)
        {
            switch (v.Key)
            {
                case "ourUri": ourUri = v.String() ?? ourUri; break;
                case "heartbeatFreq" or "heartbeatFrequencyMS": freq = v.Duration() ?? freq; break;
                case "replyToGetDeadline": deadline = v.Duration() ?? deadline; break;
                case "heartbeatErrorAllowance": allowance = v.Int() ?? allowance; break;
                case "patrolFrequencyMS": v.Duration(); break; // checked, then not needed: every heartbeat is judged as it ends
                case "http": http = v.String(); break;
                case "processList": list = v; break;
            }
        }
        var period = freq ?? TimeSpan.FromSeconds(1);
        var result = new List<(ProcessSpec, string)>();
        if (list?.Items() is not { } items) return result;
        foreach (var item in items)
        {
            if (item.Entries(ProcessKeys) is not { } entries) continue;
            string? name = null, uri = null, processHttp = http, command = null;
            IReadOnlyList<string>? argv = null;
            bool kill = false;
            TimeSpan? hangAllowance = null;
            foreach (var e in entries)
            {
                switch (e.Key)
                {
                    case "name": name = e.String(); break;
                    case "uri": uri = e.String(); break;
                    case "killOnHang": kill = e.Bool() ?? kill; break;
                    case "hangTimeAllowanceMS": hangAllowance = e.Duration(); break;
                    case "requiredForHealthyStatus": e.Bool(); break; // accepted: Vigil has no site-wide healthy status
                    case "http": processHttp = e.String(); break;
                    case "command":
                        if (e.IsNull) break;
                        argv = e.Strings();
                        command = argv is null ? null : "given";
                        break;
                }
            }
            if (name is null) { item.Error("a COPS process needs its name"); continue; }
            if (uri is null) { item.Error($"COPS process '{name}' needs its uri (like /site)"); continue; }
            var check = new CopsCheck
            {
                OurUri = ourUri, ReplyName = name,
                MqttUri = processHttp is null ? uri : null,
                HttpUrl = processHttp is null ? null : processHttp.TrimEnd('/') + uri,
            };
            // The shipped code's allowance is a time: as many missed heartbeats as fit in it (at least one).
            int threshold = allowance ?? (hangAllowance is { } h ? Math.Max(1, (int)Math.Ceiling(h / period)) : check.DefaultFailureThreshold);
            var timeout = deadline ?? (period < check.DefaultTimeout ? period : check.DefaultTimeout);
            var probe = new ProbeSpec(check)
            {
                Period = period, Timeout = timeout, FailureThreshold = threshold, Action = kill ? ProbeAction.Kill : ProbeAction.Notify,
            };
            var spec = new ProcessSpec { Name = name, Health = [probe] };
            spec = command is null ? spec with { Attach = new AttachSpec { Probe = check.Kind, Poll = period } } : spec with { Command = [.. argv!] };
            result.Add((spec, item.KeyPath));
        }
        return result;
    }
}
