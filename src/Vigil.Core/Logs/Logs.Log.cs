using Microsoft.Extensions.Logging;

namespace Vigil.Logs;

/// <summary>Log messages of the logs layer (event ids 400–499).</summary>
internal static partial class LogsLog
{
    [LoggerMessage(401, LogLevel.Error, "log writer callback failed: {Reason}", EventName = "WriterCallbackFailed")]
    public static partial void WriterCallbackFailed(ILogger logger, string reason, Exception exception);
}
