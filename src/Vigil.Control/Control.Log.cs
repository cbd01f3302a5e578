using Microsoft.Extensions.Logging;

namespace Vigil.Control;

/// <summary>Log messages of the control interface and its socket server (event ids 500–599). The vigil executable
/// prints each as <c>vigil: MESSAGE</c>.</summary>
internal static partial class ControlLog
{
    [LoggerMessage(501, LogLevel.Error, "control: reporting a refused client failed: {Reason}", EventName = "RefusalReportFailed")]
    public static partial void RefusalReportFailed(ILogger logger, string reason, Exception exception);

    [LoggerMessage(502, LogLevel.Error, "control: a connection of pid {Pid} ended on an internal error: {Error}", EventName = "ConnectionFailed")]
    public static partial void ConnectionFailed(ILogger logger, int pid, string error, Exception exception);

    [LoggerMessage(503, LogLevel.Error, "control: {Verb} failed: {Error}", EventName = "RequestFailed")]
    public static partial void RequestFailed(ILogger logger, string? verb, string error, Exception exception);

    [LoggerMessage(504, LogLevel.Error, "control: recording event {Kind} of {Unit} failed: {Error}", EventName = "EventRecordingFailed")]
    public static partial void RecordingFailed(ILogger logger, string kind, string unit, string error, Exception exception);

    [LoggerMessage(505, LogLevel.Error, "control: following output failed: {Error}", EventName = "FollowFailed")]
    public static partial void FollowFailed(ILogger logger, string error, Exception exception);
}
