namespace Vigil.Launching;

public enum SpawnErrorKind { NotFound, PermissionDenied, BadWorkingDirectory, NotExecutable, NoEntryPoint, Resources, Other }

/// <summary>Why a process could not be started. A value, not an exception: it follows the restart policy like a crash.</summary>
public sealed record SpawnFailure(SpawnErrorKind Kind, string Message)
{
    public override string ToString() => Message;
}
