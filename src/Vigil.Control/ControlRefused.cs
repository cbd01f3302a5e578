using Vigil.Supervision;

namespace Vigil.Control;

/// <summary>A client of the control socket was refused (another user's uid, or credentials the kernel would not give).
/// An event about Vigil itself: <see cref="UnitEvent.UnitId"/> 0, name <c>vigil</c>. The program that serves the socket
/// publishes it with <see cref="Supervisor.Announce"/>, e.g. from <see cref="Announcer"/>.</summary>
public sealed record ControlRefused(DateTimeOffset Time, string Why) : UnitEvent(Time, 0, "vigil", null, UnitState.Initial)
{
    public override string Kind => "control-refused";
    public override string Reason => Why;

    /// <summary>The <c>onRefused</c> callback of <see cref="ControlServer.Start(IVigilControl, string, Action{string}?)"/>
    /// that publishes this event on <paramref name="supervisor"/>.</summary>
    public static Action<string> Announcer(Supervisor supervisor)
    {
        ArgumentNullException.ThrowIfNull(supervisor);
        return why => supervisor.Announce(new ControlRefused(supervisor.Time.GetUtcNow(), why));
    }
}
