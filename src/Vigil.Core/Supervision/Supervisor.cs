using System.Collections.Immutable;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Launching;
using Vigil.Logs;
using Vigil.Specs;

namespace Vigil.Supervision;

public sealed record SupervisorOptions
{
    public TimeProvider Time { get; init; } = TimeProvider.System;
    /// <summary>How units start processes; null = the supervisor makes its own <see cref="OsLauncher"/> on
    /// <see cref="Host"/> (its own reactor and /proc cache) and disposes it with itself.</summary>
    public ILauncher? Launcher { get; init; }
    /// <summary>The per-process side (subreaper, orphan reaping) of the launcher the supervisor makes;
    /// null = <see cref="ProcessHost.Default"/>. The vigil executable passes the one it creates.</summary>
    public ProcessHost? Host { get; init; }
    /// <summary>Where the engine reports what only an operator can act on (an internal unit error, a failed output
    /// sink); nothing by default. Categories: Vigil.Supervision, Vigil.Launching, Vigil.Health, Vigil.Logs.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;
    /// <summary>How often the /proc status of running units is polled (one read of /proc/PID/stat per unit).</summary>
    public TimeSpan StatusInterval { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Which /proc status changes are events: by default not the flips between running and sleeping
    /// (config <c>events: { status: all }</c> brings every change back).</summary>
    public StatusEvents StatusEvents { get; init; } = StatusEvents.Significant;
    /// <summary>Make Vigil a child subreaper so orphaned grandchildren can still be found, stopped and reaped (for the
    /// launcher the supervisor makes).</summary>
    public bool Subreaper { get; init; } = true;
    /// <summary>Probe kinds beyond the built-in ones (Vigil.Tether adds <c>tether</c>); asked in order, built-ins last.</summary>
    public IReadOnlyList<Health.IProbeProvider> ProbeProviders { get; init; } = [];
    /// <summary>A stable instance name (vigil run: one per config file) lets a later supervisor find what this one
    /// left running (<see cref="Supervisor.StopPreviousLeftoversAsync"/>); null = unique to this supervisor.</summary>
    public string? Instance { get; init; }
    /// <summary>How runs' processes are tracked: cgroup v2 where possible (<see cref="TrackingMode.Auto"/>), or by marker only.</summary>
    public TrackingMode Tracking { get; init; } = TrackingMode.Auto;
    /// <summary>The folder of Ligato process templates that <see cref="Supervisor.GetTemplate"/>,
    /// <see cref="Supervisor.GetAllTemplates"/> and <see cref="Supervisor.SaveTemplate"/> use; null = none.</summary>
    public string? TemplatesFolder { get; init; }
    /// <summary>The socket of the tmux server that runs <c>tmux:</c> units; null = &lt;runtime dir&gt;/&lt;instance&gt;.tmux.sock
    /// (see <see cref="RuntimeDir"/>), so the next Vigil of the same instance finds a server a killed one left.</summary>
    public string? TmuxSocket { get; init; }
}

/// <summary>Which /proc status changes of a unit's process are published as events.</summary>
public enum StatusEvents
{
    /// <summary>Stopped, tracing stop, zombie, disk sleep that lasts, terminated, unavailable (and the return from
    /// them); not the constant flips between running and sleeping.</summary>
    Significant,
    /// <summary>Every change.</summary>
    All,
}

/// <summary>What a reload does to one unit.</summary>
public enum SpecChangeKind { Unchanged, Added, Removed, Changed }

/// <summary>One unit's line in a reload's diff. <see cref="Fields"/>: for a changed unit, the config keys that differ
/// (<c>command</c>, <c>env</c>, <c>restart</c>, …).</summary>
public sealed record SpecChange(SpecChangeKind Kind, string Name, IReadOnlyList<string> Fields);

/// <summary>
/// The registry of units. Names may repeat: an action on a name applies to every unit with it. Disposing the
/// supervisor stops every non-detached unit (in parallel); detached ones keep running.
/// </summary>
public sealed partial class Supervisor : IAsyncDisposable
{
    private readonly SupervisorOptions _options;
    private ImmutableList<Unit> _units = [];
    private ImmutableArray<Channel<UnitEvent>> _eventSubscribers = [];
    private ImmutableArray<Action<OutputLine>> _outputSinks = [];
    private int _nextId;
    private int _disposed;
    private readonly OsLauncher? _ownLauncher;
    private readonly ILogger _log;

    public Supervisor(SupervisorOptions? options = null)
    {
        _options = options ?? new SupervisorOptions();
        _log = _options.LoggerFactory.CreateLogger("Vigil.Supervision");
        Launcher = _options.Launcher
            ?? (_ownLauncher = new OsLauncher(_options.Host, _options.Subreaper, _options.LoggerFactory.CreateLogger("Vigil.Launching")));
        HealthLog = _options.LoggerFactory.CreateLogger("Vigil.Health");
        BuiltInProbes = new Health.BuiltInProbes(HealthLog);
        LogsLog = _options.LoggerFactory.CreateLogger("Vigil.Logs");
        LogFiles = new LogFiles(LogsLog);
        try { Membership = Launcher.CreateMembership(_options.Instance ?? Membership.EphemeralInstance(), _options.Tracking); }
        catch
        {
            _ownLauncher?.Dispose(); // an invalid instance name: no supervisor, so no reactor thread left behind
            throw;
        }
        StatusWatcher = new StatusWatcher(_options.Time, _options.StatusInterval);
        Metrics = new Telemetry.EngineMetrics(this);
    }

    /// <summary>This supervisor's measurements: its <see cref="System.Diagnostics.Metrics.Meter"/> named "Vigil" and the
    /// reliability figures of its units. Disposed with the supervisor.</summary>
    public Telemetry.EngineMetrics Metrics { get; }

    internal StatusWatcher StatusWatcher { get; }

    /// <summary>How this supervisor's units start and stop processes (its own <see cref="OsLauncher"/> unless one was given).</summary>
    public ILauncher Launcher { get; }

    internal ILogger Log => _log;
    internal ILogger HealthLog { get; }
    internal ILogger LogsLog { get; }
    internal Health.BuiltInProbes BuiltInProbes { get; }

    /// <summary>The log files this supervisor's units write, one writer per path (shared by units naming the same file).</summary>
    internal LogFiles LogFiles { get; }

    /// <summary>How this supervisor tracks its units' processes (null with a test launcher).</summary>
    public Membership? Membership { get; }

    /// <summary>
    /// Stops what a previous Vigil of the same instance left running (it was killed, so it could not stop its
    /// children), with the stop escalation of the unit of that name in <paramref name="specs"/> (or the defaults),
    /// and publishes one <see cref="PreviousRunLeftovers"/> event per unit. Call before starting units, so nothing
    /// ever runs twice. Returns how many processes were found.
    /// </summary>
    public async Task<int> StopPreviousLeftoversAsync(IReadOnlyList<ProcessSpec> specs, int? previousPid = null, CancellationToken cancel = default)
    {
        if (Membership is null) return 0;
        var groups = Membership.FindPrevious();
        var stops = groups.Select(async g =>
        {
            var spec = specs.FirstOrDefault(s => Membership.Sanitize(s.DisplayName) == g.Unit);
            var stop = spec?.Stop ?? StopSpec.Default;
            var name = spec?.DisplayName ?? g.Unit;
            Launcher.Claim(g.Processes.Select(p => p.Pid));
            var result = await Launcher.TerminateAsync(new TreeStopRequest(null, 0, g.Processes, stop.Signal, stop.Timeout, stop.KillWait),
                _options.Time, cancel).ConfigureAwait(false);
            Publish(new PreviousRunLeftovers(_options.Time.GetUtcNow(), 0, name, [.. g.Processes.Select(p => p.Pid)], result.Killed, result.Survivors, previousPid));
            return g.Processes.Count;
        }).ToList();
        var counts = await Task.WhenAll(stops).ConfigureAwait(false);
        Membership.RemoveEmpty(keepRoot: true); // the previous instance's empty run cgroups (ours are made from here on)
        return counts.Sum();
    }
    internal SupervisorOptions Options => _options;

    /// <summary>Where this supervisor's tmux server listens (made known to <c>vigil attach</c>).</summary>
    public string TmuxSocket => _options.TmuxSocket ?? (_tmuxSocket ??= Path.Combine(RuntimeDir.Resolve(log: _log), (Membership?.Instance ?? "vigil") + ".tmux.sock"));
    private string? _tmuxSocket;
    public TimeProvider Time => _options.Time;

    public IReadOnlyList<Unit> Units => _units;

    public IReadOnlyList<Unit> Find(string name) => _units.Where(u => u.Name == name).ToList();

    public IReadOnlyList<UnitSnapshot> Snapshot() => _units.Select(u => u.Snapshot).ToList();

    /// <summary>Validates the spec (throws <see cref="ArgumentException"/> listing every problem) and starts a unit for it;
    /// its lines also go to <paramref name="sink"/> when given (a library destination: not config, so a reload's
    /// replacement of the unit has none; the unit disposes it when it is removed or the supervisor is).</summary>
    public Unit Start(ProcessSpec spec, OutputSink? sink = null)
    {
        var unit = Define(spec, sink);
        _ = unit.StartAsync();
        return unit;
    }

    /// <summary>Adopts a running process Vigil did not start (Ligato's AttachProcess): watches, reports, signals and
    /// stops it; it is never restarted, and it is left running when the supervisor is disposed.</summary>
    /// <exception cref="ArgumentException">There is no such live process.</exception>
    public Unit Attach(string name, int pid) => Attach(name, pid, new ProcessSpec());

    /// <summary>As <see cref="Attach(string, int)"/>, with the rest of <paramref name="spec"/>: its probes (and their
    /// actions: kill, exec, notify), stop settings, log and hooks. Its name and <see cref="ProcessSpec.Attach"/> are set
    /// from the arguments; it must give no command and no restart settings.</summary>
    /// <exception cref="ArgumentException">There is no such live process, or the spec is invalid (every problem listed).</exception>
    public Unit Attach(string name, int pid, ProcessSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec = spec with { Name = name, Attach = new AttachSpec { Pid = pid } };
        var errors = spec.Validate();
        if (errors.Count > 0) throw new ArgumentException($"invalid process spec for '{spec.DisplayName}': " + string.Join("; ", errors), nameof(spec));
        var handle = Launcher.Attach(pid);
        var unit = Add(spec, attached: true);
        unit.Post(new Unit.AdoptMsg(handle));
        return unit;
    }

    private Unit Add(ProcessSpec spec, bool attached, OutputSink? sink = null)
    {
        if (Volatile.Read(ref _disposed) != 0) throw new ObjectDisposedException(nameof(Supervisor));
        var unit = new Unit(this, Interlocked.Increment(ref _nextId), spec, _options.Time, Launcher, attached, sink);
        ImmutableInterlocked.Update(ref _units, l => l.Add(unit));
        return unit;
    }

    /// <summary>Stops every unit named <paramref name="name"/>, in parallel.</summary>
    public async Task<IReadOnlyList<StopResult>> Stop(string name) => await Task.WhenAll(Find(name).Select(u => u.StopAndWaitAsync())).ConfigureAwait(false);

    /// <summary>Stops every unit, in parallel.</summary>
    public async Task<IReadOnlyList<StopResult>> StopAll() => await Task.WhenAll(_units.Select(u => u.StopAndWaitAsync())).ConfigureAwait(false);

    /// <summary>Restarts every unit named <paramref name="name"/>; returns how many.</summary>
    public async Task<int> Restart(string name)
    {
        var units = Find(name);
        await Task.WhenAll(units.Select(u => u.RestartAsync())).ConfigureAwait(false);
        return units.Count;
    }

    /// <summary>Closes and reopens every unit's log files (for logrotate's copy-less rotation, or `vigil logs --reopen`).</summary>
    public void ReopenLogs()
    {
        foreach (var u in _units) u.ReopenLogs();
    }

    /// <summary>Sends a signal to every running unit named <paramref name="name"/> (through each unit's loop); returns how many got it.</summary>
    public async Task<int> SignalAsync(string name, int signal)
    {
        var sent = await Task.WhenAll(Find(name).Select(u => u.SignalAsync(signal))).ConfigureAwait(false);
        return sent.Count(s => s);
    }

    /// <summary>Validates the spec (throws <see cref="ArgumentException"/> listing every problem) and adds a unit for
    /// it without starting it (state <see cref="UnitState.Initial"/>; <see cref="Unit.StartAsync"/> starts it); its lines
    /// also go to <paramref name="sink"/> when given (see <see cref="Start"/>).</summary>
    public Unit Define(ProcessSpec spec, OutputSink? sink = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var errors = spec.Validate();
        if (errors.Count > 0) throw new ArgumentException($"invalid process spec for '{spec.DisplayName}': " + string.Join("; ", errors), nameof(spec));
        return Add(spec, attached: false, sink);
    }

    /// <summary>Stops the unit (graceful escalation) and forgets it: it leaves <see cref="Units"/>, its log files are
    /// closed, and a <see cref="Removed"/> event is published. Returns how the stop went.</summary>
    /// <exception cref="InvalidOperationException">The unit was already removed, or is being removed.</exception>
    /// <exception cref="ArgumentException">The unit belongs to another supervisor.</exception>
    public async Task<StopResult> RemoveAsync(Unit unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Claim(unit);
        var result = await RetireAsync(unit, "removed").ConfigureAwait(false);
        Publish(new Removed(Time.GetUtcNow(), unit.Id, unit.Name, result.Pid, unit.State, result.Survivors));
        return result;
    }

    /// <summary>
    /// Makes the running set match <paramref name="specs"/> (a reloaded config): units whose spec is unchanged keep
    /// running untouched (same PID, same <see cref="Unit"/>), changed ones are stopped and replaced by a unit for the
    /// new spec, started; new ones are added and started; units no longer in the list (those added by API or
    /// <c>vigil add</c> too) are stopped and removed. Units are matched by name, in order among units of the same name;
    /// specs are compared key by key (<see cref="Config.SpecDiff"/>). Stops and starts run in parallel, and the call
    /// returns once every change is applied (new units spawned or failed to, old ones stopped), with one event per
    /// change (<see cref="ReloadAdded"/>, <see cref="ReloadChanged"/>, <see cref="ReloadRemoved"/>). Afterwards
    /// <see cref="Units"/> is in the order of <paramref name="specs"/>. With <paramref name="dryRun"/> nothing changes;
    /// the answer is the same list. One reload at a time: a second call waits for the first.
    /// </summary>
    /// <returns>One change per unit: those of <paramref name="specs"/> in order, then the removed ones.</returns>
    /// <exception cref="ArgumentException">A spec is invalid (every problem is listed); nothing changes.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> fired before any change was made (once
    /// changes are under way they are completed, never left half-done).</exception>
    public async Task<IReadOnlyList<SpecChange>> ReconcileAsync(IReadOnlyList<ProcessSpec> specs, bool dryRun = false, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(specs);
        var problems = new List<string>();
        for (int i = 0; i < specs.Count; i++)
        {
            if (specs[i] is not { } spec) problems.Add($"[{i}]: no spec (null)");
            else problems.AddRange(spec.Validate().Select(e => $"[{i}] ({spec.DisplayName}): {e}"));
        }
        if (problems.Count > 0) throw new ArgumentException("invalid process specs, nothing changed: " + string.Join("; ", problems), nameof(specs));

        await _reloadGate.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            cancel.ThrowIfCancellationRequested();
            var steps = Plan(specs, claim: !dryRun);
            if (!dryRun)
            {
                var results = await Task.WhenAll(steps.Select(ApplyAsync)).ConfigureAwait(false);
                // The config's order is the definition order `vigil ls` shows; units added meanwhile (vigil add) follow.
                var order = results.OfType<Unit>().ToList();
                var planned = order.ToHashSet();
                ImmutableInterlocked.Update(ref _units, l => [.. order.Where(l.Contains), .. l.Where(u => !planned.Contains(u))]);
            }
            return [.. steps.Select(s => s.Change)];
        }
        finally { _reloadGate.Release(); }
    }

    /// <summary>One line of a reload's plan: the change, the unit it concerns now (none for an added one) and the new spec.</summary>
    private sealed record ReloadStep(SpecChange Change, Unit? Old, ProcessSpec? Spec);

    /// <summary>Matches units to specs. With <paramref name="claim"/>, the units to stop are claimed for removal in the
    /// same step, so a concurrent <see cref="RemoveAsync"/> finds them leaving rather than making the reload fail.</summary>
    private List<ReloadStep> Plan(IReadOnlyList<ProcessSpec> specs, bool claim)
    {
        lock (_registryLock)
        {
            var steps = PlanOf([.. _units.Where(u => !_leaving.Contains(u))], specs); // a unit being removed is gone already
            if (claim) _leaving.UnionWith(steps.Where(s => s.Change.Kind is SpecChangeKind.Changed or SpecChangeKind.Removed && !InPlace(s.Change)).Select(s => s.Old!));
            return steps;
        }
    }

    private static List<ReloadStep> PlanOf(List<Unit> current, IReadOnlyList<ProcessSpec> specs)
    {
        var byName = current.GroupBy(u => u.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => new Queue<Unit>(g), StringComparer.Ordinal);
        var steps = new List<ReloadStep>(specs.Count);
        foreach (var spec in specs)
        {
            var name = spec.DisplayName;
            if (!byName.TryGetValue(name, out var same) || !same.TryDequeue(out var old))
            {
                steps.Add(new ReloadStep(new SpecChange(SpecChangeKind.Added, name, []), null, spec));
                continue;
            }
            var fields = Config.SpecDiff.Fields(old.Spec, spec);
            steps.Add(new ReloadStep(new SpecChange(fields.Count == 0 ? SpecChangeKind.Unchanged : SpecChangeKind.Changed, name, fields), old, spec));
        }
        foreach (var left in byName.Values.SelectMany(q => q).OrderBy(current.IndexOf))
            steps.Add(new ReloadStep(new SpecChange(SpecChangeKind.Removed, left.Name, []), left, null));
        return steps;
    }

    /// <summary>Applies one step; returns the unit that now stands for it (none for a removed one).</summary>
    private async Task<Unit?> ApplyAsync(ReloadStep step)
    {
        var (change, old, spec) = step;
        switch (change.Kind)
        {
            case SpecChangeKind.Unchanged:
                return old;
            case SpecChangeKind.Removed:
                var stopped = await RetireAsync(old!, "reload: no longer in the config").ConfigureAwait(false);
                Publish(new ReloadRemoved(Time.GetUtcNow(), old!.Id, old.Name, stopped.Pid, old.State, stopped.Survivors));
                return null;
            case SpecChangeKind.Changed when InPlace(change):
                old!.ApplyInPlace(spec!);
                Publish(new ReloadChanged(Time.GetUtcNow(), old.Id, old.Name, old.State, old.Id, change.Fields));
                return old;
            case SpecChangeKind.Changed:
                var wasActive = !UnitTransitions.IsTerminal(old!.State);
                // The old run goes first: the new one may need its port, its files, its lock.
                await RetireAsync(old!, $"reload: config changed ({string.Join(", ", change.Fields)})").ConfigureAwait(false);
                var replacement = Add(spec!, attached: false);
                Publish(new ReloadChanged(Time.GetUtcNow(), replacement.Id, replacement.Name, replacement.State, old!.Id, change.Fields));
                // A unit that waits to be started (autostart: false, a Ligato template) starts only if its old one ran.
                if (spec!.Autostart || wasActive) await replacement.StartAsync().ConfigureAwait(false);
                return replacement;
            default:
                var added = Add(spec!, attached: false);
                Publish(new ReloadAdded(Time.GetUtcNow(), added.Id, added.Name, added.State));
                if (spec!.Autostart) await added.StartAsync().ConfigureAwait(false);
                return added;
        }
    }

    /// <summary>Keys whose change a running unit takes without a restart: only its hooks (read at each event).</summary>
    private static bool InPlace(SpecChange change) => change.Kind == SpecChangeKind.Changed && change.Fields.All(f => f == "hooks");

    // Units on their way out. A unit is claimed (under _registryLock) before its stop begins, so it is removed once:
    // a second RemoveAsync, or a reload, sees it leaving. Removed units are remembered weakly, to tell "already
    // removed" from "not ours" without keeping them alive.
    private readonly object _registryLock = new();
    private readonly HashSet<Unit> _leaving = [];
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<Unit, object> _removed = [];
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private ImmutableList<Task> _retiring = [];
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<Unit, object> _logsClosed = [];

    /// <summary>Claims a current unit of this supervisor for removal; throws when it is not one.</summary>
    private void Claim(Unit unit)
    {
        lock (_registryLock)
        {
            if (_leaving.Contains(unit)) throw new InvalidOperationException($"unit {unit.Name} (#{unit.Id}) is already being removed");
            if (!_units.Contains(unit))
                throw _removed.TryGetValue(unit, out _)
                    ? new InvalidOperationException($"unit {unit.Name} (#{unit.Id}) was already removed")
                    : new ArgumentException($"unit {unit.Name} (#{unit.Id}) is not a unit of this supervisor", nameof(unit));
            _leaving.Add(unit);
        }
    }

    /// <summary>Stops a claimed unit, takes it out of <see cref="Units"/> and releases what it holds (log files, probe
    /// resources); after this nothing in the supervisor refers to it.</summary>
    private async Task<StopResult> RetireAsync(Unit unit, string why)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ImmutableInterlocked.Update(ref _retiring, l => l.Add(done.Task));
        try
        {
            var result = await unit.StopAndWaitAsync(why).ConfigureAwait(false);
            ImmutableInterlocked.Update(ref _units, l => l.Remove(unit));
            // A start that slipped in between the stop and leaving the list (a start by name from another client) is
            // stopped as well: nothing can reach the unit by name now. On a stopped unit this is a no-op.
            var again = await unit.StopAndWaitAsync(why).ConfigureAwait(false);
            if (again.Pid is not null) result = again;
            StatusWatcher.Unwatch(unit);
            await WithinAsync(unit.StopActionsAsync(TimeSpan.FromSeconds(4)), TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            await WithinAsync(unit.ProbesDisposed, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            // The last lines of the run reach the files before they close (bounded: an escaped process may hold the pipe).
            await WithinAsync(unit.OutputClosed, OutputDrainBound).ConfigureAwait(false);
            await WithinAsync(CloseLogAsync(unit), TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            return result;
        }
        finally
        {
            lock (_registryLock)
            {
                _leaving.Remove(unit);
                _removed.AddOrUpdate(unit, unit);
            }
            ImmutableInterlocked.Update(ref _retiring, l => l.Remove(done.Task));
            unit.CompleteNotifications();
            done.TrySetResult();
        }
    }

    /// <summary>Closes a unit's log files once, whether its removal or the supervisor's shutdown gets there first
    /// (files shared by several units are counted: a second close would close another unit's file).</summary>
    private Task CloseLogAsync(Unit unit) => _logsClosed.TryAdd(unit, unit) ? unit.Log.DisposeAsync().AsTask() : Task.CompletedTask;

    /// <summary>Every event from now on, until <paramref name="cancel"/>. Never blocks a unit: each reader has its own queue.</summary>
    public async IAsyncEnumerable<UnitEvent> Events([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancel = default)
    {
        var ch = Channel.CreateUnbounded<UnitEvent>(new UnboundedChannelOptions { SingleReader = true });
        ImmutableInterlocked.Update(ref _eventSubscribers, a => a.Add(ch));
        try
        {
            while (await ch.Reader.WaitToReadAsync(cancel).ConfigureAwait(false))
                while (ch.Reader.TryRead(out var ev)) yield return ev;
        }
        finally { ImmutableInterlocked.Update(ref _eventSubscribers, a => a.Remove(ch)); }
    }

    /// <summary>Calls <paramref name="handler"/> for every event, in order, on a task of its own.</summary>
    public IDisposable Subscribe(Action<UnitEvent> handler)
    {
        var ch = Channel.CreateUnbounded<UnitEvent>(new UnboundedChannelOptions { SingleReader = true });
        ImmutableInterlocked.Update(ref _eventSubscribers, a => a.Add(ch));
        _ = Task.Run(async () =>
        {
            await foreach (var ev in ch.Reader.ReadAllAsync().ConfigureAwait(false)) handler(ev);
        });
        return new Unsubscriber(() =>
        {
            ImmutableInterlocked.Update(ref _eventSubscribers, a => a.Remove(ch));
            ch.Writer.TryComplete();
        });
    }

    /// <summary>Receives every output line of every unit, on the reactor thread: must be quick and must not block.</summary>
    public IDisposable OnOutput(Action<OutputLine> sink)
    {
        ImmutableInterlocked.Update(ref _outputSinks, a => a.Add(sink));
        return new Unsubscriber(() => ImmutableInterlocked.Update(ref _outputSinks, a => a.Remove(sink)));
    }

    /// <summary>Publishes an event that did not come from a unit's loop (a transport's: a refused control client, a
    /// reload), to every reader of <see cref="Events"/> in order with the units' own.</summary>
    public void Announce(UnitEvent ev)
    {
        ArgumentNullException.ThrowIfNull(ev);
        Publish(ev);
    }

    internal void Publish(UnitEvent ev)
    {
        Metrics.Observe(ev);
        foreach (var ch in _eventSubscribers) ch.Writer.TryWrite(ev);
    }

    internal bool HasOutputSinks => !_outputSinks.IsEmpty;

    internal void PublishOutput(OutputLine line)
    {
        foreach (var sink in _outputSinks)
        {
            // A failing sink must not take the pipe reader down with it: the child would get SIGPIPE.
            try { sink(line); }
            catch (Exception e) { SupervisionLog.OutputSinkFailed(_log, line.Name, line.Pid, e.Message, e); }
        }
    }

    /// <summary>How long <see cref="DisposeAsync"/> waits for the output pipes of ended runs to be read to their end.</summary>
    public static readonly TimeSpan OutputDrainBound = TimeSpan.FromSeconds(2);

    private static bool Leaves(Unit u) => u.Spec.Detach || u.Spec.Attach is not null;

    /// <summary>Stops every non-detached unit (in parallel) and waits for them; detached and external (attached) units
    /// keep running.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Shutdown always ends: within the longest stop timeout + killWait of any unit, plus a second. A unit that
        // has not stopped by then (an internal error, a wedged loop) gets SIGKILL to its whole run directly.
        // External units (attach) are someone else's processes: left running, like detached ones.
        var stopping = _units.Where(u => !Leaves(u)).ToList();
        var bound = stopping.Select(u => u.Spec.Stop.Timeout + u.Spec.Stop.KillWait).DefaultIfEmpty(TimeSpan.Zero).Max() + TimeSpan.FromSeconds(1);
        long started = Time.GetTimestamp();
        TimeSpan Left() => bound - Time.GetElapsedTime(started) is var l && l > TimeSpan.Zero ? l : TimeSpan.Zero;
        foreach (var u in _units.Where(Leaves)) u.Post(new Unit.ReleaseMsg());
        var stops = stopping.Select(u => (Unit: u, Task: u.StopAndWaitAsync("Vigil is shutting down"))).ToList();
        // Removals under way stop their units on their own, with the same escalation.
        var retiring = Task.WhenAll(_retiring);
        if (!await WithinAsync(Task.WhenAll(stops.Select(s => s.Task).Append(retiring)), Left()).ConfigureAwait(false))
            foreach (var (u, t) in stops.Where(s => !s.Task.IsCompleted))
            {
                SupervisionLog.StopOverdue(_log, u.Name, Durations.Format(bound));
                u.KillNow();
            }
        StatusWatcher.Dispose();
        // Probe actions still running (action: { exec: … }) die with Vigil: their process groups are killed.
        await WithinAsync(Task.WhenAll(_units.Select(u => u.StopActionsAsync(TimeSpan.FromSeconds(4)))), TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        // Probes of the ended runs release what they hold (sd-notify's socket file) before Vigil is done.
        await WithinAsync(Task.WhenAll(_units.Select(u => u.ProbesDisposed)), Left() + TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        // Output still in flight from the last runs reaches the files before they close: first what is still in the
        // pipes (a flood's last megabyte, unread while the file was behind), then what waits for the disk. Bounded: a
        // pipe held open by a process that escaped the unit's session must not hold the shutdown.
        await WithinAsync(Task.WhenAll(stopping.Select(u => u.OutputClosed)), OutputDrainBound).ConfigureAwait(false);
        await WithinAsync(Task.WhenAll(_units.Select(CloseLogAsync)), TimeSpan.FromSeconds(1) + Left()).ConfigureAwait(false);
        Membership?.RemoveEmpty();
        // Processes killed in the last moments (a probe's setsid'd grandchild, reparented to Vigil) may be zombies
        // whose SIGCHLD sweep has not run yet: reap them now. Left to the exit, they would be handed to the next
        // subreaper up (the shell, a test host) as zombies it never asked for.
        Launcher.ReapOrphans();
        // Its own reactor ends with it, or when the last detached child it still watches has exited; another
        // supervisor's children are on that supervisor's reactor.
        _ownLauncher?.Dispose();
        foreach (var ch in _eventSubscribers) ch.Writer.TryComplete();
        foreach (var u in _units) u.CompleteNotifications();
        Metrics.Dispose();
    }

    /// <summary>Waits for <paramref name="task"/> at most <paramref name="limit"/> (on the supervisor's clock); true when it ended.</summary>
    private async Task<bool> WithinAsync(Task task, TimeSpan limit)
    {
        try
        {
            await task.WaitAsync(limit, Time).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException) { return false; }
        catch (Exception) { return true; } // it ended, badly: the unit reported it already
    }

    private sealed class Unsubscriber(Action dispose) : IDisposable
    {
        private int _done;
        public void Dispose() { if (Interlocked.Exchange(ref _done, 1) == 0) dispose(); }
    }
}
