using System.Collections.Immutable;
using System.Threading.Channels;
using Vigil.Launching;
using Vigil.Logs;
using Vigil.Specs;

namespace Vigil.Supervision;

public sealed record SupervisorOptions
{
    public TimeProvider Time { get; init; } = TimeProvider.System;
    public ILauncher Launcher { get; init; } = OsLauncher.Instance;
    /// <summary>How often the /proc status of running units is polled (one read of /proc/PID/stat per unit).</summary>
    public TimeSpan StatusInterval { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Which /proc status changes are events: by default not the flips between running and sleeping
    /// (config <c>events: { status: all }</c> brings every change back).</summary>
    public StatusEvents StatusEvents { get; init; } = StatusEvents.Significant;
    /// <summary>Make Vigil a child subreaper so orphaned grandchildren can still be found, stopped and reaped.</summary>
    public bool Subreaper { get; init; } = true;
    /// <summary>Probe kinds beyond the built-in ones (Vigil.Tether adds <c>tether</c>); asked in order, built-ins last.</summary>
    public IReadOnlyList<Health.IProbeProvider> ProbeProviders { get; init; } = [];
    /// <summary>A stable instance name (vigil run: one per config file) lets a later supervisor find what this one
    /// left running (<see cref="Supervisor.StopPreviousLeftoversAsync"/>); null = unique to this supervisor.</summary>
    public string? Instance { get; init; }
    /// <summary>How runs' processes are tracked: cgroup v2 where possible (<see cref="TrackingMode.Auto"/>), or by marker only.</summary>
    public TrackingMode Tracking { get; init; } = TrackingMode.Auto;
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
public sealed class Supervisor : IAsyncDisposable
{
    private readonly SupervisorOptions _options;
    private ImmutableList<Unit> _units = [];
    private ImmutableArray<Channel<UnitEvent>> _eventSubscribers = [];
    private ImmutableArray<Action<OutputLine>> _outputSinks = [];
    private int _nextId;
    private int _disposed;

    public Supervisor(SupervisorOptions? options = null)
    {
        _options = options ?? new SupervisorOptions();
        if (_options.Subreaper && _options.Launcher is OsLauncher) OrphanReaper.Enable();
        if (_options.Launcher is OsLauncher)
        {
            ResourceLimits.RaiseOpenFiles();
            Reactor.Start();
            Logs.CaptureWarmup.Start();
            Membership = Membership.Create(_options.Instance ?? Membership.EphemeralInstance(), _options.Tracking);
        }
        StatusWatcher = new StatusWatcher(_options.Time, _options.StatusInterval);
    }

    /// <summary>
    /// Starts compiling the output-capture path on a pool thread, once per process. A supervisor does this when it is
    /// created, and its first spawn waits for it; a program that reads a config first can call this before, so the
    /// work overlaps that instead of delaying the first child.
    /// </summary>
    public static void PrepareCapture() => Logs.CaptureWarmup.Start();

    internal StatusWatcher StatusWatcher { get; }

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
            OrphanReaper.Claim(g.Processes.Select(p => p.Pid));
            var result = await _options.Launcher.TerminateAsync(new TreeStopRequest(null, 0, g.Processes, stop.Signal, stop.Timeout, stop.KillWait),
                _options.Time, cancel).ConfigureAwait(false);
            Publish(new PreviousRunLeftovers(_options.Time.GetUtcNow(), 0, name, [.. g.Processes.Select(p => p.Pid)], result.Killed, result.Survivors, previousPid));
            return g.Processes.Count;
        }).ToList();
        var counts = await Task.WhenAll(stops).ConfigureAwait(false);
        Membership.RemoveEmpty(keepRoot: true); // the previous instance's empty run cgroups (ours are made from here on)
        return counts.Sum();
    }
    internal SupervisorOptions Options => _options;
    public TimeProvider Time => _options.Time;

    public IReadOnlyList<Unit> Units => _units;

    public IReadOnlyList<Unit> Find(string name) => _units.Where(u => u.Name == name).ToList();

    public IReadOnlyList<UnitSnapshot> Snapshot() => _units.Select(u => u.Snapshot).ToList();

    /// <summary>Validates the spec (throws <see cref="ArgumentException"/> listing every problem) and starts a unit for it.</summary>
    public Unit Start(ProcessSpec spec)
    {
        var errors = spec.Validate();
        if (errors.Count > 0) throw new ArgumentException($"invalid process spec for '{spec.DisplayName}': " + string.Join("; ", errors), nameof(spec));
        var unit = Add(spec, attached: false);
        _ = unit.StartAsync();
        return unit;
    }

    /// <summary>Adopts a running process Vigil did not start: watches, reports, signals and stops it (it cannot be restarted).</summary>
    public Unit Attach(string name, int pid)
    {
        var handle = _options.Launcher.Attach(pid);
        var unit = Add(new ProcessSpec { Name = name, Restart = RestartSpec.Default with { Policy = RestartPolicyKind.Never } }, attached: true);
        unit.Post(new Unit.AdoptMsg(handle));
        return unit;
    }

    private Unit Add(ProcessSpec spec, bool attached)
    {
        if (Volatile.Read(ref _disposed) != 0) throw new ObjectDisposedException(nameof(Supervisor));
        var unit = new Unit(this, Interlocked.Increment(ref _nextId), spec, _options.Time, _options.Launcher, attached);
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

    /// <summary>Validates the spec and adds a unit for it without starting it (state <see cref="UnitState.Initial"/>;
    /// <see cref="Unit.StartAsync"/> starts it).</summary>
    public Unit Define(ProcessSpec spec) => throw new NotImplementedException("Supervisor.Define: being built");

    /// <summary>Stops the unit (graceful escalation) and forgets it: it leaves <see cref="Units"/> and a
    /// <c>removed</c> event is published.</summary>
    public Task<StopResult> RemoveAsync(Unit unit) => throw new NotImplementedException("Supervisor.RemoveAsync: being built");

    /// <summary>
    /// Makes the running set match <paramref name="specs"/> (a reloaded config): units whose spec is unchanged keep
    /// running untouched (same PID), changed ones are stopped and replaced by a unit for the new spec, new ones are
    /// added and started, units no longer in the list are stopped and removed. Units are matched by name, in order
    /// among units of the same name. With <paramref name="dryRun"/> nothing changes; the answer is the same list.
    /// </summary>
    public Task<IReadOnlyList<SpecChange>> ReconcileAsync(IReadOnlyList<ProcessSpec> specs, bool dryRun = false, CancellationToken cancel = default) =>
        throw new NotImplementedException("Supervisor.ReconcileAsync: being built");

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
        foreach (var ch in _eventSubscribers) ch.Writer.TryWrite(ev);
    }

    internal bool HasOutputSinks => !_outputSinks.IsEmpty;

    internal void PublishOutput(OutputLine line)
    {
        foreach (var sink in _outputSinks)
        {
            // A failing sink must not take the pipe reader down with it: the child would get SIGPIPE.
            try { sink(line); }
            catch (Exception e) { Console.Error.WriteLine($"vigil: output sink failed for {line.Name}#{line.Pid}: {e.Message}"); }
        }
    }

    /// <summary>How long <see cref="DisposeAsync"/> waits for the output pipes of ended runs to be read to their end.</summary>
    public static readonly TimeSpan OutputDrainBound = TimeSpan.FromSeconds(2);

    /// <summary>Stops every non-detached unit (in parallel) and waits for them; detached units keep running.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Shutdown always ends: within the longest stop timeout + killWait of any unit, plus a second. A unit that
        // has not stopped by then (an internal error, a wedged loop) gets SIGKILL to its whole run directly.
        var stopping = _units.Where(u => !u.Spec.Detach).ToList();
        var bound = stopping.Select(u => u.Spec.Stop.Timeout + u.Spec.Stop.KillWait).DefaultIfEmpty(TimeSpan.Zero).Max() + TimeSpan.FromSeconds(1);
        long started = Time.GetTimestamp();
        TimeSpan Left() => bound - Time.GetElapsedTime(started) is var l && l > TimeSpan.Zero ? l : TimeSpan.Zero;
        foreach (var u in _units.Where(u => u.Spec.Detach)) u.Post(new Unit.ReleaseMsg());
        var stops = stopping.Select(u => (Unit: u, Task: u.StopAndWaitAsync("Vigil is shutting down"))).ToList();
        if (!await WithinAsync(Task.WhenAll(stops.Select(s => s.Task)), Left()).ConfigureAwait(false))
            foreach (var (u, t) in stops.Where(s => !s.Task.IsCompleted))
            {
                Console.Error.WriteLine($"vigil: unit {u.Name} did not stop within {Durations.Format(bound)}; killing its processes");
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
        await WithinAsync(Task.WhenAll(_units.Select(u => u.Log.DisposeAsync().AsTask())), TimeSpan.FromSeconds(1) + Left()).ConfigureAwait(false);
        Membership?.RemoveEmpty();
        // Processes killed in the last moments (a probe's setsid'd grandchild, reparented to Vigil) may be zombies
        // whose SIGCHLD sweep has not run yet: reap them now. Left to the exit, they would be handed to the next
        // subreaper up (the shell, a test host) as zombies it never asked for.
        OrphanReaper.Sweep();
        foreach (var ch in _eventSubscribers) ch.Writer.TryComplete();
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
