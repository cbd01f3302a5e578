using Vigil.Control;

namespace Vigil.Cli;

/// <summary>
/// The exit codes every command uses, and the one place a control failure becomes one: scripts rely on them
/// (0 ok, 1 runtime failure, 2 usage or config error, 3 no running Vigil, 4 no unit by that name).
/// </summary>
public static class ExitCodes
{
    public const int Ok = 0, Failure = 1, Usage = 2, NotRunning = 3, NoSuchUnit = 4;

    /// <summary>The exit code for a failed control request.</summary>
    public static int For(ControlException e) => e.Code switch
    {
        ControlErrors.NotRunning => NotRunning,
        ControlErrors.NoSuchUnit => NoSuchUnit,
        // The request itself was wrong (a config that does not load, an add with a bad value, a request too big).
        ControlErrors.ConfigError or ControlErrors.BadRequest or ControlErrors.TooLarge => Usage,
        _ => Failure,
    };

    /// <summary>Says what failed on <paramref name="err"/> (every config error on its own line first, unless the message
    /// says it already) and returns the exit code.</summary>
    public static int Report(ControlException e, TextWriter err)
    {
        foreach (var d in e.Details.Where(d => !e.Message.Contains(d, StringComparison.Ordinal))) err.WriteLine(d);
        var suggestion = e.Suggestion is { } s && !e.Message.Contains(s, StringComparison.Ordinal) ? $"; did you mean '{s}'?" : "";
        err.WriteLine($"vigil: {e.Message}{suggestion}");
        return For(e);
    }
}
