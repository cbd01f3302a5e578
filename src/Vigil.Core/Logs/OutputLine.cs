using Vigil.Launching;

namespace Vigil.Logs;

/// <summary>One line a unit wrote, without its terminator. <see cref="Bytes"/> are exactly what the child wrote.</summary>
/// <param name="Continued">The line exceeded the length bound and goes on in the next OutputLine.</param>
public sealed record OutputLine(DateTimeOffset Time, int UnitId, string Name, int Pid, StreamKind Stream, byte[] Bytes, bool Continued)
{
    public string Text => System.Text.Encoding.UTF8.GetString(Bytes);
    public override string ToString() => $"{Name}#{Pid} {Stream}: {Text}";
}
