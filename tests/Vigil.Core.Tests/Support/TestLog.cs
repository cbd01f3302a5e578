using Microsoft.Extensions.Logging;

namespace Vigil.Tests.Support;

/// <summary>A logger factory that keeps every entry, for tests that assert what the engine reported.</summary>
public sealed class TestLog : ILoggerFactory
{
    /// <summary>One logged message, formatted.</summary>
    public sealed record Entry(string Category, LogLevel Level, EventId Id, string Message, Exception? Exception);

    private readonly List<Entry> _entries = [];

    public IReadOnlyList<Entry> Entries { get { lock (_entries) return [.. _entries]; } }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);
    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();
    public void Dispose() { }

    private sealed class Logger(TestLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._entries) owner._entries.Add(new Entry(category, logLevel, eventId, formatter(state, exception), exception));
        }
    }
}
