using Microsoft.Extensions.Logging;

namespace Vigil.Supervision;

/// <summary>Log messages of the supervision layer (event ids 200–299). The vigil executable prints each as
/// <c>vigil: MESSAGE</c> on stderr, so the texts are those users and tests already know.</summary>
internal static partial class SupervisionLog
{
    [LoggerMessage(201, LogLevel.Critical, "internal error in unit {Unit}: {Error}", EventName = "UnitFault")]
    public static partial void UnitFault(ILogger logger, string unit, string error, Exception exception);

    [LoggerMessage(202, LogLevel.Critical, "unit {Unit} could not abort: {Error}", EventName = "UnitAbortFailed")]
    public static partial void AbortFailed(ILogger logger, string unit, string error, Exception exception);

    [LoggerMessage(203, LogLevel.Warning, "{Unit}#{Pid}: {Reason}", EventName = "RunDegraded")]
    public static partial void RunDegraded(ILogger logger, string unit, int pid, string reason);

    [LoggerMessage(204, LogLevel.Error, "output sink failed for {Unit}#{Pid}: {Reason}", EventName = "OutputSinkFailed")]
    public static partial void OutputSinkFailed(ILogger logger, string unit, int pid, string reason, Exception exception);

    [LoggerMessage(205, LogLevel.Warning, "unit {Unit} did not stop within {Bound}; killing its processes", EventName = "StopOverdue")]
    public static partial void StopOverdue(ILogger logger, string unit, string bound);

    [LoggerMessage(206, LogLevel.Warning, "{Refusal}; using {Folder}", EventName = "RuntimeFolderRefused")]
    public static partial void RuntimeFolderRefused(ILogger logger, string refusal, string folder);
}
