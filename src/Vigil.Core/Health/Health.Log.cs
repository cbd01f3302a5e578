using Microsoft.Extensions.Logging;

namespace Vigil.Health;

/// <summary>Log messages of the health layer (event ids 300–399).</summary>
internal static partial class HealthLog
{
    [LoggerMessage(301, LogLevel.Warning, "{Unit}: sd-notify: not using {Folder}: {Reason}; {Instead}", EventName = "NotifyFolderRefused")]
    public static partial void NotifyFolderRefused(ILogger logger, string unit, string folder, string reason, string instead);

    [LoggerMessage(302, LogLevel.Error, "disposing a {Probe} failed: {Reason}", EventName = "ProbeDisposeFailed")]
    public static partial void ProbeDisposeFailed(ILogger logger, string probe, string reason, Exception exception);
}
