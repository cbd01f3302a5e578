namespace Vigil.Tether.MessagePack;

/// <summary>Input that is not valid MessagePack, or not within the decoder's limits. The message names the byte
/// offset where the problem was found, which <see cref="Offset"/> also holds.</summary>
public sealed class MessagePackException(string message, long offset) : FormatException(message)
{
    /// <summary>Byte offset into the input where decoding stopped.</summary>
    public long Offset { get; } = offset;
}
