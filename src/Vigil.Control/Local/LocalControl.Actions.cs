using System.Collections.Immutable;
using Vigil.Config;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;

namespace Vigil.Control;

// Actions on units: names are resolved first (an unknown one fails the whole call before anything is done), then
// every unit is acted on in parallel through its own loop's requests. With wait, each outcome says what happened;
// without, the requests are posted and the call returns (outcome "requested").
public sealed partial class LocalControl
{
    /// <summary>How long a start waits to hear of its spawn (the spawn itself is synchronous in the unit's loop;
    /// this only bounds the delivery of its event).</summary>
    private static readonly TimeSpan SpawnNews = TimeSpan.FromSeconds(10);

    public async Task<IReadOnlyList<ActionOutcome>> StartAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) =>
        await Task.WhenAll(Resolve(names).Select(u => StartOneAsync(u, wait, cancel))).ConfigureAwait(false);

    private async Task<ActionOutcome> StartOneAsync(Unit u, bool wait, CancellationToken cancel)
    {
        var before = u.Snapshot;
        if (before.State == UnitState.Running && before.Pid is { } running)
            return Outcome(u, "already-running", true, running, "already running");
        if (!wait)
        {
            // A unit still stopping starts once it has stopped (a start request meanwhile would find nothing to do).
            if (before.State == UnitState.Stopping) _ = u.StopAndWaitAsync(CancellationToken.None).ContinueWith(_ => u.StartAsync(), TaskScheduler.Default);
            else _ = u.StartAsync();
            return Outcome(u, "requested", true, before.Pid, "start requested");
        }
        if (before.State == UnitState.Stopping) await u.StopAndWaitAsync(cancel).ConfigureAwait(false);
        var news = Watch(e => e.UnitId == u.Id && e is Spawned or SpawnFailed or NotRestarting);
        try
        {
            await u.StartAsync().WaitAsync(cancel).ConfigureAwait(false);
            var after = u.Snapshot;
            if (after.State == UnitState.Running && after.Pid is { } pid) return Outcome(u, "started", true, pid, null);
            return await WaitAsync(news, SpawnNews, cancel).ConfigureAwait(false) switch
            {
                Spawned s => Outcome(u, "started", true, s.Pid, null),
                { } e => Outcome(u, "failed", false, null, e.Reason),
                null => Outcome(u, "failed", false, null, $"did not start (it is {u.State.Name()})"),
            };
        }
        finally { Forget(news); }
    }

    public async Task<IReadOnlyList<ActionOutcome>> StopAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) =>
        await Task.WhenAll(Resolve(names).Select(u => StopOneAsync(u, wait, kill: false, cancel))).ConfigureAwait(false);

    public async Task<IReadOnlyList<ActionOutcome>> KillAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) =>
        await Task.WhenAll(Resolve(names).Select(u => StopOneAsync(u, wait, kill: true, cancel))).ConfigureAwait(false);

    private static async Task<ActionOutcome> StopOneAsync(Unit u, bool wait, bool kill, CancellationToken cancel)
    {
        var before = u.Snapshot;
        var stopping = kill ? u.Kill() : u.StopAndWaitAsync(CancellationToken.None);
        if (!wait) return Outcome(u, "requested", true, before.Pid, kill ? "kill requested" : "stop requested");
        var r = await stopping.WaitAsync(cancel).ConfigureAwait(false);
        string done = kill ? "killed" : "stopped";
        if (r.Pid is null)
            return before.State is UnitState.Backoff or UnitState.SlowRetry
                ? Outcome(u, "stopped", true, null, "was waiting to restart; the restart is cancelled")
                : Outcome(u, "already-stopped", true, null, $"was not running ({before.State.Name()})");
        var detail = r.Exit is { } exit ? exit.ToString() : "exit not collected";
        if (r.Survivors.Count > 0) detail += $"; {r.Survivors.Count} process(es) survived SIGKILL: {string.Join(", ", r.Survivors)}";
        else if (!kill && r.Killed.Count > 0) detail += $"; SIGKILL after the grace period for {r.Killed.Count} process(es)";
        return Outcome(u, done, r.Clean, r.Pid, detail);
    }

    public async Task<IReadOnlyList<ActionOutcome>> RestartAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) =>
        await Task.WhenAll(Resolve(names).Select(u => RestartOneAsync(u, wait, cancel))).ConfigureAwait(false);

    private async Task<ActionOutcome> RestartOneAsync(Unit u, bool wait, CancellationToken cancel)
    {
        var before = u.Snapshot;
        if (u.IsAttached) return Outcome(u, "failed", false, before.Pid, "an attached process cannot be restarted: Vigil did not start it");
        // Registered before the request: the new run's spawn (or its failure) is the answer.
        var news = wait ? Watch(e => e.UnitId == u.Id && (e is Spawned s && s.Pid != before.Pid || e is SpawnFailed or NotRestarting)) : null;
        try
        {
            await u.RestartAsync().WaitAsync(cancel).ConfigureAwait(false);
            if (news is null) return Outcome(u, "requested", true, before.Pid, "restart requested");
            var limit = u.Spec.Stop.Timeout + u.Spec.Stop.KillWait + SpawnNews;
            return await WaitAsync(news, limit, cancel).ConfigureAwait(false) switch
            {
                Spawned s => Outcome(u, "restarted", true, s.Pid, before.Pid is { } old ? $"was pid {old}" : null),
                { } e => Outcome(u, "failed", false, null, e.Reason),
                null => Outcome(u, "failed", false, u.Pid, $"did not start again within {Durations.Format(limit)} (it is {u.State.Name()})"),
            };
        }
        finally
        {
            if (news is not null) Forget(news);
        }
    }

    public async Task<IReadOnlyList<ActionOutcome>> SignalAsync(int signal, IReadOnlyList<string> names, CancellationToken cancel = default)
    {
        if (signal is < 1 or > 64) throw new ControlException(ControlErrors.BadRequest, $"signal: must be a signal number from 1 to 64, not {signal}");
        var units = Resolve(names);
        return await Task.WhenAll(units.Select(async u =>
        {
            bool sent = await u.SignalAsync(signal).WaitAsync(cancel).ConfigureAwait(false);
            return sent
                ? Outcome(u, "signalled", true, u.Pid, $"sent {Signals.Name(signal)}")
                : Outcome(u, "not-running", false, null, $"no process to send {Signals.Name(signal)} to ({u.State.Name()})");
        })).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<ActionOutcome>> AddAsync(AddRequest request, CancellationToken cancel = default)
    {
        var spec = SpecOf(request);
        var invalid = spec.Validate();
        if (invalid.Count > 0) throw new ControlException(ControlErrors.ConfigError, $"cannot add '{spec.Name}': {invalid[0]}", details: [.. invalid.Select(e => e.ToString())]);
        var problems = (_host.Check ?? ConfigChecks.Check)(spec);
        if (problems.Count > 0) throw new ControlException(ControlErrors.ConfigError, $"cannot add '{spec.Name}': {problems[0]}", details: problems);
        // Names may repeat in a config file, but `vigil add` of a name that runs already is far more often a second
        // `pm2 start` by mistake than a wish for two.
        if (Supervisor.Units.Any(u => u.Name == spec.Name))
            throw new ControlException(ControlErrors.BadRequest, $"a unit named '{spec.Name}' exists already; remove it first, or add this one under another name");
        var news = Watch(e => e.Name == spec.Name && e is Spawned or SpawnFailed);
        try
        {
            Unit unit;
            try { unit = Supervisor.Start(spec); }
            catch (ArgumentException e) { throw new ControlException(ControlErrors.ConfigError, e.Message); }
            catch (ObjectDisposedException) { throw new ControlException(ControlErrors.Unsupported, "vigil is shutting down; nothing can be added"); }
            return await WaitAsync(news, SpawnNews, cancel).ConfigureAwait(false) switch
            {
                Spawned s => [Outcome(unit, "added", true, s.Pid, "added and started")],
                SpawnFailed f => [Outcome(unit, "added", false, null, $"added, but it did not start: {f.Reason}; it is retried by its restart policy")],
                _ => [Outcome(unit, "added", true, unit.Pid, $"added ({unit.State.Name()})")],
            };
        }
        finally { Forget(news); }
    }

    /// <summary>The spec <c>vigil add</c> asks for; a request that cannot make one is a bad request naming the field.</summary>
    private static ProcessSpec SpecOf(AddRequest r)
    {
        ArgumentNullException.ThrowIfNull(r);
        static ControlException Bad(string message) => new(ControlErrors.BadRequest, message);
        if (string.IsNullOrWhiteSpace(r.Name)) throw Bad("unit.name: a unit needs a name");
        if (r.Name == "all") throw Bad("unit.name: 'all' means every unit to vigil's commands; choose another name");
        if (r.Name.Length > 200 || r.Name.Any(char.IsControl)) throw Bad("unit.name: at most 200 characters, none of them control characters");
        if (r.Command is null || r.Command.Count == 0 || string.IsNullOrWhiteSpace(r.Command[0]))
            throw Bad("unit.command: give the program and its arguments, e.g. [\"python3\", \"app.py\"]");
        if (r.Command.Any(a => a is null)) throw Bad("unit.command: an argument is null");
        if (r.Cwd is { } cwd && !Path.IsPathRooted(cwd)) throw Bad($"unit.cwd: must be an absolute path (vigil's folder is not the client's), not '{cwd}'");
        var policy = r.Restart switch
        {
            null or "always" => RestartPolicyKind.Always,
            "on-failure" => RestartPolicyKind.OnFailure,
            "never" => RestartPolicyKind.Never,
            var other => throw new ControlException(ControlErrors.BadRequest, $"unit.restart: must be always, on-failure or never, not '{other}'",
                Suggestions.Nearest(other, ["always", "on-failure", "never"])),
        };
        var env = ImmutableDictionary<string, string?>.Empty;
        if (r.Env is { } e)
            foreach (var (k, v) in e)
                env = env.SetItem(k ?? "", v);
        return new ProcessSpec
        {
            Name = r.Name,
            Command = [.. r.Command],
            Cwd = r.Cwd,
            Env = env,
            Restart = RestartSpec.Default with { Policy = policy },
        };
    }

    public async Task<IReadOnlyList<ActionOutcome>> RemoveAsync(IReadOnlyList<string> names, CancellationToken cancel = default)
    {
        var units = Resolve(names);
        return await Task.WhenAll(units.Select(async u =>
        {
            var pid = u.Pid;
            var r = await Supervisor.RemoveAsync(u).WaitAsync(cancel).ConfigureAwait(false);
            var detail = r.Pid is null ? "removed (it was not running)" : $"stopped ({r.Exit?.ToString() ?? "exit not collected"}) and removed";
            if (r.Survivors.Count > 0) detail += $"; {r.Survivors.Count} process(es) survived SIGKILL: {string.Join(", ", r.Survivors)}";
            return Outcome(u, "removed", r.Clean, r.Pid ?? pid, detail);
        })).ConfigureAwait(false);
    }

    public Task<SaveResult> SaveAsync(CancellationToken cancel = default)
    {
        // A unit attached through the API (a PID, no attach: spec) has nothing a config could find it by; an external unit
        // of the config (attach: pid, pidfile or systemd) is written with it. Units of the templates folder stay there:
        // the config names the folder, as the one it was started with did.
        var folder = Supervisor.TemplatesFolder;
        var fromTemplates = folder is not null && Directory.Exists(folder)
            ? Supervisor.GetAllTemplates().Select(t => t.Name).ToHashSet(StringComparer.Ordinal)
            : [];
        var specs = Supervisor.Units
            .Where(u => (!u.IsAttached || u.Spec.Attach is not null) && !fromTemplates.Contains(u.Name))
            .Select(u => u.Spec).ToList();
        return Task.FromResult(new SaveResult { Yaml = ConfigWriter.ToYaml(_host.Instance, specs, _host.Sections, extensions: _host.Extensions,
            history: _host.History?.Settings ?? _host.HistorySettings, hooks: _host.Hooks?.Invoke(), templatesFolder: folder),
            ConfigPath = _host.ConfigPath, Units = specs.Count + fromTemplates.Count });
    }

    public Task<ReloadResult> ReloadAsync(bool dryRun = false, CancellationToken cancel = default) =>
        _host.Reload is { } reload
            ? reload(dryRun, cancel)
            : throw new ControlException(ControlErrors.Unsupported, "nothing to reload: this vigil runs a command given on its command line, not a config file");

    public Task ShutdownAsync(CancellationToken cancel = default)
    {
        _host.RequestShutdown();
        return Task.CompletedTask;
    }

    private static ActionOutcome Outcome(Unit u, string outcome, bool ok, int? pid, string? detail) =>
        new() { Id = u.Id, Name = u.Name, Outcome = outcome, Ok = ok, Pid = pid, Detail = detail };
}
