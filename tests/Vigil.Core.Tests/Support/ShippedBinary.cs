using System.Diagnostics;
using Xunit;

namespace Vigil.Tests.Support;

/// <summary>
/// The Native AOT executable scripts/publish builds, for the tests of what ships (diagnostic IPC, install, package):
/// <c>VIGIL_AOT=/path/to/vigil</c>. .ci/run publishes it and sets the variable; elsewhere these tests are skipped
/// when it is not set, never in CI (<c>VIGIL_CI_RUN</c>), where its absence fails them.
/// </summary>
public static class ShippedBinary
{
    /// <summary>Set by .ci/run for every test it runs.</summary>
    public static bool InCi => Environment.GetEnvironmentVariable("VIGIL_CI_RUN") is { Length: > 0 };

    /// <summary>The published executable, or null when VIGIL_AOT is not set.</summary>
    public static string? PathOrNull => Environment.GetEnvironmentVariable("VIGIL_AOT") is { Length: > 0 } p ? System.IO.Path.GetFullPath(p) : null;

    /// <summary>The published executable; fails the test with the reason when there is none.</summary>
    public static string Path
    {
        get
        {
            var path = PathOrNull ?? throw new InvalidOperationException(
                "VIGIL_AOT is not set: these tests need the Native AOT binary (scripts/publish prints its path; .ci/run sets it)");
            Assert.True(File.Exists(path), $"VIGIL_AOT={path} does not exist");
            return path;
        }
    }

    /// <summary>The repository's root (the folder of Vigil.slnx), for its scripts.</summary>
    public static string Repo { get; } = FindRepo();

    private static string FindRepo()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Vigil.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException("no Vigil.slnx above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs a program to its end (bounded): exit code, stdout, stderr.</summary>
    public static async Task<(int Code, string Out, string Err)> Run(string program, IEnumerable<string> args,
        IReadOnlyDictionary<string, string?>? env = null, string? cwd = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(program, args)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
            WorkingDirectory = cwd ?? Environment.CurrentDirectory,
        };
        foreach (var (k, v) in env ?? new Dictionary<string, string?>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEndAsync();
        var err = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(5));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in {timeout ?? TimeSpan.FromMinutes(5)}");
        }
        return (p.ExitCode, await output, await err);
    }
}

/// <summary>A test of the published binary: skipped outside CI when VIGIL_AOT is not set, run (and failing) in CI.</summary>
public sealed class ShippedFactAttribute : FactAttribute
{
    public ShippedFactAttribute()
    {
        if (ShippedBinary.PathOrNull is null && !ShippedBinary.InCi)
            Skip = "needs the Native AOT binary: VIGIL_AOT=$(scripts/publish) dotnet test … (.ci/run sets it)";
    }
}

/// <summary>A test that needs a program on PATH (a shell, a packaging tool): skipped outside CI when it is missing,
/// run (and failing) in CI, which installs it.</summary>
public sealed class NeedsFactAttribute : FactAttribute
{
    public NeedsFactAttribute(string program)
    {
        if (!ShippedBinary.InCi && !OnPath(program))
            Skip = $"{program} is not installed (.ci/run installs it: apt-get install {program})";
    }

    public static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(d => File.Exists(System.IO.Path.Combine(d, program)));
}
