using System.Globalization;
using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;

namespace Vigil.Supervision;

// The external half of a unit (spec.Attach): Vigil never starts its process, it finds it. A start looks the process up
// (pid, pidfile, systemd MainPID) and adopts it through a pidfd, or waits (state Waiting) and asks again every
// attach.poll. While it runs, a pidfile or service is asked again at the same pace, so a restart by the outside
// manager is followed: the unit drops the old process (it does not touch it) and adopts the new one. When the process
// ends, a pidfile or service unit waits for the next one; a pid unit is exited (nothing can name a successor).
// Lookups run off the loop (systemctl is a process) and post their answer; a generation number makes an answer to an
// earlier lookup stale once the unit has stopped or started again.
public sealed partial class Unit
{
    private int _attachGeneration;
    private ITimer? _attachTimer;
    private string? _waitingWhy; // the reason the last waiting event gave: a repeat is not published again

    /// <summary>The answer of a lookup: the PID found (null: none) and, when none, why.</summary>
    internal sealed record AttachLooked(int Generation, int? Pid, string Why) : Message;

    private AttachSpec AttachSpec => Spec.Attach!;

    /// <summary>Start of an external unit: look the process up now.</summary>
    private void LaunchAttached()
    {
        _waitingWhy = null;
        var lookup = LookUp(AttachSpec);
        int gen = NewAttachGeneration();
        if (lookup.IsCompletedSuccessfully) Follow(lookup.Result with { Generation = gen });
        else
        {
            _waitingWhy = $"looking up {AttachSpec.Describe()}";
            MoveTo(UnitState.Waiting, new AttachWaiting(Now, Id, Name, _waitingWhy));
            Deliver(lookup, gen);
        }
    }

    /// <summary>A lookup's answer: adopt the process it names if it is not the one already watched; else wait or keep on.</summary>
    private void Follow(AttachLooked looked)
    {
        var current = _process;
        if (looked.Pid is { } pid && pid != current?.Pid)
        {
            IProcessHandle? found = null;
            string why;
            try { found = _launcher.Attach(pid); why = ""; }
            catch (ArgumentException e) { why = $"{AttachSpec.Describe()} names {pid}, which is not running ({e.Message})"; }
            if (found is not null)
            {
                if (current is not null)
                {
                    // The outside manager replaced it: forget the old process (ours to watch, not to kill).
                    Unbind(current, ExitStatus.NotCollected);
                    Note(new Reattached(Now, Id, Name, pid, _state, current.Pid, AttachSpec.Describe()));
                }
                Adopt(found);
                SchedulePoll();
                return;
            }
            looked = looked with { Why = why };
        }
        if (current is null)
        {
            if (!AttachSpec.Follows)
            {
                MoveTo(UnitState.Exited, new NotRestarting(Now, Id, Name, looked.Why.Length > 0 ? looked.Why : $"{AttachSpec.Describe()} is not running"));
                return;
            }
            Wait(looked.Why);
        }
        SchedulePoll();
    }

    /// <summary>No process to watch: state Waiting, with an event when the reason is new.</summary>
    private void Wait(string why)
    {
        if (_state == UnitState.Waiting && why == _waitingWhy) return;
        _waitingWhy = why;
        MoveTo(UnitState.Waiting, new AttachWaiting(Now, Id, Name, why));
    }

    /// <summary>After the watched process ended (or was killed by a probe's action): the next state and its event.</summary>
    private UnitState AfterAttachedRun(out UnitEvent ev)
    {
        if (AttachSpec.Follows)
        {
            _waitingWhy = $"{AttachSpec.Describe()}: waiting for its manager to start it again";
            ev = new AttachWaiting(Now, Id, Name, _waitingWhy);
            SchedulePoll(NewAttachGeneration());
            return UnitState.Waiting;
        }
        ev = new NotRestarting(Now, Id, Name, "attached process: Vigil did not start it and does not restart it");
        return UnitState.Exited;
    }

    /// <summary>Invalidates pending lookups and their timer (a stop, a new start).</summary>
    private int NewAttachGeneration()
    {
        _attachTimer?.Dispose();
        _attachTimer = null;
        return ++_attachGeneration;
    }

    private void SchedulePoll(int? generation = null)
    {
        if (!AttachSpec.Follows) return;
        // A probe-reported PID is not asked for while the process runs: the probe's own checks see a new one (a
        // notice), and the end of the old process makes the unit wait and ask again.
        if (AttachSpec.Probe is not null && _process is not null) return;
        int gen = generation ?? _attachGeneration;
        _attachTimer?.Dispose();
        _attachTimer = _time.CreateTimer(static s =>
        {
            var (u, g) = ((Unit, int))s!;
            u.Deliver(u.LookUp(u.AttachSpec), g);
        }, (this, gen), AttachSpec.Poll, Timeout.InfiniteTimeSpan);
    }

    private void Deliver(Task<AttachLooked> lookup, int gen) =>
        _ = lookup.ContinueWith(t => Post(t.IsCompletedSuccessfully ? t.Result with { Generation = gen } : new AttachLooked(gen, null,
            $"{AttachSpec.Describe()}: {t.Exception?.InnerException?.Message ?? "lookup failed"}")), TaskScheduler.Default);

    private Task<AttachLooked> LookUp(AttachSpec spec) => spec.Probe is { } kind ? AskProbeAsync(kind) : LookUp(spec, _launcher, _time);

    /// <summary>attach: { probe: KIND }: asks the provider of the unit's KIND probe which PID answers (bounded by the
    /// probe's timeout, at least 1 s).</summary>
    private async Task<AttachLooked> AskProbeAsync(string kind)
    {
        var probe = Spec.Health.First(h => h.Check.Kind == kind);
        if (_owner.Options.ProbeProviders.OfType<IPidSource>().FirstOrDefault() is not { } source)
            return new(0, null, $"no {kind} probe provider can ask the process for its pid");
        var bound = probe.Timeout > TimeSpan.FromSeconds(1) ? probe.Timeout : TimeSpan.FromSeconds(1);
        using var cts = new CancellationTokenSource(bound, _time);
        try
        {
            var (pid, why) = await source.ReportedPidAsync(probe, Name, cts.Token).ConfigureAwait(false);
            return new(0, pid, pid is null ? $"{AttachSpec.Describe()}: {why}" : "");
        }
        catch (OperationCanceledException) { return new(0, null, $"{AttachSpec.Describe()}: no reply within {Durations.Format(bound)}"); }
    }

    /// <summary>Which PID <paramref name="spec"/> names now. Completes at once for pid and pidfile; systemd runs systemctl
    /// (bounded by 10 s).</summary>
    internal static Task<AttachLooked> LookUp(AttachSpec spec, ILauncher launcher, TimeProvider time)
    {
        if (spec.Pid is { } pid) return Task.FromResult(new AttachLooked(0, pid, ""));
        if (spec.PidFile is { } file) return Task.FromResult(ReadPidFile(file));
        return SystemdMainPidAsync(spec.Systemd!, launcher, time);
    }

    /// <summary>The first line of a pidfile as a PID (daemons write <c>4121\n</c>).</summary>
    internal static AttachLooked ReadPidFile(string file)
    {
        string text;
        try
        {
            using var r = new StreamReader(file);
            text = r.ReadLine() ?? "";
        }
        catch (FileNotFoundException) { return new(0, null, $"pidfile {file} does not exist"); }
        catch (DirectoryNotFoundException) { return new(0, null, $"pidfile {file} does not exist"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return new(0, null, $"pidfile {file} cannot be read: {e.Message}"); }
        return int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0
            ? new(0, pid, "")
            : new(0, null, text.Trim().Length == 0 ? $"pidfile {file} is empty" : $"pidfile {file} holds '{Shorten(text.Trim())}', not a PID");
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";

    private static async Task<AttachLooked> SystemdMainPidAsync(string service, ILauncher launcher, TimeProvider time)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10), time);
        var outcome = await CommandRunner.RunAsync(launcher, ["systemctl", "show", "-p", "MainPID", "--value", service], Environment.CurrentDirectory,
            null, time, cts.Token).ConfigureAwait(false);
        if (!outcome.Succeeded)
            return new(0, null, $"systemctl show {service}: {(outcome.Exit is { } e ? e.ToString() : outcome.Error)}{(outcome.Output.Length > 0 ? ": " + outcome.FirstLines(1) : "")}");
        // MainPID=0: the service is not running (or has no main process).
        return int.TryParse(outcome.Output.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0
            ? new(0, pid, "")
            : new(0, null, $"systemd {service} has no main process (MainPID={Shorten(outcome.Output.Trim())})");
    }
}

/// <summary>An external unit has no process to watch: its pidfile or service names none that runs. It is asked again
/// every <c>attach.poll</c>; nothing is started.</summary>
public sealed record AttachWaiting(DateTimeOffset Time, int UnitId, string Name, string Why)
    : UnitEvent(Time, UnitId, Name, null, UnitState.Waiting)
{
    public override string Kind => "waiting";
    public override string Reason => Why;
}

/// <summary>An external unit's pidfile or service now names another process (its manager restarted it): Vigil watches
/// the new one.</summary>
public sealed record Reattached(DateTimeOffset Time, int UnitId, string Name, int? Pid, UnitState State, int OldPid, string Source)
    : UnitEvent(Time, UnitId, Name, Pid, State)
{
    public override string Kind => "reattached";
    public override string Reason => $"{Source} now names {Pid} (was {OldPid}): restarted by its manager; watching the new process";
}
