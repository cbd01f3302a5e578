namespace Vigil.Telemetry.DogStatsD;

/// <summary>Where finished DogStatsD datagrams go: UDP to an agent (<see cref="UdpDogStatsDSink"/>), or a list in a test.
/// <see cref="Send"/> is called on hot paths: it must neither block nor throw.</summary>
public interface IDogStatsDSink
{
    /// <summary>Sends one datagram (one metric, event or service check); failures are counted, never thrown.</summary>
    void Send(string datagram);
}
