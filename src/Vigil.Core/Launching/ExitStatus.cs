namespace Vigil.Launching;

/// <summary>
/// How a process ended, exactly as waitid(2) told it: an exit code, or a terminating signal (with the core-dump
/// flag). Unlike <c>Process.ExitCode</c> (128+N for signals) an exit(137) and a SIGKILL stay distinct.
/// </summary>
public readonly record struct ExitStatus
{
    public int? Code { get; private init; }
    public int? Signal { get; private init; }
    public bool CoreDumped { get; private init; }
    /// <summary>The kernel's OOM killer sent the SIGKILL (the cgroup's memory.events, else the kernel log said so).</summary>
    public bool OomKilled { get; init; }

    /// <summary>The process was not Vigil's child (attached), so its status could not be collected.</summary>
    public bool Unknown => Code is null && Signal is null;

    public static ExitStatus Exited(int code) => new() { Code = code };
    public static ExitStatus Killed(int signal, bool coreDumped = false) => new() { Signal = signal, CoreDumped = coreDumped };
    public static ExitStatus NotCollected => default;

    /// <summary>A clean exit: code 0.</summary>
    public bool Success => Code == 0;

    public override string ToString() =>
        Code is { } c ? $"exited with code {c}"
        : Signal is { } s ? $"killed by {Signals.Name(s)}{(CoreDumped ? " (core dumped)" : "")}{(OomKilled ? " (oom)" : "")}"
        : "exited (status unknown: not a child of Vigil)";
}
