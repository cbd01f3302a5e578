namespace Vigil.Control.Tests.Support;

/// <summary>A control that says it is another process (<paramref name="pid"/>): what a client sees of a Vigil that runs
/// elsewhere, for the client's wait for that process to end after a shutdown, which <paramref name="onShutdown"/> plays.</summary>
public sealed class OtherPid(IVigilControl inner, int pid, Action onShutdown) : IVigilControl
{
    public async Task<ServerInfo> InfoAsync(CancellationToken cancel = default) => await inner.InfoAsync(cancel) with { Pid = pid };
    public Task<IReadOnlyList<UnitInfo>> ListAsync(CancellationToken cancel = default) => inner.ListAsync(cancel);
    public Task<IReadOnlyList<UnitDetail>> StatusAsync(string name, CancellationToken cancel = default) => inner.StatusAsync(name, cancel);
    public Task<IReadOnlyList<ActionOutcome>> StartAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) => inner.StartAsync(names, wait, cancel);
    public Task<IReadOnlyList<ActionOutcome>> StopAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) => inner.StopAsync(names, wait, cancel);
    public Task<IReadOnlyList<ActionOutcome>> RestartAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) => inner.RestartAsync(names, wait, cancel);
    public Task<IReadOnlyList<ActionOutcome>> KillAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) => inner.KillAsync(names, wait, cancel);
    public Task<IReadOnlyList<ActionOutcome>> SignalAsync(int signal, IReadOnlyList<string> names, CancellationToken cancel = default) => inner.SignalAsync(signal, names, cancel);
    public Task<IReadOnlyList<LogLine>> LogsAsync(LogQuery query, CancellationToken cancel = default) => inner.LogsAsync(query, cancel);
    public IAsyncEnumerable<LogLine> FollowLogsAsync(LogQuery query, CancellationToken cancel = default) => inner.FollowLogsAsync(query, cancel);
    public Task<IReadOnlyList<EventInfo>> EventsAsync(DateTimeOffset? since = null, CancellationToken cancel = default) => inner.EventsAsync(since, cancel);
    public IAsyncEnumerable<EventInfo> FollowEventsAsync(DateTimeOffset? since = null, CancellationToken cancel = default) => inner.FollowEventsAsync(since, cancel);
    public Task<ReloadResult> ReloadAsync(bool dryRun = false, CancellationToken cancel = default) => inner.ReloadAsync(dryRun, cancel);
    public Task<IReadOnlyList<ActionOutcome>> AddAsync(AddRequest request, CancellationToken cancel = default) => inner.AddAsync(request, cancel);
    public Task<IReadOnlyList<ActionOutcome>> RemoveAsync(IReadOnlyList<string> names, CancellationToken cancel = default) => inner.RemoveAsync(names, cancel);
    public Task<SaveResult> SaveAsync(CancellationToken cancel = default) => inner.SaveAsync(cancel);
    public Task<ReliabilityReport> ReportAsync(DateTimeOffset? since = null, CancellationToken cancel = default) => inner.ReportAsync(since, cancel);
    public Task<IReadOnlyList<TemplateInfo>> TemplatesAsync(CancellationToken cancel = default) => inner.TemplatesAsync(cancel);
    public Task<TemplateSaveResult> SaveTemplateAsync(string name, CancellationToken cancel = default) => inner.SaveTemplateAsync(name, cancel);
    public Task ShutdownAsync(CancellationToken cancel = default)
    {
        onShutdown();
        return Task.CompletedTask;
    }
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
