// TEMPORARY (see Stubs.cs).
namespace Vigil.Control;

public sealed partial class LocalControl : IVigilControl
{
    public Task<ServerInfo> InfoAsync(CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<UnitInfo>> ListAsync(CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<UnitDetail>> StatusAsync(string name, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<ActionOutcome>> StartAsync(IReadOnlyList<string> names, bool wait, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<ActionOutcome>> StopAsync(IReadOnlyList<string> names, bool wait, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<ActionOutcome>> RestartAsync(IReadOnlyList<string> names, bool wait, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<ActionOutcome>> KillAsync(IReadOnlyList<string> names, bool wait, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<ActionOutcome>> SignalAsync(int signal, IReadOnlyList<string> names, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<LogLine>> LogsAsync(LogQuery query, CancellationToken cancel) => throw new NotImplementedException();
    public IAsyncEnumerable<LogLine> FollowLogsAsync(LogQuery query, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<EventInfo>> EventsAsync(DateTimeOffset? since, CancellationToken cancel) => throw new NotImplementedException();
    public IAsyncEnumerable<EventInfo> FollowEventsAsync(DateTimeOffset? since, CancellationToken cancel) => throw new NotImplementedException();
    public Task<ReloadResult> ReloadAsync(bool dryRun, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<ActionOutcome>> AddAsync(AddRequest request, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<ActionOutcome>> RemoveAsync(IReadOnlyList<string> names, CancellationToken cancel) => throw new NotImplementedException();
    public Task<SaveResult> SaveAsync(CancellationToken cancel) => throw new NotImplementedException();
    public Task ShutdownAsync(CancellationToken cancel) => throw new NotImplementedException();
    public ValueTask DisposeAsync() => throw new NotImplementedException();
}

public sealed partial class ControlClient : IVigilControl
{
    public Task<ServerInfo> InfoAsync(CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<UnitInfo>> ListAsync(CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<UnitDetail>> StatusAsync(string name, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<ActionOutcome>> StartAsync(IReadOnlyList<string> names, bool wait, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<ActionOutcome>> StopAsync(IReadOnlyList<string> names, bool wait, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<ActionOutcome>> RestartAsync(IReadOnlyList<string> names, bool wait, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<ActionOutcome>> KillAsync(IReadOnlyList<string> names, bool wait, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<ActionOutcome>> SignalAsync(int signal, IReadOnlyList<string> names, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<LogLine>> LogsAsync(LogQuery query, CancellationToken cancel) => throw new NotImplementedException();
    public IAsyncEnumerable<LogLine> FollowLogsAsync(LogQuery query, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<EventInfo>> EventsAsync(DateTimeOffset? since, CancellationToken cancel) => throw new NotImplementedException();
    public IAsyncEnumerable<EventInfo> FollowEventsAsync(DateTimeOffset? since, CancellationToken cancel) => throw new NotImplementedException();
    public Task<ReloadResult> ReloadAsync(bool dryRun, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<ActionOutcome>> AddAsync(AddRequest request, CancellationToken cancel) => throw new NotImplementedException();
    public Task<IReadOnlyList<ActionOutcome>> RemoveAsync(IReadOnlyList<string> names, CancellationToken cancel) => throw new NotImplementedException();
    public Task<SaveResult> SaveAsync(CancellationToken cancel) => throw new NotImplementedException();
    public Task ShutdownAsync(CancellationToken cancel) => throw new NotImplementedException();
    public ValueTask DisposeAsync() => throw new NotImplementedException();
}

public sealed partial class ControlServer : IAsyncDisposable
{
    public string SocketPath => throw new NotImplementedException();
    public ValueTask DisposeAsync() => throw new NotImplementedException();
}
