using Microsoft.Extensions.Logging;

namespace Vigil.Launching;

/// <summary>Log messages of the launching layer (event ids 100–199).</summary>
internal static partial class LaunchingLog
{
    [LoggerMessage(101, LogLevel.Error, "reaping orphans failed: {Reason}", EventName = "ReapFailed")]
    public static partial void ReapFailed(ILogger logger, string reason, Exception exception);

    [LoggerMessage(102, LogLevel.Error, "reactor handler for fd {Fd} failed: {Error}", EventName = "ReactorHandlerFailed")]
    public static partial void ReactorHandlerFailed(ILogger logger, int fd, string error, Exception exception);
}
