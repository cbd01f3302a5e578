namespace Vigil.Telemetry.DogStatsD;

/// <summary>Where the DogStatsD agent listens and which tags every datagram carries.</summary>
public sealed record DogStatsDOptions
{
    /// <summary>The agent's host name or address.</summary>
    public string Host { get; init; } = "localhost";
    /// <summary>The agent's UDP port.</summary>
    public int Port { get; init; } = 8125;
    /// <summary>Tags added, first, to every metric, event and service check (<c>app:TetherProcessPinger</c>).</summary>
    public IReadOnlyList<string> GlobalTags { get; init; } = [];

    /// <summary>The Datadog convention: host from <c>DD_AGENT_HOST</c> else localhost, port from <c>DD_DOGSTATSD_PORT</c>
    /// else 8125 (also when it is not a port number). <paramref name="environment"/> defaults to the process environment.</summary>
    public static DogStatsDOptions FromEnvironment(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var host = environment("DD_AGENT_HOST");
        return new DogStatsDOptions
        {
            Host = string.IsNullOrWhiteSpace(host) ? "localhost" : host.Trim(),
            Port = int.TryParse(environment("DD_DOGSTATSD_PORT"), out int port) && port is > 0 and <= 65535 ? port : 8125,
        };
    }
}
