using System.Collections.Immutable;
using Vigil.Specs;

namespace Vigil.Tests.Support;

/// <summary>The real child program (tests/fixtures/Vigil.Fixture), copied next to the tests by the project reference.</summary>
public static class Fixture
{
    public static string Path { get; } = System.IO.Path.Combine(AppContext.BaseDirectory, "vigil-fixture");

    public static ProcessSpec Spec(string name, params string[] steps) => new()
    {
        Name = name,
        Command = [Path, .. steps],
    };

    public static ProcessSpec WithSchedule(this ProcessSpec s, params int[] ms) =>
        s with { Restart = s.Restart with { Schedule = [.. ms.Select(m => TimeSpan.FromMilliseconds(m))] } };

    public static ProcessSpec WithStop(this ProcessSpec s, TimeSpan timeout, TimeSpan? killWait = null) =>
        s with { Stop = s.Stop with { Timeout = timeout, KillWait = killWait ?? s.Stop.KillWait } };

    public static ImmutableArray<string> Steps(params string[] s) => [.. s];
}
