using Microsoft.Extensions.Logging;

namespace Vigil.Cli.Output;

/// <summary>
/// Where the engine's and the control's log messages go in the vigil executable: one <c>vigil: MESSAGE</c> line each on
/// Console.Error, as Vigil has always printed them. Under <c>vigil run -d</c> Console.Error is the daemon's log file
/// (<see cref="Commands.LogOutput.TakeStderr"/>), so the same lines land there. Written here rather than taken from
/// Microsoft.Extensions.Logging.Console: one line of formatting needs no options, queue thread or configuration.
/// </summary>
internal sealed class StderrLog : ILoggerFactory, ILoggerProvider, ILogger
{
    /// <summary>The executable's logger: Information and above.</summary>
    public static StderrLog Instance { get; } = new();

    private StderrLog() { }

    public ILogger CreateLogger(string categoryName) => this;
    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException("vigil's log goes to stderr only");
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => logLevel is >= LogLevel.Information and < LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        // The messages carry the exception text they need already; the exception itself is for structured sinks.
        Console.Error.WriteLine("vigil: " + formatter(state, exception));
    }

    public void Dispose() { }
}
