using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Supervision;

/// <summary>
/// The unit's table (<see cref="UnitTransitions"/>) as data: every (state, message) cell is checked against the rules
/// a supervisor must keep and against a second, independent statement of what each message does; then a real unit
/// (fake launcher, fake clock) is put in every state and sent every request, and what it does must be what its cell says.
/// </summary>
public sealed class UnitTableTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static readonly UnitMessage[] Requests =
        [UnitMessage.Start, UnitMessage.Stop, UnitMessage.Kill, UnitMessage.Restart, UnitMessage.Signal, UnitMessage.WaitExit];

    // States in which a process of the unit runs and no stop is under way; states with a stop under way.
    private static readonly UnitState[] WithProcess = [UnitState.Running, UnitState.Released];
    private static readonly UnitState[] StopUnderWay = [UnitState.Stopping, UnitState.Restarting, UnitState.StoppingUnhealthy, UnitState.Aborting];
    // Waiting: an external unit's, for its manager to start the process again.
    private static readonly UnitState[] PolicyStates = [UnitState.Backoff, UnitState.SlowRetry, UnitState.Exited, UnitState.Failed, UnitState.Waiting];

    [Fact]
    public void Every_cell_keeps_the_rules_of_a_supervisor()
    {
        var broken = new List<string>();
        void Check(bool ok, UnitState s, UnitMessage m, string rule)
        {
            if (!ok) broken.Add($"{s} × {m} = {UnitTransitions.Rule(s, m)}: {rule}");
        }

        Assert.Equal(Enum.GetValues<UnitState>().Length, UnitTransitions.States.Count);
        Assert.Equal(Enum.GetValues<UnitMessage>().Length, UnitTransitions.Messages.Count);
        foreach (var s in UnitTransitions.States)
        {
            foreach (var m in UnitTransitions.Messages)
            {
                var r = UnitTransitions.Rule(s, m);
                Check(!r.Next.IsDefault, s, m, "the cell is filled in");
                if (r.Next.IsDefault) continue;
                Check(r.Next.Distinct().Count() == r.Next.Length, s, m, "next states are listed once");
                if (Requests.Contains(m)) Check(r.Action != UnitAction.Ignore, s, m, "a request is always answered");
                if (r.Action is UnitAction.Ignore or UnitAction.Answer or UnitAction.Join or UnitAction.Signal or UnitAction.WaitExit)
                    Check(r.Next.IsEmpty, s, m, "an action that changes nothing publishes nothing");
                if (r.Action is UnitAction.Note or UnitAction.UpdateStatus or UnitAction.Probe)
                    Check(r.Next.SequenceEqual([s]), s, m, "news is published in the state it finds");
                if (r.Action == UnitAction.Launch)
                    Check(r.Next.ToHashSet().SetEquals([UnitState.Running, .. PolicyStates]), s, m, "a launch runs, or the policy decides after a spawn failure");
                if (r.Action == UnitAction.Decide)
                    Check(r.Next.Length > 0 && r.Next.All(PolicyStates.Contains), s, m, "after a run only the policy decides");
                if (m == UnitMessage.Stale) Check(r.Action == UnitAction.Ignore, s, m, "a stale message does nothing");
                if (m == UnitMessage.Fault)
                    Check(r.Action == UnitAction.Abort && r.Next.Contains(UnitState.Stopped) && r.Next.All(n => n is UnitState.Aborting or UnitState.Stopped),
                        s, m, "an internal error aborts and ends stopped");
                if (m is UnitMessage.Stop or UnitMessage.Kill)
                    Check(!r.Next.Any(n => n is UnitState.Running or UnitState.Backoff or UnitState.SlowRetry or UnitState.Restarting),
                        s, m, "no start follows a stop or a kill");
                if (m is UnitMessage.Stop or UnitMessage.Kill && UnitTransitions.IsTerminal(s) && s != UnitState.Stopped)
                    Check(r.Next.SequenceEqual([UnitState.Stopped]), s, m, "with nothing running, a stop is a move to stopped");
                if (m == UnitMessage.Start && UnitTransitions.IsTerminal(s))
                    Check(r.Action == UnitAction.Launch, s, m, "start brings back a unit with nothing running or scheduled");
                if (m == UnitMessage.Timer)
                    Check(s is UnitState.Backoff or UnitState.SlowRetry ? r.Action == UnitAction.Launch : r.Action == UnitAction.Ignore,
                        s, m, "only a unit waiting to restart has a restart timer");
                if (m == UnitMessage.StopDone)
                    Check(StopUnderWay.Contains(s) ? r.Action is UnitAction.FinishStop or UnitAction.FinishThenLaunch or UnitAction.FinishThenDecide
                        : r.Action == UnitAction.Ignore, s, m, "only a stop under way finishes");
                if (r.Action is UnitAction.BeginStop)
                    Check(WithProcess.Contains(s), s, m, "a stop begins only where a process runs and no stop is under way");
                if (r.Action is UnitAction.Redirect or UnitAction.Escalate)
                    Check(StopUnderWay.Contains(s) && s != UnitState.Aborting, s, m, "only a stop under way is redirected or escalated");
                if (m == UnitMessage.Exited)
                    Check(WithProcess.Contains(s) ? r.Action == UnitAction.Decide
                        : StopUnderWay.Contains(s) || s == UnitState.Stopped ? r.Action == UnitAction.RecordExit && r.Next.SequenceEqual([s])
                        : r.Action == UnitAction.Ignore, s, m, "an exit is the policy's business only when nobody stopped the process");
            }
        }
        Assert.True(broken.Count == 0, "cells that break a rule:\n  " + string.Join("\n  ", broken));
    }

    [Fact]
    public void A_stop_ends_stopped_from_every_state()
    {
        // Follow the stop request, then the messages a stop under way waits for (the exit, the tree stop's end).
        foreach (var s in UnitTransitions.States)
        {
            var afterStop = UnitTransitions.Rule(s, UnitMessage.Stop).Next;
            var seen = new HashSet<UnitState>();
            var frontier = new Queue<UnitState>(afterStop.IsEmpty ? [s] : afterStop);
            var ends = new HashSet<UnitState>();
            while (frontier.TryDequeue(out var at))
            {
                if (!seen.Add(at)) continue;
                var moves = new[] { UnitMessage.Exited, UnitMessage.StopDone }.SelectMany(m => UnitTransitions.Rule(at, m).Next).Where(n => n != at).ToList();
                if (moves.Count == 0) ends.Add(at);
                foreach (var n in moves) frontier.Enqueue(n);
            }
            Assert.True(ends.SetEquals([UnitState.Stopped]), $"a stop from {s} can end in {string.Join(", ", ends)}");
        }
    }

    [Fact]
    public void IsAllowed_is_what_some_cell_lists()
    {
        foreach (var from in UnitTransitions.States)
            foreach (var to in UnitTransitions.States)
                Assert.Equal(UnitTransitions.Messages.Any(m => UnitTransitions.Rule(from, m).Next.Contains(to)), UnitTransitions.IsAllowed(from, to));
        Assert.True(UnitTransitions.IsAllowed(UnitState.Running, UnitState.Restarting));
        Assert.False(UnitTransitions.IsAllowed(UnitState.Stopping, UnitState.Backoff)); // a requested stop never restarts
        Assert.False(UnitTransitions.IsAllowed(UnitState.Initial, UnitState.Stopping));
        Assert.False(UnitTransitions.IsAllowed(UnitState.Exited, UnitState.Released));
    }

    [Fact]
    public void States_have_the_names_the_CLI_shows()
    {
        Assert.Equal(["initial", "running", "stopping", "backoff", "slow-retry", "exited", "stopped", "failed", "restarting", "stopping-unhealthy", "released", "aborting", "waiting"],
            UnitTransitions.States.Select(s => s.Name()));
        // The first eight keep their numbers.
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], new[] { UnitState.Initial, UnitState.Running, UnitState.Stopping, UnitState.Backoff, UnitState.SlowRetry,
            UnitState.Exited, UnitState.Stopped, UnitState.Failed }.Select(s => (int)s));
    }

    // The table's answer for the messages that decide a unit's life, written out a second time, state by state.
    // Columns: Start Stop Kill Restart Release Attach Exited StopDone Timer ProbeFailed ProbeNews.
    private static readonly UnitMessage[] Columns =
    [
        UnitMessage.Start, UnitMessage.Stop, UnitMessage.Kill, UnitMessage.Restart, UnitMessage.Release, UnitMessage.Attach,
        UnitMessage.Exited, UnitMessage.StopDone, UnitMessage.Timer, UnitMessage.ProbeFailed, UnitMessage.ProbeNews,
    ];

    public static TheoryData<UnitState, string> Grid => new()
    {
        { UnitState.Initial,           "Launch    MarkStopped MarkStopped Launch     Ignore   Adopt  Ignore     Ignore           Ignore Ignore    Ignore" },
        { UnitState.Running,           "Answer    BeginStop   BeginStop   BeginStop  Release  Ignore Decide     Ignore           Ignore BeginStop Probe" },
        { UnitState.Stopping,          "Redirect  Join        Escalate    Redirect   Ignore   Ignore RecordExit FinishStop       Ignore Ignore    Ignore" },
        { UnitState.Restarting,        "Answer    Redirect    Escalate    Answer     Redirect Ignore RecordExit FinishThenLaunch Ignore Ignore    Ignore" },
        { UnitState.StoppingUnhealthy, "Redirect  Redirect    Escalate    Redirect   Redirect Ignore RecordExit FinishThenDecide Ignore Ignore    Ignore" },
        { UnitState.Backoff,           "Launch    MarkStopped MarkStopped Launch     Retire   Ignore Ignore     Ignore           Launch Ignore    Ignore" },
        { UnitState.SlowRetry,         "Launch    MarkStopped MarkStopped Launch     Retire   Ignore Ignore     Ignore           Launch Ignore    Ignore" },
        { UnitState.Exited,            "Launch    MarkStopped MarkStopped Launch     Ignore   Ignore Ignore     Ignore           Ignore Ignore    Ignore" },
        { UnitState.Stopped,           "Launch    Answer      Answer      Launch     Ignore   Ignore RecordExit Ignore           Ignore Ignore    Ignore" },
        { UnitState.Failed,            "Launch    MarkStopped MarkStopped Launch     Ignore   Ignore Ignore     Ignore           Ignore Ignore    Ignore" },
        { UnitState.Released,          "Answer    BeginStop   BeginStop   Answer     Ignore   Ignore Decide     Ignore           Ignore Ignore    Ignore" },
        { UnitState.Aborting,          "Answer    Join        Join        Answer     Ignore   Ignore RecordExit FinishStop       Ignore Ignore    Ignore" },
        { UnitState.Waiting,           "Launch    MarkStopped MarkStopped Launch     Retire   Ignore Ignore     Ignore           Ignore Ignore    Ignore" },
    };

    [Theory]
    [MemberData(nameof(Grid))]
    public void Each_state_answers_each_message_as_written(UnitState state, string row)
    {
        var expected = row.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(Enum.Parse<UnitAction>).ToArray();
        Assert.Equal(Columns.Length, expected.Length);
        Assert.Equal(expected.Select((a, i) => $"{Columns[i]}: {a}"), Columns.Select(m => $"{m}: {UnitTransitions.Rule(state, m).Action}"));
        // Where the redirected or begun stop leads.
        // (ImmutableArray's own Equals compares the arrays' identity: compare their items.)
        Assert.Equal(state == UnitState.Running ? [UnitState.Running, UnitState.StoppingUnhealthy] : Array.Empty<UnitState>(),
            UnitTransitions.Rule(state, UnitMessage.ProbeFailed).Next.ToArray());
        if (UnitTransitions.Rule(state, UnitMessage.Restart).Action is UnitAction.BeginStop or UnitAction.Redirect)
            Assert.Equal([UnitState.Restarting], UnitTransitions.Rule(state, UnitMessage.Restart).Next.ToArray());
        if (UnitTransitions.Rule(state, UnitMessage.Start).Action == UnitAction.Redirect)
            Assert.Equal([UnitState.Restarting], UnitTransitions.Rule(state, UnitMessage.Start).Next.ToArray());
    }

    // ---- a real unit in every state ---------------------------------------------------------------------------------

    /// <summary>Every state × every request (and the release at shutdown).</summary>
    public static TheoryData<UnitState, UnitMessage> Pairs()
    {
        var data = new TheoryData<UnitState, UnitMessage>();
        foreach (var s in UnitTransitions.States)
            foreach (var m in Requests.Append(UnitMessage.Release))
                data.Add(s, m);
        return data;
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task A_unit_does_what_its_cell_says(UnitState state, UnitMessage message)
    {
        await using var h = new Harness();
        var unit = await h.Reach(state);
        Assert.Equal(state, unit.State);
        await h.Fence(unit); // what reaching the state published is behind us

        var rule = UnitTransitions.Rule(state, message);
        Task answer = message switch
        {
            UnitMessage.Start => unit.StartAsync(),
            UnitMessage.Stop => unit.StopAndWaitAsync(),
            UnitMessage.Kill => unit.Kill(),
            UnitMessage.Restart => unit.RestartAsync(),
            UnitMessage.Signal => unit.SignalAsync(Signals.SIGUSR1),
            UnitMessage.WaitExit => unit.WaitForExitAsync(),
            UnitMessage.Release => Post(unit, new Unit.ReleaseMsg()),
            _ => throw new ArgumentOutOfRangeException(nameof(message)),
        };
        var published = await h.Fence(unit);

        var expected = rule.Next.IsEmpty ? state : rule.Action == UnitAction.Launch ? UnitState.Running : rule.Next.Single();
        Assert.True(expected == unit.State, $"{state} × {message} ({rule}): the unit is {unit.State}, not {expected}. Events: {string.Join("; ", published)}");
        Assert.All(published, e => Assert.True(rule.Allows(e.State), $"{state} × {message} ({rule}) published {e} in {e.State}"));
        if (rule.Next.IsEmpty) Assert.Empty(published);
        else Assert.NotEmpty(published);
        if (rule.Action is UnitAction.Answer or UnitAction.Launch or UnitAction.Signal or UnitAction.MarkStopped)
            Assert.True(answer.IsCompleted, $"{state} × {message}: the request is not answered");
        if (message == UnitMessage.Signal)
            Assert.Equal(unit.Pid is not null, await (Task<bool>)answer);
        // A stop is answered when the unit is stopped, not before; a wait for the exit when no process is left.
        if (message is UnitMessage.Stop or UnitMessage.Kill)
            Assert.True(answer.IsCompleted == (unit.State == UnitState.Stopped), $"{state} × {message}: answered {answer.IsCompleted} in {unit.State}");
        if (message == UnitMessage.WaitExit)
            Assert.True(answer.IsCompleted == (unit.Pid is null), $"{state} × {message}: answered {answer.IsCompleted} with pid {unit.Pid}");

        await h.Shutdown();
        await answer.WaitAsync(Wait); // every request is answered in the end
    }

    private static Task Post(Unit unit, Unit.Message m)
    {
        unit.Post(m);
        return Task.CompletedTask;
    }

    /// <summary>
    /// A supervisor whose processes survive every signal until the test ends them and whose clock never moves: once a
    /// unit is in a state, nothing but the test's own message changes it, so what the message did can be read off.
    /// </summary>
    private sealed class Harness : FakeSupervision, IAsyncDisposable
    {
        public Harness() => Launcher.NextBehaviour = FakeStopBehaviour.Unkillable;

        private static ProcessSpec Spec(params ProbeSpec[] probes) => new()
        {
            Name = "worker", Command = ["worker"],
            Restart = RestartSpec.Default with { Schedule = [TimeSpan.FromHours(1)] },
            Stop = StopSpec.Default with { Timeout = TimeSpan.FromSeconds(2), KillWait = TimeSpan.FromSeconds(2) },
            Health = [.. probes],
        };

        private Task<T> Next<T>(Unit u, Func<T, bool>? match = null) where T : UnitEvent =>
            Rec.Event<T>(e => e.UnitId == u.Id && (match?.Invoke(e) ?? true), $"{typeof(T).Name} of unit {u.Id}", Wait);

        private async Task<Unit> Crashed(ProcessSpec spec)
        {
            var u = Sup.Start(spec);
            var p = (await Launcher.Spawn(0).WaitAsync(Wait)).Process!;
            await Next<Spawned>(u);
            p.Exit(ExitStatus.Exited(1));
            await Next<Exited>(u);
            return u;
        }

        private async Task<Unit> Running(ProcessSpec? spec = null)
        {
            var u = Sup.Start(spec ?? Spec());
            await Next<Spawned>(u);
            return u;
        }

        /// <summary>A unit of this supervisor in <paramref name="state"/>, with nothing left to happen on its own.</summary>
        public async Task<Unit> Reach(UnitState state)
        {
            Unit u;
            switch (state)
            {
                case UnitState.Initial:
                    // Not in the supervisor's list (Supervisor.Define is another part's work): only its events go there.
                    return new Unit(Sup, 1000, Spec(), Time, Launcher, attached: false);
                case UnitState.Running:
                    return await Running();
                case UnitState.Stopping:
                    u = await Running();
                    _ = u.StopAndWaitAsync();
                    await Next<StopRequested>(u);
                    return u;
                case UnitState.Restarting:
                    u = await Running();
                    await u.RestartAsync().WaitAsync(Wait);
                    return u;
                case UnitState.StoppingUnhealthy:
                    u = await Running(Spec(TestProbes.Failing()));
                    await Next<StopRequested>(u, e => e.State == UnitState.StoppingUnhealthy);
                    return u;
                case UnitState.Backoff:
                    return await Crashed(Spec());
                case UnitState.SlowRetry:
                    var slow = Spec();
                    return await Crashed(slow with { Restart = slow.Restart with { Limit = new CrashLoopLimit(0, TimeSpan.FromMinutes(1), LimitAction.SlowRetry, TimeSpan.FromHours(1)) } });
                case UnitState.Exited:
                    return await Crashed(Spec() with { Restart = RestartSpec.Default with { Schedule = [] } });
                case UnitState.Failed:
                    var fail = Spec();
                    return await Crashed(fail with { Restart = fail.Restart with { Limit = new CrashLoopLimit(0, TimeSpan.FromMinutes(1), LimitAction.Stop) } });
                case UnitState.Stopped:
                    u = await Crashed(Spec());
                    await u.StopAndWaitAsync().WaitAsync(Wait);
                    return u;
                case UnitState.Released:
                    u = await Running();
                    u.Post(new Unit.ReleaseMsg());
                    await Next<Released>(u);
                    return u;
                case UnitState.Aborting:
                    u = await Running(Spec(TestProbes.Poisoned()));
                    await Next<InternalError>(u);
                    return u;
                case UnitState.Waiting:
                    // An external unit whose pidfile is missing; then the file appears (naming a process the fake launcher
                    // attaches to), so a start from here finds it. The clock stands still: no poll comes on its own.
                    var pidfile = Path.Combine(Path.GetTempPath(), $"vigil-table-{Environment.ProcessId}-{Guid.NewGuid():N}.pid");
                    u = Sup.Start(new ProcessSpec { Name = "external", Attach = new AttachSpec { PidFile = pidfile } });
                    await Next<AttachWaiting>(u);
                    File.WriteAllText(pidfile, "60000001\n"); // above pid_max: names no real process
                    _files.Add(pidfile);
                    return u;
                default:
                    throw new ArgumentOutOfRangeException(nameof(state));
            }
        }

        private readonly List<string> _files = [];
        private Fences? _fences;

        /// <summary>Waits until <paramref name="u"/> has handled everything posted so far; its events since the last fence.</summary>
        public Task<List<UnitEvent>> Fence(Unit u) => (_fences ??= new Fences(Rec, Time)).Pass(u);

        /// <summary>Ends every fake process and shuts the supervisor down, walking the clock through the stop bounds.</summary>
        public async Task Shutdown()
        {
            var dispose = Sup.DisposeAsync().AsTask();
            for (int i = 0; i < 200 && !dispose.IsCompleted; i++)
            {
                foreach (var s in Launcher.Spawns) s.Process?.Exit(ExitStatus.Killed(Signals.SIGKILL));
                Time.Advance(TimeSpan.FromMilliseconds(500));
                await Task.WhenAny(dispose, Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System));
            }
            await dispose.WaitAsync(Wait);
        }

        public async ValueTask DisposeAsync()
        {
            await Shutdown();
            Rec.Dispose();
            foreach (var f in _files) File.Delete(f);
        }
    }
}
