using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Supervision;

/// <summary>
/// Unit: a real <see cref="Supervisor"/> and <see cref="Unit"/> loop driven by a <see cref="FakeLauncher"/> and a
/// <see cref="FakeTimeProvider"/>. No process is spawned and no test sleeps: time moves only when a test advances it.
/// </summary>
/// <remarks>
/// How "nothing happens before the delay" is made deterministic. The unit's loop runs on the thread pool, so a test
/// cannot look at it "right after" something. But the only way fake time can cause work is a timer callback, and
/// <see cref="FakeTimeProvider.Advance"/> runs those on the test's thread and returns how many it ran. So:
/// 1. wait (with a timeout) for the event that ends the step, e.g. <see cref="BackingOff"/>. The unit arms its restart
///    timer before publishing that event, so the timer exists and the loop has nothing left to do;
/// 2. <c>Advance(delay - 1ms)</c> must return 0: no callback ran, so no work was started anywhere, and "no spawn yet"
///    can be asserted at once, with no race;
/// 3. <c>Advance(1ms)</c> must return 1, and the test waits for the spawn; the fake launcher records the fake time of
///    every spawn, which must be exactly exit time + delay.
/// Only one kind of assertion cannot be made this way: that a timer which did fire (a restart cancelled by a stop)
/// leads to nothing. That goes through <see cref="Harness.Settle"/>, explained there.
/// </remarks>
public sealed class UnitStateMachineTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan OneMs = TimeSpan.FromMilliseconds(1);
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    private static ProcessSpec Worker(string name = "worker") => new() { Name = name, Command = ["worker", "--port", "8080"] };

    private static ProcessSpec WithSchedule(ProcessSpec s, params double[] ms) =>
        s with { Restart = s.Restart with { Schedule = [.. ms.Select(Ms)] } };

    private sealed class Harness : FakeSupervision, IAsyncDisposable
    {

        public Task<T> Next<T>(UnitEvent? after = null, Func<T, bool>? match = null) where T : UnitEvent =>
            Rec.WaitFor((events, _) =>
            {
                int from = after is null ? 0 : IndexOf(events, after) + 1;
                return events.Skip(from).OfType<T>().FirstOrDefault(e => match?.Invoke(e) ?? true);
            }, $"{typeof(T).Name} after {after?.ToString() ?? "the start"}", Wait);

        private static int IndexOf(IReadOnlyList<UnitEvent> events, UnitEvent e)
        {
            for (int i = 0; i < events.Count; i++) if (ReferenceEquals(events[i], e)) return i;
            throw new InvalidOperationException($"event {e} was not recorded");
        }

        /// <summary>Waits for spawn attempt <paramref name="index"/> to succeed and for the unit to report it running.</summary>
        public async Task<(FakeProcess Process, Spawned Event)> Running(int index)
        {
            var rec = await Launcher.Spawn(index).WaitAsync(Wait);
            var p = rec.Process ?? throw new Xunit.Sdk.XunitException($"spawn {index} failed: {rec.Failure}");
            var ev = await Next<Spawned>(match: e => e.Pid == p.Pid);
            return (p, ev);
        }

        /// <summary>Makes <paramref name="p"/> exit and returns the unit's Exited event and the event that follows it.</summary>
        public async Task<(Exited Exited, TFollow Follow)> Crash<TFollow>(FakeProcess p, ExitStatus? status = null) where TFollow : UnitEvent
        {
            Assert.True(p.Exit(status ?? ExitStatus.Exited(1)), $"{p} had already exited");
            var exited = await Next<Exited>(match: e => e.Pid == p.Pid);
            return (exited, await Next<TFollow>(exited));
        }

        /// <summary>
        /// Steps through a restart delay that starts now: 1ms short of it nothing may fire or spawn; at it exactly the
        /// restart timer fires and spawn attempt <paramref name="index"/> happens at exactly that fake time.
        /// </summary>
        public async Task<SpawnRecord> ThroughDelay(Unit unit, TimeSpan delay, int index, UnitState waitingIn = UnitState.Backoff)
        {
            var start = Time.Elapsed;
            Assert.Equal(waitingIn, unit.State);
            Assert.Equal(delay, unit.Snapshot.NextRestartIn);
            Assert.Equal(delay, Time.UntilNextTimer); // the restart timer is the next thing due
            Assert.Equal(index, Launcher.SpawnCount);

            Assert.Equal(0, Time.Advance(delay - OneMs)); // nothing fired, so nothing can have started
            Assert.Equal(index, Launcher.SpawnCount);
            Assert.Equal(waitingIn, unit.State);

            Assert.Equal(1, Time.Advance(OneMs));
            var rec = await Launcher.Spawn(index).WaitAsync(Wait);
            Assert.Equal(start + delay, rec.At);
            return rec;
        }

        /// <summary>
        /// Best effort "the unit has handled whatever the last Advance set off", for the one assertion the fake clock
        /// cannot make deterministic: that a timer which did fire leads to nothing. The chain is: Advance runs the
        /// timer's callback (completing Task.Delay) → Unit.ScheduleStart's ContinueWith runs on the thread pool → it
        /// posts TimerFired → the unit's loop. The thread-pool hop is invisible from outside, so this alternates
        /// round trips through the unit's inbox (WaitForExitAsync with no process running is answered by the loop
        /// after everything posted before it) with yields, until the pool has shown no queued work three times in a
        /// row. It can only let a "nothing happened" assertion miss a late event, never fail a correct unit. If a
        /// spawn happens meanwhile it returns at once, and the caller's assertions say what went wrong.
        /// </summary>
        public async Task Settle(Unit unit)
        {
            Assert.Null(unit.Pid); // the round trip below must not wait for a process to exit
            var spawn = Launcher.Spawn(Launcher.SpawnCount);
            for (int quiet = 0, round = 0; quiet < 3 && round < 200; round++)
            {
                await Task.Yield();
                await Task.WhenAny(unit.WaitForExitAsync(), spawn).WaitAsync(Wait);
                if (spawn.IsCompleted) return;
                quiet = ThreadPool.PendingWorkItemCount == 0 ? quiet + 1 : 0;
            }
        }

        /// <summary>Replays each unit's events: every change of state must be in <see cref="UnitTransitions"/>.</summary>
        public List<(UnitState From, UnitState To, string Kind)> AssertTransitionsAllowed()
        {
            var moves = new List<(UnitState, UnitState, string)>();
            foreach (var byUnit in Rec.Events.GroupBy(e => e.UnitId))
            {
                var state = UnitState.Initial;
                foreach (var e in byUnit)
                {
                    if (e.State == state) continue; // an event that reports the state without changing it
                    Assert.True(UnitTransitions.IsAllowed(state, e.State),
                        $"unit {byUnit.Key}: {state} → {e.State} (event {e.Kind}) is not in UnitTransitions. Events:\n  " + string.Join("\n  ", byUnit));
                    moves.Add((state, e.State, e.Kind));
                    state = e.State;
                }
            }
            return moves;
        }

        public async ValueTask DisposeAsync()
        {
            // Stop everything (fakes that obey TERM go at once), wait until the recorder has every unit's final
            // Stopped, then check the whole history against the transition table.
            await Sup.StopAll().WaitAsync(Wait);
            await Rec.WaitFor((events, _) => Sup.Units.All(u => events.LastOrDefault(e => e.UnitId == u.Id)?.State == UnitState.Stopped) ? events : null,
                "every unit's final Stopped event", Wait);
            AssertTransitionsAllowed();
            await Sup.DisposeAsync();
            Rec.Dispose();
        }
    }

    // ---- the schedule ---------------------------------------------------------------------------------------------

    [Fact]
    public async Task Crashed_unit_waits_the_first_schedule_entry_exactly()
    {
        await using var h = new Harness();
        var unit = h.Sup.Start(Worker());
        var (p, spawned) = await h.Running(0);
        Assert.Equal(0, spawned.RestartCount);
        Assert.Equal(["worker", "--port", "8080"], p.Argv);

        var (exited, backoff) = await h.Crash<BackingOff>(p, ExitStatus.Exited(3));
        Assert.Equal(UnitState.Backoff, exited.State);
        Assert.Equal(3, exited.Status.Code);
        Assert.False(exited.Expected);
        Assert.Equal(Ms(100), backoff.Delay);
        Assert.Equal(1, backoff.Attempt);
        Assert.True(p.Disposed);

        var rec = await h.ThroughDelay(unit, Ms(100), 1);
        var (_, again) = await h.Running(1);
        Assert.Equal(exited.Time + Ms(100), again.Time);
        Assert.Equal(1, again.RestartCount);
        Assert.Equal(1, unit.RestartCount);
        Assert.Equal(rec.Process!.Pid, unit.Pid);
    }

    [Fact]
    public async Task Crashed_unit_waits_the_second_schedule_entry()
    {
        await using var h = new Harness();
        var unit = h.Sup.Start(Worker());
        var (p, _) = await h.Running(0);
        await h.Crash<BackingOff>(p);
        await h.ThroughDelay(unit, Ms(100), 1);
        (p, _) = await h.Running(1);

        var (_, backoff) = await h.Crash<BackingOff>(p);
        Assert.Equal(Ms(500), backoff.Delay);
        Assert.Equal(2, backoff.Attempt);
        await h.ThroughDelay(unit, Ms(500), 2);
        await h.Running(2);
    }

    [Fact]
    public async Task Successive_crashes_wait_each_default_schedule_entry_exactly_and_repeat_the_last()
    {
        await using var h = new Harness();
        var unit = h.Sup.Start(Worker());
        TimeSpan[] expected = [Ms(100), Ms(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30),
            TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(15)];
        var (p, _) = await h.Running(0);
        for (int i = 0; i < expected.Length; i++)
        {
            var (exited, backoff) = await h.Crash<BackingOff>(p, ExitStatus.Killed(Signals.SIGSEGV));
            Assert.Equal(expected[i], backoff.Delay);
            Assert.Equal($"restarting in {Durations.Format(expected[i])}", backoff.Reason);
            await h.ThroughDelay(unit, expected[i], i + 1);
            Spawned spawned;
            (p, spawned) = await h.Running(i + 1);
            Assert.Equal(exited.Time + expected[i], spawned.Time);
            Assert.Equal(i + 1, spawned.RestartCount);
        }
    }

    [Fact]
    public async Task A_run_of_resetAfter_starts_the_schedule_over()
    {
        await using var h = new Harness();
        var spec = Worker() with { Restart = RestartSpec.Default with { ResetAfter = TimeSpan.FromMinutes(1) } };
        var unit = h.Sup.Start(spec);
        var (p, _) = await h.Running(0);
        await h.Crash<BackingOff>(p);
        await h.ThroughDelay(unit, Ms(100), 1);
        (p, _) = await h.Running(1);

        // A run just short of resetAfter: the schedule goes on.
        Assert.Equal(0, h.Time.Advance(TimeSpan.FromMinutes(1) - OneMs));
        var (exited, backoff) = await h.Crash<BackingOff>(p);
        Assert.Equal(TimeSpan.FromMinutes(1) - OneMs, exited.Ran);
        Assert.Equal(Ms(500), backoff.Delay);
        await h.ThroughDelay(unit, Ms(500), 2);
        (p, _) = await h.Running(2);

        // A run of exactly resetAfter: back to the first entry.
        Assert.Equal(0, h.Time.Advance(TimeSpan.FromMinutes(1)));
        (exited, backoff) = await h.Crash<BackingOff>(p);
        Assert.Equal(TimeSpan.FromMinutes(1), exited.Ran);
        Assert.Equal(Ms(100), backoff.Delay);
        Assert.Equal(1, backoff.Attempt);
        await h.ThroughDelay(unit, Ms(100), 3);
        await h.Running(3);
    }

    [Fact]
    public async Task Spawn_failure_follows_the_schedule_like_a_crash()
    {
        await using var h = new Harness();
        h.Launcher.FailNext(2, new SpawnFailure(SpawnErrorKind.PermissionDenied, "cannot execute 'worker': permission denied (fake)"));
        var unit = h.Sup.Start(Worker());

        var failed = await h.Next<SpawnFailed>();
        Assert.Equal(UnitState.Backoff, failed.State);
        Assert.Equal(SpawnErrorKind.PermissionDenied, failed.Failure.Kind);
        Assert.Equal("cannot execute 'worker': permission denied (fake)", failed.Reason);
        Assert.Equal(Ms(100), (await h.Next<BackingOff>(failed)).Delay);
        Assert.Null((await h.Launcher.Spawn(0)).Process);

        var second = await h.ThroughDelay(unit, Ms(100), 1);
        Assert.NotNull(second.Failure);
        failed = await h.Next<SpawnFailed>(failed);
        Assert.Equal(Ms(500), (await h.Next<BackingOff>(failed)).Delay);

        await h.ThroughDelay(unit, Ms(500), 2);
        var (p, _) = await h.Running(2);

        // Failures and crashes share one schedule: the crash after two failed spawns waits the third entry.
        var (_, backoff) = await h.Crash<BackingOff>(p);
        Assert.Equal(TimeSpan.FromSeconds(1), backoff.Delay);
    }

    [Fact]
    public async Task Spawn_failure_with_an_empty_schedule_leaves_the_unit_exited()
    {
        await using var h = new Harness();
        h.Launcher.FailNext(1);
        var unit = h.Sup.Start(WithSchedule(Worker()));
        var failed = await h.Next<SpawnFailed>();
        Assert.Equal(UnitState.Exited, failed.State);
        var why = await h.Next<NotRestarting>(failed);
        Assert.Equal("restart schedule is empty (never restart)", why.Reason);
        Assert.Equal(UnitState.Exited, unit.State);
        Assert.Equal(0, h.Time.PendingTimers);
    }

    [Fact]
    public async Task Clean_exit_under_on_failure_is_not_restarted()
    {
        await using var h = new Harness();
        var unit = h.Sup.Start(Worker() with { Restart = RestartSpec.Default with { Policy = RestartPolicyKind.OnFailure } });
        var (p, _) = await h.Running(0);
        var (exited, why) = await h.Crash<NotRestarting>(p, ExitStatus.Exited(0));
        Assert.Equal(UnitState.Exited, exited.State);
        Assert.Equal("exited cleanly and restart policy is on-failure", why.Reason);
        Assert.Equal(0, h.Time.PendingTimers);
        Assert.Equal(0, h.Time.Advance(TimeSpan.FromHours(1)));
        Assert.Equal(1, h.Launcher.SpawnCount);
        Assert.Equal(UnitState.Exited, unit.State);
    }

    // ---- crash-loop limit -----------------------------------------------------------------------------------------

    [Fact]
    public async Task Crash_loop_limit_switches_to_slow_retry_and_retries_exactly_after_the_slow_delay()
    {
        await using var h = new Harness();
        var spec = WithSchedule(Worker(), 100);
        spec = spec with
        {
            Restart = spec.Restart with
            {
                ResetAfter = TimeSpan.FromMinutes(10),
                Limit = new CrashLoopLimit(2, TimeSpan.FromMinutes(1), LimitAction.SlowRetry, TimeSpan.FromMinutes(2)),
            },
        };
        var unit = h.Sup.Start(spec);
        var (p, _) = await h.Running(0);
        for (int i = 1; i <= 2; i++)
        {
            await h.Crash<BackingOff>(p);
            await h.ThroughDelay(unit, Ms(100), i);
            (p, _) = await h.Running(i);
        }

        var (exited, slow) = await h.Crash<SlowRetrying>(p);
        Assert.Equal(UnitState.SlowRetry, exited.State);
        Assert.Equal(UnitState.SlowRetry, slow.State);
        Assert.Equal(TimeSpan.FromMinutes(2), slow.Delay);
        Assert.Equal("slow-retry", slow.Kind);
        Assert.Equal("crash loop: 2 restarts within 1m (limit 2); retrying every 2m until a run lasts 10m", slow.Reason);
        Assert.Equal(UnitState.SlowRetry, unit.State);

        await h.ThroughDelay(unit, TimeSpan.FromMinutes(2), 3, UnitState.SlowRetry);
        (p, _) = await h.Running(3);

        // Still crashing quickly: slow retry persists even though the window has emptied meanwhile.
        (_, slow) = await h.Crash<SlowRetrying>(p);
        Assert.Equal(TimeSpan.FromMinutes(2), slow.Delay);
        await h.ThroughDelay(unit, TimeSpan.FromMinutes(2), 4, UnitState.SlowRetry);
        (p, _) = await h.Running(4);

        // A run of resetAfter heals it: back to the schedule.
        Assert.Equal(0, h.Time.Advance(TimeSpan.FromMinutes(10)));
        var (_, backoff) = await h.Crash<BackingOff>(p);
        Assert.Equal(Ms(100), backoff.Delay);
        await h.ThroughDelay(unit, Ms(100), 5);
        await h.Running(5);
    }

    [Fact]
    public async Task Crash_loop_limit_with_then_stop_fails_the_unit_until_it_is_started_again()
    {
        await using var h = new Harness();
        var spec = WithSchedule(Worker(), 100);
        spec = spec with { Restart = spec.Restart with { Limit = new CrashLoopLimit(1, TimeSpan.FromMinutes(1), LimitAction.Stop) } };
        var unit = h.Sup.Start(spec);
        var (p, _) = await h.Running(0);
        await h.Crash<BackingOff>(p);
        await h.ThroughDelay(unit, Ms(100), 1);
        (p, _) = await h.Running(1);

        var (exited, gaveUp) = await h.Crash<GaveUp>(p);
        Assert.Equal(UnitState.Failed, exited.State);
        Assert.Equal(UnitState.Failed, unit.State);
        Assert.Equal("crash loop: 1 restarts within 1m (limit 1); stopping as restart.limit.then is stop; start it again with 'vigil start worker'", gaveUp.Reason);
        Assert.Equal(0, h.Time.PendingTimers);
        Assert.Equal(0, h.Time.Advance(TimeSpan.FromHours(1)));
        Assert.Equal(2, h.Launcher.SpawnCount);

        await unit.StartAsync().WaitAsync(Wait);
        var (_, spawned) = await h.Running(2);
        Assert.Equal(2, spawned.RestartCount);
    }

    [Fact]
    public async Task Restart_max_is_a_lifetime_cap_a_long_run_and_a_requested_restart_do_not_reset()
    {
        await using var h = new Harness();
        var spec = WithSchedule(Worker(), 100);
        spec = spec with { Restart = spec.Restart with { Max = 2 } };
        var unit = h.Sup.Start(spec);
        var (p, _) = await h.Running(0);
        await h.Crash<BackingOff>(p);
        await h.ThroughDelay(unit, Ms(100), 1);
        (p, _) = await h.Running(1);
        // A run past resetAfter starts the schedule over, not the cap.
        h.Time.Advance(TimeSpan.FromHours(1));
        await h.Crash<BackingOff>(p);
        await h.ThroughDelay(unit, Ms(100), 2);
        (p, _) = await h.Running(2);
        // Nor does an operator's restart.
        await unit.RestartAsync().WaitAsync(Wait);
        (p, _) = await h.Running(3);

        var (exited, gaveUp) = await h.Crash<GaveUp>(p);
        Assert.Equal(UnitState.Failed, exited.State);
        Assert.Equal("restart.max: 2 restart(s) in the unit's life, the cap is 2; start it again with 'vigil start worker'", gaveUp.Reason);
        Assert.Equal(0, h.Time.PendingTimers);
        Assert.Equal(4, h.Launcher.SpawnCount);
    }

    // ---- stopping -------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Stop_while_waiting_to_restart_cancels_the_pending_restart(bool inSlowRetry)
    {
        await using var h = new Harness();
        var spec = WithSchedule(Worker(), 100);
        if (inSlowRetry) spec = spec with { Restart = spec.Restart with { Limit = new CrashLoopLimit(0, TimeSpan.FromMinutes(1)) } };
        var unit = h.Sup.Start(spec);
        var (p, _) = await h.Running(0);
        var exited = inSlowRetry ? (await h.Crash<SlowRetrying>(p)).Exited : (await h.Crash<BackingOff>(p)).Exited;
        Assert.Equal(inSlowRetry ? UnitState.SlowRetry : UnitState.Backoff, unit.State);

        var result = await unit.StopAndWaitAsync().WaitAsync(Wait);
        var stopped = await h.Next<Stopped>(exited);
        Assert.Null(result.Pid);
        Assert.Equal(1, result.Exit?.Code);
        Assert.True(result.Clean);
        Assert.Null(stopped.Pid);
        Assert.Equal(UnitState.Stopped, unit.State);
        Assert.Null(unit.Snapshot.NextRestartIn);

        // Far past the restart time. The unit does not cancel its Task.Delay (a generation number makes the expiry
        // stale instead), so the timer does fire here; what matters is that it starts nothing.
        h.Time.Advance(TimeSpan.FromHours(1));
        await h.Settle(unit);
        Assert.Equal(1, h.Launcher.SpawnCount);
        Assert.Equal(UnitState.Stopped, unit.State);
        Assert.DoesNotContain(h.Rec.Events, e => e is Spawned s && s.Pid != p.Pid);
    }

    [Fact]
    public async Task Stop_of_a_process_that_obeys_TERM_needs_no_escalation()
    {
        await using var h = new Harness();
        var unit = h.Sup.Start(Worker());
        var (p, _) = await h.Running(0);

        var result = await unit.StopAndWaitAsync().WaitAsync(Wait);
        Assert.Equal([Signals.SIGTERM], p.Signals); // SIGCONT found it gone already
        Assert.Equal(p.Pid, result.Pid);
        Assert.Equal(ExitStatus.Killed(Signals.SIGTERM), result.Exit);
        Assert.Empty(result.Killed);
        Assert.True(result.Clean);

        var requested = await h.Next<StopRequested>();
        Assert.Equal(Signals.SIGTERM, requested.Signal);
        var exited = await h.Next<Exited>(requested);
        Assert.True(exited.Expected);
        Assert.Equal(UnitState.Stopping, exited.State);
        await h.Next<Stopped>(exited);
        Assert.DoesNotContain(h.Rec.Events, e => e is StopEscalated);
        Assert.Equal(UnitState.Stopped, unit.State);
        Assert.Equal(0, h.Time.PendingTimers); // nothing scheduled: no restart after a requested stop
    }

    [Fact]
    public async Task Process_ignoring_TERM_gets_SIGKILL_only_after_the_grace_period()
    {
        await using var h = new Harness();
        h.Launcher.NextBehaviour = FakeStopBehaviour.IgnoresTerm;
        var unit = h.Sup.Start(Worker() with { Stop = StopSpec.Default with { Timeout = TimeSpan.FromSeconds(10) } });
        var (p, _) = await h.Running(0);

        var stopping = unit.StopAndWaitAsync();
        // The fake launcher arms its grace timer before it sends the first signal, so once TERM has arrived the
        // timer exists and the Advance calls below cannot slip in before it.
        await p.Received(Signals.SIGTERM).WaitAsync(Wait);
        var requested = await h.Next<StopRequested>();
        Assert.Equal(UnitState.Stopping, unit.State);

        Assert.Equal(0, h.Time.Advance(TimeSpan.FromSeconds(10) - OneMs));
        Assert.DoesNotContain(Signals.SIGKILL, p.Signals);
        Assert.False(p.HasExited);
        Assert.False(stopping.IsCompleted);
        Assert.Equal(UnitState.Stopping, unit.State);

        Assert.Equal(1, h.Time.Advance(OneMs));
        var escalated = await h.Next<StopEscalated>(requested);
        Assert.Equal([p.Pid], escalated.Killed);
        Assert.Equal(TimeSpan.FromSeconds(10), escalated.Grace);
        Assert.Equal(requested.Time + TimeSpan.FromSeconds(10), escalated.Time);
        Assert.Equal(UnitState.Stopping, escalated.State);
        Assert.Equal("stop-escalated", escalated.Kind);
        Assert.Contains($"sent SIGKILL to 1 process(es): {p.Pid}", escalated.Reason);

        var result = await stopping.WaitAsync(Wait);
        Assert.Equal([Signals.SIGTERM, Signals.SIGCONT, Signals.SIGKILL], p.Signals);
        Assert.Equal(ExitStatus.Killed(Signals.SIGKILL), result.Exit);
        Assert.Equal([p.Pid], result.Killed);
        Assert.Empty(result.Survivors);
        await h.Next<Stopped>(escalated);
        Assert.Equal(UnitState.Stopped, unit.State);
        Assert.Equal(1, h.Launcher.SpawnCount);
    }

    [Fact]
    public async Task Process_that_survives_SIGKILL_is_reported_when_it_finally_exits()
    {
        await using var h = new Harness();
        h.Launcher.NextBehaviour = FakeStopBehaviour.Unkillable;
        var spec = Worker() with { Stop = StopSpec.Default with { Timeout = TimeSpan.FromSeconds(2), KillWait = TimeSpan.FromSeconds(3) } };
        var unit = h.Sup.Start(spec);
        var (p, _) = await h.Running(0);

        var stopping = unit.StopAndWaitAsync();
        await p.Received(Signals.SIGTERM).WaitAsync(Wait);
        Assert.Equal(1, h.Time.Advance(TimeSpan.FromSeconds(2)));
        await p.Received(Signals.SIGKILL).WaitAsync(Wait);
        Assert.Equal(1, h.Time.Advance(TimeSpan.FromSeconds(3)));
        var result = await stopping.WaitAsync(Wait);
        Assert.Equal([p.Pid], result.Survivors);
        var stopped = await h.Next<Stopped>();
        Assert.Equal([p.Pid], stopped.Survivors);
        Assert.Equal(UnitState.Stopped, unit.State);

        // Out of disk sleep at last, it dies of the SIGKILL it got: the unit says so, stays stopped, restarts nothing.
        p.Exit(ExitStatus.Killed(Signals.SIGKILL));
        var exited = await h.Next<Exited>(stopped);
        Assert.Equal(p.Pid, exited.Pid);
        Assert.True(exited.Expected);
        Assert.Equal(UnitState.Stopped, exited.State);
        Assert.Equal(ExitStatus.Killed(Signals.SIGKILL), await unit.WaitForExitAsync().WaitAsync(Wait));
        Assert.Null(unit.Pid);
        Assert.Equal(UnitState.Stopped, unit.State);
        Assert.Equal(0, h.Time.PendingTimers);
        Assert.Equal(1, h.Launcher.SpawnCount);
    }

    // ---- restart --------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Restart_by_name_restarts_every_unit_with_that_name_and_no_other()
    {
        await using var h = new Harness();
        var a = h.Sup.Start(Worker("web"));
        var (pa, _) = await h.Running(0);
        var b = h.Sup.Start(Worker("web"));
        var (pb, _) = await h.Running(1);
        var other = h.Sup.Start(Worker("db"));
        var (po, _) = await h.Running(2);

        Assert.Equal(2, await h.Sup.Restart("web").WaitAsync(Wait));
        var respawned = new[] { await h.Running(3), await h.Running(4) };

        Assert.Equal([Signals.SIGTERM], pa.Signals);
        Assert.Equal([Signals.SIGTERM], pb.Signals);
        Assert.Empty(po.Signals);
        Assert.False(po.HasExited);
        Assert.Equal(po.Pid, other.Pid);
        Assert.Equal(0, other.RestartCount);
        Assert.Equal(respawned.Select(r => r.Process.Pid).Order(), new[] { a.Pid!.Value, b.Pid!.Value }.Order());
        Assert.All(respawned, r => Assert.Equal(1, r.Event.RestartCount));
        // Every respawn happened at once: a restart does not wait a schedule entry.
        Assert.All(h.Launcher.Spawns, s => Assert.Equal(TimeSpan.Zero, s.At));
        Assert.Equal(0, await h.Sup.Restart("nope"));
    }

    [Fact]
    public async Task Restart_resets_the_restart_schedule()
    {
        await using var h = new Harness();
        var unit = h.Sup.Start(Worker());
        var (p, _) = await h.Running(0);
        await h.Crash<BackingOff>(p);
        await h.ThroughDelay(unit, Ms(100), 1);
        (p, _) = await h.Running(1);
        await h.Crash<BackingOff>(p);
        await h.ThroughDelay(unit, Ms(500), 2);
        (p, _) = await h.Running(2);

        await unit.RestartAsync().WaitAsync(Wait);
        (p, _) = await h.Running(3);
        var (_, backoff) = await h.Crash<BackingOff>(p);
        Assert.Equal(Ms(100), backoff.Delay);
        Assert.Equal(1, backoff.Attempt);
    }

    [Fact]
    public async Task Restart_during_backoff_starts_at_once_and_the_old_timer_starts_nothing()
    {
        await using var h = new Harness();
        var unit = h.Sup.Start(WithSchedule(Worker(), 5_000));
        var (p, _) = await h.Running(0);
        var (exited, _) = await h.Crash<BackingOff>(p);                     // restart due at 5s
        Assert.Equal(0, h.Time.Advance(TimeSpan.FromSeconds(2)));

        Assert.Equal(1, await h.Sup.Restart("worker").WaitAsync(Wait));
        (p, var spawned) = await h.Running(1);
        Assert.Equal(exited.Time + TimeSpan.FromSeconds(2), spawned.Time); // at once, not at 5s

        // The restart reset the schedule, so this crash waits 5s again: due at 7s.
        await h.Crash<BackingOff>(p);
        // The first backoff's timer (due at 5s) was disposed by the restart: passing 5s fires nothing and starts nothing.
        Assert.Equal(0, h.Time.Advance(TimeSpan.FromSeconds(3)));
        await h.Settle(unit);
        Assert.Equal(2, h.Launcher.SpawnCount);
        Assert.Equal(UnitState.Backoff, unit.State);

        // The current backoff's own timer still starts the next run at exactly 7s.
        Assert.Equal(0, h.Time.Advance(TimeSpan.FromSeconds(2) - OneMs));
        Assert.Equal(2, h.Launcher.SpawnCount);
        Assert.Equal(1, h.Time.Advance(OneMs));
        var rec = await h.Launcher.Spawn(2).WaitAsync(Wait);
        Assert.Equal(TimeSpan.FromSeconds(7), rec.At);
        await h.Running(2);
    }

    // ---- requests during a stop, failed probes, release, internal errors ------------------------------------------

    private static ProcessSpec Stubborn(TimeSpan grace) => Worker() with { Stop = StopSpec.Default with { Timeout = grace } };

    [Fact]
    public async Task Kill_during_a_graceful_stop_sends_SIGKILL_at_once()
    {
        await using var h = new Harness();
        h.Launcher.NextBehaviour = FakeStopBehaviour.IgnoresTerm;
        var unit = h.Sup.Start(Stubborn(TimeSpan.FromMinutes(5)));
        var (p, _) = await h.Running(0);
        var stopping = unit.StopAndWaitAsync();
        await p.Received(Signals.SIGTERM).WaitAsync(Wait);
        var requested = await h.Next<StopRequested>();

        var killed = await unit.Kill().WaitAsync(Wait);
        Assert.Equal(TimeSpan.Zero, h.Time.Elapsed); // not a moment of the five-minute grace was waited
        Assert.Equal(ExitStatus.Killed(Signals.SIGKILL), killed.Exit);
        Assert.Same(killed, await stopping.WaitAsync(Wait)); // both waiters get the one stop's result
        var kill = await h.Next<StopRequested>(requested);
        Assert.Equal(Signals.SIGKILL, kill.Signal);
        Assert.Equal(UnitState.Stopping, kill.State);
        Assert.Equal("kill requested; sent SIGKILL to the process group", kill.Reason);
        var exited = await h.Next<Exited>(kill);
        Assert.True(exited.Expected);
        await h.Next<Stopped>(exited);
        Assert.Equal(UnitState.Stopped, unit.State);
        Assert.Equal(1, h.Launcher.SpawnCount);
    }

    [Fact]
    public async Task Start_during_a_stop_starts_again_once_the_stop_is_over()
    {
        await using var h = new Harness();
        h.Launcher.NextBehaviour = FakeStopBehaviour.IgnoresTerm;
        var unit = h.Sup.Start(Stubborn(TimeSpan.FromSeconds(10)));
        var (p, _) = await h.Running(0);
        h.Launcher.NextBehaviour = FakeStopBehaviour.Obeys;
        var stopping = unit.StopAndWaitAsync();
        await p.Received(Signals.SIGTERM).WaitAsync(Wait);
        var requested = await h.Next<StopRequested>();

        await unit.StartAsync().WaitAsync(Wait);
        Assert.Equal(UnitState.Restarting, unit.State);
        var redirected = await h.Next<StopRequested>(requested);
        Assert.Null(redirected.Signal);
        Assert.Equal(UnitState.Restarting, redirected.State);
        Assert.Equal("start requested; the stop under way goes on, then it starts again", redirected.Reason);
        Assert.Equal(1, h.Launcher.SpawnCount); // not while the old process is still there

        h.Time.Advance(TimeSpan.FromSeconds(10)); // the grace ends: SIGKILL, the old process goes, the new one starts
        var stopped = await h.Next<Stopped>(redirected);
        Assert.Equal(UnitState.Restarting, stopped.State);
        var spawned = await h.Next<Spawned>(stopped);
        Assert.Equal(1, spawned.RestartCount);
        Assert.Equal(ExitStatus.Killed(Signals.SIGKILL), (await stopping.WaitAsync(Wait)).Exit);
        Assert.Equal(UnitState.Running, unit.State);
        Assert.Equal((await h.Launcher.Spawn(1)).Process!.Pid, unit.Pid);
    }

    [Fact]
    public async Task Stop_during_a_restart_means_no_start_follows()
    {
        await using var h = new Harness();
        h.Launcher.NextBehaviour = FakeStopBehaviour.IgnoresTerm;
        var unit = h.Sup.Start(Stubborn(TimeSpan.FromSeconds(10)));
        var (p, _) = await h.Running(0);
        await unit.RestartAsync().WaitAsync(Wait);
        Assert.Equal(UnitState.Restarting, unit.State);
        var restart = await h.Next<StopRequested>();
        Assert.Equal("restart requested; sent SIGTERM to the process group", restart.Reason);

        var stopping = unit.StopAndWaitAsync();
        var redirected = await h.Next<StopRequested>(restart);
        Assert.Equal(UnitState.Stopping, redirected.State);
        Assert.Equal("stop requested; the stop under way goes on, and no start follows", redirected.Reason);
        h.Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(ExitStatus.Killed(Signals.SIGKILL), (await stopping.WaitAsync(Wait)).Exit);
        await h.Next<Stopped>(redirected);
        await h.Settle(unit);
        Assert.Equal(1, h.Launcher.SpawnCount);
        Assert.Equal(UnitState.Stopped, unit.State);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_failed_probe_stops_the_run_then_the_policy_decides_unless_a_stop_is_requested_meanwhile(bool stopMeanwhile)
    {
        await using var h = new Harness();
        h.Launcher.NextBehaviour = FakeStopBehaviour.IgnoresTerm;
        var unit = h.Sup.Start(WithSchedule(Stubborn(TimeSpan.FromSeconds(10)), 100) with { Health = [TestProbes.Failing("hung: no output for 2m")] });
        var (p, _) = await h.Running(0);
        var unhealthy = await h.Next<Unhealthy>();
        Assert.Equal(UnitState.Running, unhealthy.State); // said while it was still running
        var requested = await h.Next<StopRequested>(unhealthy);
        Assert.Equal(UnitState.StoppingUnhealthy, requested.State);
        Assert.Equal("hung: no output for 2m; sent SIGTERM to the process group", requested.Reason);
        Assert.Equal(UnitState.StoppingUnhealthy, unit.State);

        var stopping = stopMeanwhile ? unit.StopAndWaitAsync() : null;
        if (stopMeanwhile) Assert.Equal(UnitState.Stopping, (await h.Next<StopRequested>(requested)).State);
        h.Time.Advance(TimeSpan.FromSeconds(10));
        var exited = await h.Next<Exited>(requested);
        Assert.True(exited.Expected);
        Assert.EndsWith("(unhealthy: hung: no output for 2m)", exited.Reason);
        if (stopMeanwhile)
        {
            await h.Next<Stopped>(exited);
            await stopping!.WaitAsync(Wait);
            Assert.Equal(UnitState.Stopped, unit.State);
            Assert.DoesNotContain(h.Rec.Events, e => e is BackingOff);
        }
        else
        {
            // A failed run, as after a crash: the schedule's first entry, and no "stopped" (nobody asked for a stop).
            var backoff = await h.Next<BackingOff>(exited);
            Assert.Equal(Ms(100), backoff.Delay);
            Assert.Equal(UnitState.Backoff, unit.State);
            Assert.DoesNotContain(h.Rec.Events, e => e is Stopped);
        }
        Assert.Equal(1, h.Launcher.SpawnCount);
    }

    [Fact]
    public async Task A_released_unit_keeps_its_process_and_its_exit_restarts_nothing()
    {
        await using var h = new Harness();
        var unit = h.Sup.Start(Worker());
        var (p, _) = await h.Running(0);
        unit.Post(new Unit.ReleaseMsg());
        var released = await h.Next<Released>();
        Assert.Equal(p.Pid, released.Pid);
        Assert.Equal("released", released.Kind);
        Assert.Equal(UnitState.Released, unit.State);
        Assert.Empty(p.Signals);

        p.Exit(ExitStatus.Exited(1));
        var exited = await h.Next<Exited>(released);
        Assert.Equal(UnitState.Exited, exited.State);
        Assert.Equal("detached and released: the supervisor has shut down", (await h.Next<NotRestarting>(exited)).Reason);
        Assert.Equal(0, h.Time.PendingTimers);
        Assert.Equal(1, h.Launcher.SpawnCount);
    }

    [Fact]
    public async Task An_internal_error_with_a_process_running_kills_its_tree_ends_stopped_and_the_unit_can_start_again()
    {
        await using var h = new Harness();
        var unit = h.Sup.Start(Worker() with { Health = [TestProbes.Poisoned(runs: 1)] });
        var (p, _) = await h.Running(0);
        var error = await h.Next<InternalError>();
        Assert.Equal(UnitState.Aborting, error.State);
        Assert.Equal(p.Pid, error.Pid);
        Assert.Contains("poisoned gauge", error.Reason);
        var exited = await h.Next<Exited>(error);
        Assert.Equal(UnitState.Aborting, exited.State);
        await h.Next<Stopped>(exited);
        Assert.Equal([Signals.SIGKILL], p.Signals); // no grace for a run whose unit cannot be trusted
        Assert.Equal(UnitState.Stopped, unit.State);
        Assert.Equal(ExitStatus.Killed(Signals.SIGKILL), unit.LastExit);

        await unit.StartAsync().WaitAsync(Wait);
        await h.Running(1);
        Assert.Equal(UnitState.Running, unit.State);
    }

    // ---- the transition table -------------------------------------------------------------------------------------

    [Fact]
    public async Task Every_state_change_of_a_long_life_is_in_the_transition_table()
    {
        await using var h = new Harness();
        var spec = WithSchedule(Worker(), 100) with { Stop = StopSpec.Default with { Timeout = TimeSpan.FromSeconds(1) } };
        spec = spec with { Restart = spec.Restart with { Limit = new CrashLoopLimit(1, TimeSpan.FromMinutes(1), RetryEvery: TimeSpan.FromSeconds(30)) } };
        h.Launcher.FailNext(1);
        var unit = h.Sup.Start(spec);                                        // Initial → Backoff (spawn failed)
        await h.Next<SpawnFailed>();
        await h.ThroughDelay(unit, Ms(100), 1);                              // Backoff → Running
        var (p, _) = await h.Running(1);
        await h.Crash<SlowRetrying>(p);                                      // Running → SlowRetry (limit of 1 used by the failed spawn)
        await h.ThroughDelay(unit, TimeSpan.FromSeconds(30), 2, UnitState.SlowRetry); // SlowRetry → Running
        (p, _) = await h.Running(2);

        h.Launcher.NextBehaviour = FakeStopBehaviour.IgnoresTerm;
        await unit.RestartAsync().WaitAsync(Wait);                           // Running → Restarting → Running
        (p, _) = await h.Running(3);
        var stopping = unit.StopAndWaitAsync();                              // Running → Stopping
        await p.Received(Signals.SIGTERM).WaitAsync(Wait);
        Assert.Equal(1, h.Time.Advance(TimeSpan.FromSeconds(1)));            // escalation
        await stopping.WaitAsync(Wait);                                      // Stopping → Stopped
        h.Launcher.NextBehaviour = FakeStopBehaviour.Obeys;

        await unit.StartAsync().WaitAsync(Wait);                             // Stopped → Running
        (p, _) = await h.Running(4);
        Assert.Equal(0, h.Time.Advance(TimeSpan.FromMinutes(30)));          // a long, healthy run
        await h.Crash<BackingOff>(p);                                        // Running → Backoff
        await unit.StartAsync().WaitAsync(Wait);                             // Backoff → Running (start skips the wait)
        (p, _) = await h.Running(5);
        await unit.Kill().WaitAsync(Wait);                                   // Running → Stopping → Stopped
        Assert.Equal([Signals.SIGKILL], p.Signals);
        await h.Rec.Count<Stopped>(3, timeout: Wait);                        // the recorder has seen the last event

        var moves = h.AssertTransitionsAllowed();
        (UnitState, UnitState)[] expected =
        [
            (UnitState.Initial, UnitState.Backoff), (UnitState.Backoff, UnitState.Running), (UnitState.Running, UnitState.SlowRetry),
            (UnitState.SlowRetry, UnitState.Running), (UnitState.Running, UnitState.Restarting), (UnitState.Restarting, UnitState.Running),
            (UnitState.Running, UnitState.Stopping), (UnitState.Stopping, UnitState.Stopped),
            (UnitState.Stopped, UnitState.Running), (UnitState.Running, UnitState.Backoff), (UnitState.Backoff, UnitState.Running),
            (UnitState.Running, UnitState.Stopping), (UnitState.Stopping, UnitState.Stopped),
        ];
        Assert.Equal(expected, moves.Select(m => (m.From, m.To)));
    }

    [Fact]
    public async Task Stopping_a_unit_that_never_ran_or_already_exited_is_a_move_to_stopped()
    {
        await using var h = new Harness();
        h.Launcher.FailNext(1);
        var unit = h.Sup.Start(WithSchedule(Worker()));
        await h.Next<NotRestarting>();
        Assert.Equal(UnitState.Exited, unit.State);
        var result = await unit.StopAndWaitAsync().WaitAsync(Wait);
        Assert.Null(result.Pid);
        await h.Next<Stopped>();
        // Stopping it again changes nothing and publishes nothing.
        int count = h.Rec.Events.Count;
        await unit.StopAndWaitAsync().WaitAsync(Wait);
        await h.Settle(unit);
        Assert.Equal(count, h.Rec.Events.Count);
        var moves = h.AssertTransitionsAllowed();
        Assert.Equal([(UnitState.Initial, UnitState.Exited), (UnitState.Exited, UnitState.Stopped)], moves.Select(m => (m.From, m.To)));
    }
}
