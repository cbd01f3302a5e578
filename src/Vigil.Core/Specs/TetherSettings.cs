namespace Vigil.Specs;

/// <summary>The MQTT broker <c>kind: tether</c> probes use (top-level <c>tether:</c> in config). Defaults are
/// Tether's own: localhost:1883, user tether, password sp_ceB0ss!.</summary>
public sealed record TetherSettings
{
    public static TetherSettings Default { get; } = new();
    public string Host { get; init; } = "localhost";
    public int Port { get; init; } = 1883;
    public string? Username { get; init; } = "tether";
    public string? Password { get; init; } = "sp_ceB0ss!";
}
