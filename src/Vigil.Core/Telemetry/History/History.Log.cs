using Microsoft.Extensions.Logging;

namespace Vigil.Telemetry.History;

/// <summary>Log messages of the history store (event ids 701–709).</summary>
internal static partial class HistoryLog
{
    [LoggerMessage(701, LogLevel.Warning, "history: {Path} is not a usable database ({Why}); moved it aside to {Aside} and started a new one", EventName = "HistoryMovedAside")]
    public static partial void MovedAside(ILogger logger, string path, string why, string aside);

    [LoggerMessage(702, LogLevel.Error, "history: cannot write {Path}: {Why}; dropping events until it can", EventName = "HistoryWriteFailed")]
    public static partial void WriteFailed(ILogger logger, string path, string why);

    [LoggerMessage(703, LogLevel.Warning, "history: pruning {Path} failed: {Why}", EventName = "HistoryPruneFailed")]
    public static partial void PruneFailed(ILogger logger, string path, string why);
}
