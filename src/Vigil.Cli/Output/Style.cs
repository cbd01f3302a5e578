namespace Vigil.Cli.Output;

/// <summary>How text is coloured: only on a terminal and never when NO_COLOR is set (no-color.org); plain when piped,
/// so scripts and files never see escape codes.</summary>
public sealed class Style(bool color)
{
    public static Style Plain { get; } = new(false);

    public bool Color { get; } = color;

    /// <summary>True when standard output is a terminal and NO_COLOR is unset or empty.</summary>
    public static bool TerminalColor() =>
        !Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));

    // One colour per unit, as docker compose does; by unit id, so two units of the same name differ too.
    private static readonly string[] Palette = ["\e[36m", "\e[33m", "\e[32m", "\e[35m", "\e[34m", "\e[91m", "\e[92m", "\e[93m"];
    private const string Reset = "\e[0m";

    /// <summary><c>name | </c> in the unit's colour: the prefix of a unit's output line among others.</summary>
    public string UnitPrefix(int unitId, string name) =>
        Color ? $"{Palette[(unitId & int.MaxValue) % Palette.Length]}{name} |{Reset} " : $"{name} | ";

    /// <summary><paramref name="text"/> in the colour of <paramref name="state"/> (a lower-case state name).</summary>
    public string State(string state, string text) => Color && StateColor(state) is { } c ? c + text + Reset : text;

    /// <summary>Green for running, yellow while changing or waiting to restart, red for failed, dim when nothing runs.</summary>
    private static string? StateColor(string state) => state switch
    {
        "running" => "\e[32m",
        "stopping" or "restarting" or "stopping-unhealthy" or "backoff" => "\e[33m",
        "slow-retry" => "\e[35m",
        "failed" or "aborting" => "\e[31m",
        "stopped" or "exited" or "initial" or "released" => "\e[2m",
        _ => null,
    };

    /// <summary><paramref name="text"/> in red (a failed outcome) when colouring.</summary>
    public string Bad(string text) => Color ? "\e[31m" + text + Reset : text;
}
