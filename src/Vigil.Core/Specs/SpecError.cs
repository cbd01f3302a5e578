namespace Vigil.Specs;

/// <summary>
/// One problem with a spec: the key it is about, as a path relative to the spec in config words
/// (<c>restart.policy</c>, <c>health[1].url</c>; empty for the spec as a whole), and what is wrong. The config loader
/// places it at the key's position in the file; the C# API shows it as <c>key: message</c>.
/// </summary>
public sealed record SpecError(string KeyPath, string Message)
{
    /// <summary>The same problem seen from a containing spec: <c>url</c> under <c>health[1]</c> is <c>health[1].url</c>.</summary>
    public SpecError Under(string prefix) => this with { KeyPath = KeyPath.Length == 0 ? prefix : prefix + "." + KeyPath };

    /// <summary><c>key: message</c>, or the message alone when it is about the spec as a whole.</summary>
    public override string ToString() => KeyPath.Length > 0 ? $"{KeyPath}: {Message}" : Message;
}
