using System.Collections.Immutable;
using CsCheck;
using Vigil.Health;
using Vigil.Specs;
using Vigil.Tether;

namespace Vigil.Tests.Config;

/// <summary>Generated valid specs with every key a config can hold, and strings chosen to trip a YAML writer.</summary>
public static class SpecGen
{
    static readonly Gen<char> Char = Gen.Frequency(
        (6, Gen.Char['a', 'z']),
        (2, Gen.Char["0123456789.-_/"]),
        (3, Gen.Char[" :#'\"\\,[]{}&*!|>%@`?=~\t\n\r"]),
        (1, Gen.Char["éü✓€\u00a0\u0085\u2028\ufeff\u0001\u001b\u007f"]));

    static readonly string[] Tricky =
        ["", "yes", "no", "on", "off", "y", "true", "False", "null", "NULL", "~", "1e3", "0x1F", "-5", ".5", "1:20", "2024-01-01",
         ".inf", "-.nan", "<<", "=", ": x", "#", "- a", "? b", "---", "...", " ", "a\nb", "\n", "'", "\"", "%YAML 1.2", "{}", "[]"];

    /// <summary>Any string without NUL (which validation refuses).</summary>
    public static readonly Gen<string> Str = Gen.Frequency((3, Gen.String[Char, 0, 12]), (1, Gen.OneOf(Tricky)));

    static readonly Gen<string> NonBlank = Str.Where(s => !string.IsNullOrWhiteSpace(s));

    static readonly Gen<string> AbsPath = Gen.String[Gen.Char["abc/ :#é.-\n"], 0, 16].Select(s => Path.GetFullPath("/" + s));

    /// <summary>Whole seconds, milliseconds or ticks; never past the timer bound.</summary>
    static Gen<TimeSpan> Duration(TimeSpan max, bool zero = true) => Gen.Frequency(
        (3, Gen.Long[zero ? 0 : 1, (long)max.TotalSeconds].Select(s => TimeSpan.FromSeconds(s))),
        (3, Gen.Long[zero ? 0 : 1, (long)Math.Min(max.TotalMilliseconds, 100_000_000)].Select(ms => TimeSpan.FromMilliseconds(ms))),
        (1, Gen.Long[zero ? 0 : 1, 100_000_000].Select(t => TimeSpan.FromTicks(t))));

    static readonly Gen<TimeSpan> Timer = Duration(Limits.MaxTimerWait, zero: false);

    static readonly Gen<ImmutableArray<string>> Argv = Gen.Select(NonBlank, Str.Array[0, 4], (a, rest) => ImmutableArray.Create([a, .. rest]));

    static readonly Gen<RestartSpec> Restart = Gen.Select(
        Gen.OneOf(RestartPolicyKind.Always, RestartPolicyKind.OnFailure, RestartPolicyKind.Never),
        Duration(TimeSpan.FromDays(400)).Array[0, 6].Null(0.3),
        Duration(TimeSpan.FromDays(30), zero: false),
        Gen.Select(Duration(TimeSpan.FromHours(1)), Gen.Double[1, 10], Gen.Long[0, 1_000_000], Gen.Double[0, 1],
            (init, mul, extra, jitter) => new BackoffSpec(init, mul, init + TimeSpan.FromMilliseconds(extra), jitter)).Null(0.6),
        Gen.Select(Gen.Int[0, 100], Timer, Gen.Bool, Timer.Nullable(0.5),
            (n, within, stop, every) => new CrashLoopLimit(n, within, stop ? LimitAction.Stop : LimitAction.SlowRetry, stop ? null : every)).Null(0.5),
        (policy, schedule, reset, backoff, limit) => new RestartSpec
        {
            Policy = policy,
            Schedule = backoff is null && schedule is not null ? [.. schedule] : RestartSpec.DefaultSchedule,
            ResetAfter = reset, Backoff = backoff, Limit = limit,
        });

    static readonly Gen<StopSpec> Stop = Gen.Select(Gen.Int[1, 64], Duration(Limits.MaxTimerWait), Timer,
        (sig, t, k) => new StopSpec { Signal = sig, Timeout = t, KillWait = k });

    static readonly Gen<LogSpec> Log = Gen.Select(Gen.Int[0, 2], AbsPath, AbsPath, Gen.Bool.Array[4], Gen.Long[4096, 1L << 42].Nullable(0.5),
        Gen.Int[1, 1000], Gen.Int[1, Limits.MaxLineBytes], Gen.Int[0, 100_000],
        (files, a, b, flags, max, keep, line, ring) => new LogSpec
        {
            File = files == 1 ? a : null, Out = files == 2 ? a : null, Err = files == 2 ? b : null,
            Timestamps = flags[0], Stream = flags[1], Prefix = flags[2], StripAnsi = flags[3],
            MaxSize = max, Keep = keep, MaxLine = line, RingLines = ring,
        });

    static readonly Gen<Uri> Url = Gen.Select(Gen.OneOf("http", "https"), Gen.OneOf("127.0.0.1", "[::1]", "example.org"), Gen.Int[1, 65535], Gen.String[Gen.Char["abc/?=&#%:"], 0, 10],
        (scheme, host, port, path) => new Uri($"{scheme}://{host}:{port}/{path}"));

    static readonly Gen<ProbeCheck> Check = Gen.OneOf<ProbeCheck>(
        Argv.Select(c => (ProbeCheck)new ExecCheck(c)),
        Gen.Select(Url, Gen.Int[100, 599], Gen.Int[0, 100], Str.Null(0.5), (u, lo, span, body) => (ProbeCheck)new HttpCheck(u) { StatusMin = lo, StatusMax = Math.Min(599, lo + span), BodyContains = body }),
        Gen.Select(Gen.OneOf("127.0.0.1", "::1", "db.lan", "fe80::1%eth0"), Gen.Int[1, 65535], (h, p) => (ProbeCheck)new TcpCheck(h, p)),
        AbsPath.Select(p => (ProbeCheck)new HeartbeatFileCheck(p)),
        Gen.Const<ProbeCheck>(new OutputStallCheck()),
        Gen.OneOf<ProgressSource>(
            Argv.Select(c => (ProgressSource)new ProgressSource.Exec(c)),
            AbsPath.Select(p => (ProgressSource)new ProgressSource.FileSize(p)),
            AbsPath.Select(p => (ProgressSource)new ProgressSource.FileLines(p)),
            Gen.Select(Url, NonBlank, (u, f) => (ProgressSource)new ProgressSource.HttpJson(u, f)),
            Gen.Select(Gen.Bool, NonBlank, NonBlank, (pg, c, q) => (ProgressSource)new ProgressSource.Sql(pg ? SqlProvider.Postgres : SqlProvider.Sqlite, c, q)))
            .Select(s => (ProbeCheck)new ProgressCheck(s)),
        Gen.Long[1, 1L << 50].Select(b => (ProbeCheck)new MemoryCheck(b)),
        Gen.Select(Gen.Double[0.001, 10_000].Nullable(0.3), Gen.Double[0, 100].Nullable(0.3), Timer,
            (max, min, w) => (ProbeCheck)new CpuCheck(max ?? (min is null ? 50 : null), min, w)),
        Gen.Select(Timer.Nullable(0.3), Gen.Bool, (w, all) => (ProbeCheck)new SdNotifyCheck(w) { Access = all ? NotifyAccess.All : NotifyAccess.Main }),
        Gen.Select(Str.Null(0.3), Str, Duration(Limits.MaxTimerWait), (a, r, g) => (ProbeCheck)new TetherCheck(a) { Role = r, Grace = g }));

    static readonly Gen<ProbeSpec> Probe = Gen.Select(Check, Gen.Int[0, 2], Gen.Int[0, 3], Argv, Gen.Select(Timer.Nullable(0.5), Timer.Nullable(0.5), Duration(Limits.MaxTimerWait).Nullable(0.6)),
        Gen.Int[1, Limits.MaxThreshold].Nullable(0.5), Gen.Int[1, Limits.MaxThreshold].Nullable(0.7),
        (check, role, action, actionCmd, times, fail, success) =>
        {
            var p = new ProbeSpec(check) { Role = (ProbeRole)role, Action = (ProbeAction)action };
            if (p.Action == ProbeAction.Exec) p = p with { ActionCommand = actionCmd };
            var (period, timeout, delay) = times;
            if (period is { } pe) p = p with { Period = pe };
            if (timeout is { } t) p = p with { Timeout = t };
            if (delay is { } d) p = p with { InitialDelay = d };
            if (fail is { } f) p = p with { FailureThreshold = f };
            if (success is { } s && p.Role != ProbeRole.Startup) p = p with { SuccessThreshold = s };
            return p;
        });

    static readonly Gen<ImmutableDictionary<string, string?>> Env =
        Gen.Select(Str.Where(k => k.Length > 0 && !k.Contains('=')), Str.Null(0.2)).Array[0, 5]
            .Select(kv => kv.DistinctBy(e => e.Item1).ToImmutableDictionary(e => e.Item1, e => e.Item2, StringComparer.Ordinal));

    /// <summary>A valid spec: unique probe names (the loader names repeated ones itself).</summary>
    public static readonly Gen<ProcessSpec> Spec = Gen.Select(
        Str.Where(s => s.Length > 0).Null(0.3), Gen.Bool, Argv, Str.Array[0, 3], AbsPath.Null(0.5), Env, Gen.Int[0, 5],
        Gen.Select(Restart, Stop, Log.Null(0.5), Probe.Array[0, 4]),
        (name, script, argv, args, cwd, env, flags, rest) =>
        {
            // detach in the low bit; ipc unset, true or false above it.
            bool detach = (flags & 1) == 1;
            bool? ipc = (flags >> 1) switch { 0 => null, 1 => true, _ => false };
            var (restart, stop, log, probes) = rest;
            var health = probes.Select((p, i) => p with { Name = $"{p.Check.Kind}-{i}" }).ToImmutableArray();
            return new ProcessSpec
            {
                Name = name,
                Command = script ? [] : argv,
                Script = script ? argv[0] : null,
                Args = [.. args], Cwd = cwd, Env = env, Detach = detach, Ipc = ipc,
                Restart = restart, Stop = stop, Log = log, Health = health,
            };
        }).Where(s => s.Validate().Count == 0);

    /// <summary>The keys issue 14's Ligato part added: autostart, cpuAffinity, restart.max, log.echo.</summary>
    static readonly Gen<CpuAffinity> Affinity = Gen.Select(Gen.Int[0, 300].Array[1, 6], Duration(TimeSpan.FromHours(1)),
        (cpus, delay) => new CpuAffinity { Cpus = [.. cpus.Distinct().Order()], Delay = delay });

    /// <summary><see cref="Spec"/> with the Ligato keys too.</summary>
    public static readonly Gen<ProcessSpec> LigatoSpec = Gen.Select(Spec, Gen.Bool, Affinity.Null(0.5), Gen.Int[0, 50].Nullable(0.5), Gen.Int[0, 3],
        (spec, autostart, affinity, max, echo) => spec with
        {
            Autostart = autostart, CpuAffinity = affinity, Restart = spec.Restart with { Max = max },
            Log = echo == 0 ? spec.Log : (spec.Log ?? LogSpec.Default) with { Echo = (LogEcho)echo },
        });
}
