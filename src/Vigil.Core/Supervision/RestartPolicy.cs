using System.Collections.Immutable;
using Vigil.Specs;

namespace Vigil.Supervision;

/// <summary>What the restart policy remembers between runs of one unit.</summary>
/// <param name="Attempt">Index of the next schedule entry (or backoff exponent).</param>
/// <param name="RecentRestarts">Monotonic times of restarts inside the crash-loop window (OTP's add_restart).</param>
/// <param name="SlowRetry">The crash-loop limit was hit; stays until a run lasts resetAfter.</param>
public sealed record RestartHistory(int Attempt, ImmutableArray<TimeSpan> RecentRestarts, bool SlowRetry)
{
    public static readonly RestartHistory Fresh = new(0, [], false);

    /// <summary>Automatic restarts in the unit's whole life, for <see cref="RestartSpec.Max"/>: kept by <see cref="Reset"/>.</summary>
    public int Lifetime { get; init; }

    /// <summary>A fresh schedule, window and slow retry (a long run, a requested restart), keeping <see cref="Lifetime"/>.</summary>
    public RestartHistory Reset() => Lifetime == 0 ? Fresh : Fresh with { Lifetime = Lifetime };
}

/// <summary>How the last run ended, as the policy needs it.</summary>
public readonly record struct RunOutcome(bool Failed, TimeSpan RunDuration);

public enum RestartAction { None, Restart, SlowRetry, GiveUp }

public readonly record struct RestartDecision(RestartAction Action, TimeSpan Delay, string Reason, int RestartsInWindow = 0);

/// <summary>
/// The restart policy as pure functions of (spec, history, outcome, now, random): no clock, no processes, so the
/// tests are tables. The schedule/backoff (how long to wait) and the crash-loop budget (how many restarts in a
/// window) are separate, as in Erlang/OTP; after the budget the unit slows down rather than giving up silently.
/// </summary>
public static class RestartPolicy
{
    public static (RestartDecision Decision, RestartHistory History) Decide(
        RestartSpec spec, RestartHistory history, RunOutcome outcome, TimeSpan now, Func<double>? random = null)
    {
        if (spec.Policy == RestartPolicyKind.Never)
            return (new(RestartAction.None, default, "restart policy is never"), history);
        if (spec.Policy == RestartPolicyKind.OnFailure && !outcome.Failed)
            return (new(RestartAction.None, default, "exited cleanly and restart policy is on-failure"), history);
        if (spec.ScheduleMeansNever)
            return (new(RestartAction.None, default, "restart schedule is empty (never restart)"), history);

        // The lifetime cap comes before everything else: nothing in the unit's life resets it.
        if (spec.Max is { } max && history.Lifetime >= max)
            return (new(RestartAction.GiveUp, default,
                $"restart.max: {history.Lifetime} restart(s) in the unit's life, the cap is {max}"), history);

        // restartOk: a long enough run starts everything over (schedule position, window, slow retry), but the lifetime count.
        if (outcome.RunDuration >= spec.ResetAfter) history = history.Reset();

        var recent = history.RecentRestarts;
        if (spec.Limit is { } limit)
        {
            var cutoff = now - limit.Within;
            recent = recent.RemoveAll(t => t <= cutoff);
            if (history.SlowRetry || recent.Length >= limit.Restarts)
            {
                int count = recent.Length;
                if (limit.Then == LimitAction.Stop)
                    return (new(RestartAction.GiveUp, default,
                        $"crash loop: {count} restarts within {Durations.Format(limit.Within)} (limit {limit.Restarts}); stopping as restart.limit.then is stop",
                        count), history with { RecentRestarts = recent });
                var slow = limit.SlowRetryDelay;
                return (new(RestartAction.SlowRetry, slow,
                    $"crash loop: {count} restarts within {Durations.Format(limit.Within)} (limit {limit.Restarts}); retrying every {Durations.Format(slow)} until a run lasts {Durations.Format(spec.ResetAfter)}",
                    count), history with { RecentRestarts = recent, SlowRetry = true, Lifetime = Saturated(history.Lifetime) });
            }
        }

        var delay = NextDelay(spec, history.Attempt, random);
        var next = new RestartHistory(history.Attempt == int.MaxValue ? int.MaxValue : history.Attempt + 1,
            spec.Limit is null ? [] : recent.Add(now), false) { Lifetime = Saturated(history.Lifetime) };
        return (new(RestartAction.Restart, delay, $"restarting in {Durations.Format(delay)}", recent.Length + 1), next);
    }

    private static int Saturated(int n) => n == int.MaxValue ? n : n + 1;

    /// <summary>Delay before restart number <paramref name="attempt"/> (0-based): the schedule entry (last one repeats) or the backoff.</summary>
    public static TimeSpan NextDelay(RestartSpec spec, int attempt, Func<double>? random = null)
    {
        if (spec.Backoff is { } b)
        {
            // initial × multiplier^attempt, computed in double and clamped before converting so it cannot overflow.
            double ms = b.Initial.TotalMilliseconds * Math.Pow(b.Multiplier, attempt);
            if (double.IsNaN(ms) || ms > b.Max.TotalMilliseconds) ms = b.Max.TotalMilliseconds;
            if (b.Jitter > 0)
            {
                double r = (random ?? Random.Shared.NextDouble)();
                ms *= 1 + b.Jitter * (2 * r - 1);
                ms = Math.Clamp(ms, 0, b.Max.TotalMilliseconds);
            }
            return TimeSpan.FromMilliseconds(Math.Round(ms));
        }
        var s = spec.Schedule;
        return s[Math.Min(attempt, s.Length - 1)];
    }
}
