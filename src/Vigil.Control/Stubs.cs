// TEMPORARY: signatures only, so the CLI can be written against them while Vigil.Control is built. Replaced by the
// real implementations (LocalControl.cs, ControlServer.cs, ControlClient.cs).
namespace Vigil.Control;

/// <summary>The control interface in-process, over a <see cref="Vigil.Supervision.Supervisor"/>. Create it before the
/// first unit starts: it records events from then on (a bounded history for <c>vigil events</c>).</summary>
public sealed partial class LocalControl
{
    public LocalControl(ControlHost host) => throw new NotImplementedException();
}

/// <summary>Serves a <see cref="IVigilControl"/> on a Unix socket (mode 0600 in a 0700 folder of ours; peers checked
/// by SO_PEERCRED: Vigil's uid or root only).</summary>
public sealed partial class ControlServer
{
    /// <summary>Binds the socket and starts accepting. Throws <see cref="ControlException"/> (code
    /// <see cref="ControlErrors.Refused"/>) when the path is unusable or another Vigil answers on it.
    /// <paramref name="onRefused"/> is told of each refused peer (for the event).</summary>
    public static ControlServer Start(IVigilControl target, string socketPath, Action<string>? onRefused = null) => throw new NotImplementedException();
}

/// <summary>The control interface over the socket.</summary>
public sealed partial class ControlClient
{
    /// <summary>Connects. Throws ControlException(NotRunning) with the message
    /// <c>no running vigil (no socket at PATH); start one with 'vigil run'</c> when nothing answers.</summary>
    public static Task<ControlClient> ConnectAsync(string socketPath, CancellationToken cancel = default) => throw new NotImplementedException();
}
