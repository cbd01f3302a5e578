using System.Runtime.CompilerServices;
using Vigil.Cli;
using Vigil.Control;

namespace Vigil.Tests.Cli;

/// <summary>
/// A canned <see cref="IVigilControl"/> for unit tests of the CLI's rendering and exit codes (what the commands print for
/// given answers); the real control plane is tested end to end through the vigil executable. Records what it was asked.
/// </summary>
public sealed class FakeControl : IVigilControl
{
    public List<UnitInfo> Units { get; init; } = [];
    public List<UnitDetail> Details { get; init; } = [];
    public List<LogLine> Lines { get; init; } = [];
    public List<EventInfo> Events { get; init; } = [];
    public ReloadResult Reload { get; init; } = new();
    public SaveResult Saved { get; init; } = new();
    public ReliabilityReport Report { get; init; } = new();
    /// <summary>The <c>since</c> the last report was asked for.</summary>
    public DateTimeOffset? ReportSince { get; private set; }
    /// <summary>Thrown by every call when set (a failing server).</summary>
    public ControlException? Fail { get; init; }
    /// <summary>Outcomes for actions, by name; a name not here gets an ok outcome.</summary>
    public Dictionary<string, ActionOutcome> Outcomes { get; init; } = [];

    public List<string> Calls { get; } = [];
    public AddRequest? Added { get; private set; }
    public LogQuery? Query { get; private set; }
    public int? Signal { get; private set; }
    public bool Disposed { get; private set; }

    /// <summary>A <see cref="CliContext"/> whose commands reach this fake; what they print is in <paramref name="out"/> and
    /// <paramref name="err"/>.</summary>
    public CliContext Context(StringWriter @out, StringWriter err, bool color = false) => new()
    {
        Out = @out,
        Err = err,
        Color = color,
        Connect = (path, _) =>
        {
            Calls.Add("connect " + path);
            return Task.FromResult<IVigilControl>(this);
        },
    };

    /// <summary>Runs a command line against this fake: its exit code, stdout and stderr.</summary>
    public async Task<(int Code, string Out, string Err)> Run(params string[] args) => await Run(false, args);

    public async Task<(int Code, string Out, string Err)> Run(bool color, params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        // --socket: the test never depends on the machine's runtime folder or a vigil.yaml in the current folder.
        string[] withSocket = args.Length > 0 && !args.Contains("--socket") && !args.Contains("--help") ? Insert(args, "--socket", "/nowhere/test.sock") : args;
        int code = await Vigil.Cli.Cli.RunAsync(withSocket, Context(o, e, color));
        return (code, o.ToString(), e.ToString());
    }

    // Options go before a `--`: after it they would be the command's own words.
    private static string[] Insert(string[] args, params string[] extra)
    {
        int dashes = Array.IndexOf(args, "--");
        return dashes < 0 ? [.. args, .. extra] : [.. args[..dashes], .. extra, .. args[dashes..]];
    }

    private T Answer<T>(string call, T value)
    {
        Calls.Add(call);
        if (Fail is not null) throw Fail;
        return value;
    }

    private IReadOnlyList<ActionOutcome> Act(string verb, IReadOnlyList<string> names) =>
        Answer($"{verb} {string.Join(',', names)}", (IReadOnlyList<ActionOutcome>)names.Select((n, i) =>
            Outcomes.GetValueOrDefault(n) ?? new ActionOutcome { Id = i + 1, Name = n, Outcome = verb, Ok = true, Pid = 100 + i }).ToList());

    public Task<ServerInfo> InfoAsync(CancellationToken cancel = default) =>
        Task.FromResult(Answer("info", new ServerInfo { Pid = 4242, Instance = "default", Units = Units.Count }));

    public Task<IReadOnlyList<UnitInfo>> ListAsync(CancellationToken cancel = default) =>
        Task.FromResult(Answer("ls", (IReadOnlyList<UnitInfo>)Units));

    public Task<IReadOnlyList<UnitDetail>> StatusAsync(string name, CancellationToken cancel = default) =>
        Task.FromResult(Answer("status " + name, (IReadOnlyList<UnitDetail>)Details.Where(d => d.Name == name).ToList()));

    public Task<IReadOnlyList<ActionOutcome>> StartAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) =>
        Task.FromResult(Act(wait ? "start" : "start-nowait", names));

    public Task<IReadOnlyList<ActionOutcome>> StopAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) =>
        Task.FromResult(Act(wait ? "stop" : "stop-nowait", names));

    public Task<IReadOnlyList<ActionOutcome>> RestartAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) =>
        Task.FromResult(Act("restart", names));

    public Task<IReadOnlyList<ActionOutcome>> KillAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) =>
        Task.FromResult(Act("kill", names));

    public Task<IReadOnlyList<ActionOutcome>> SignalAsync(int signal, IReadOnlyList<string> names, CancellationToken cancel = default)
    {
        Signal = signal;
        return Task.FromResult(Act("signal", names));
    }

    public Task<IReadOnlyList<LogLine>> LogsAsync(LogQuery query, CancellationToken cancel = default)
    {
        Query = query;
        return Task.FromResult(Answer("logs", (IReadOnlyList<LogLine>)Lines));
    }

    public async IAsyncEnumerable<LogLine> FollowLogsAsync(LogQuery query, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        Query = query;
        foreach (var l in Answer("logs -f", Lines)) yield return l;
        await Task.CompletedTask; // the stream ends as a server's does at its shutdown
    }

    public Task<IReadOnlyList<EventInfo>> EventsAsync(DateTimeOffset? since = null, CancellationToken cancel = default) =>
        Task.FromResult(Answer("events", (IReadOnlyList<EventInfo>)Events));

    public async IAsyncEnumerable<EventInfo> FollowEventsAsync(DateTimeOffset? since = null, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        foreach (var e in Answer("events -f", Events)) yield return e;
        await Task.CompletedTask;
    }

    public Task<ReloadResult> ReloadAsync(bool dryRun = false, CancellationToken cancel = default) =>
        Task.FromResult(Answer(dryRun ? "reload --dry-run" : "reload", Reload with { DryRun = dryRun }));

    public Task<IReadOnlyList<ActionOutcome>> AddAsync(AddRequest request, CancellationToken cancel = default)
    {
        Added = request;
        return Task.FromResult(Act("add", [request.Name]));
    }

    public Task<IReadOnlyList<ActionOutcome>> RemoveAsync(IReadOnlyList<string> names, CancellationToken cancel = default) =>
        Task.FromResult(Act("remove", names));

    public Task<SaveResult> SaveAsync(CancellationToken cancel = default) => Task.FromResult(Answer("save", Saved));

    public IReadOnlyList<TemplateInfo> Templates { get; init; } = [];
    public Task<IReadOnlyList<TemplateInfo>> TemplatesAsync(CancellationToken cancel = default) => Task.FromResult(Answer("templates", Templates));

    public TemplateSaveResult SavedTemplate { get; init; } = new();
    public Task<TemplateSaveResult> SaveTemplateAsync(string name, CancellationToken cancel = default) => Task.FromResult(Answer("save-template " + name, SavedTemplate));

    public Task ShutdownAsync(CancellationToken cancel = default) => Task.FromResult(Answer("shutdown", 0));

    public Task<ReliabilityReport> ReportAsync(DateTimeOffset? since = null, CancellationToken cancel = default)
    {
        ReportSince = since;
        return Task.FromResult(Answer("report", Report));
    }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }
}
