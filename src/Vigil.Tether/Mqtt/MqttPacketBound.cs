using System.Buffers;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Channel;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Implementations;

namespace Vigil.Tether.Mqtt;

// Overview
//
// MQTTnet 5.2 bounds no packet it receives over MQTT 3.1.1: MqttChannelAdapter.ReceiveAsync reads the fixed header and
// then allocates `new byte[remainingLength]` before reading the body, so five bytes from a hostile broker (a PUBLISH
// announcing 256 MiB) cost 256 MiB. Its MaximumPacketSize option is only the MQTT 5 CONNECT property that asks the
// broker to stay below it; nothing checks what arrives. The adapter factory is the one seam MQTTnet offers for this
// (IMqttClientAdapterFactory, given to MqttClientFactory.CreateMqttClient): it builds the same adapter over the same
// TCP or WebSocket channel as MQTTnet's own MqttClientAdapterFactory, with the channel wrapped in BoundedChannel.
// BoundedChannel follows the MQTT framing of the bytes it hands the adapter (header byte, remaining length, body) and
// fails the read that completes a remaining length over the bound, so the adapter never gets to allocate; the failure
// closes the connection (the client reconnects), as our own client did before MQTTnet.

/// <summary>Makes MQTTnet's channel adapters with every received packet bounded to <see cref="MqttClientOptions.MaxPacketSize"/>.</summary>
internal sealed class BoundedAdapterFactory(int maxPacketSize) : IMqttClientAdapterFactory
{
    public IMqttChannelAdapter CreateClientAdapter(MQTTnet.MqttClientOptions options, MqttPacketInspector packetInspector, IMqttNetLogger logger)
    {
        // As MqttClientAdapterFactory (MQTTnet 5.2), with the channel wrapped.
        IMqttChannel channel = options.ChannelOptions switch
        {
            MqttClientTcpOptions => new MqttTcpChannel(options),
            MqttClientWebSocketOptions ws => new MqttWebSocketChannel(ws),
            var other => throw new NotSupportedException($"MQTT channel {other?.GetType().Name}"),
        };
        var formatter = new MqttPacketFormatterAdapter(options.ProtocolVersion, new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax));
        return new MqttChannelAdapter(new BoundedChannel(channel, maxPacketSize), formatter, logger)
        {
            AllowPacketFragmentation = options.AllowPacketFragmentation,
            PacketInspector = packetInspector,
        };
    }
}

/// <summary>An <see cref="IMqttChannel"/> that refuses a received packet whose remaining length is over a bound, in the
/// read that completes the length: before MQTTnet allocates the body.</summary>
internal sealed class BoundedChannel(IMqttChannel inner, int maxPacketSize) : IMqttChannel
{
    static readonly string[] PacketTypes =
        ["Reserved", "Connect", "ConnAck", "Publish", "PubAck", "PubRec", "PubRel", "PubComp", "Subscribe", "SubAck",
         "Unsubscribe", "UnsubAck", "PingReq", "PingResp", "Disconnect", "Auth"];

    // The framing of the bytes handed on so far: where the next byte belongs. Reads are sequential (MQTTnet's one reader).
    enum Part { Header, Length, Body }
    Part _part;
    byte _header;
    int _length, _lengthBytes, _multiplier;
    long _bodyLeft;

    public X509Certificate2 ClientCertificate => inner.ClientCertificate;
    public EndPoint RemoteEndPoint => inner.RemoteEndPoint;
    public EndPoint LocalEndPoint => inner.LocalEndPoint;
    public bool IsSecureConnection => inner.IsSecureConnection;

    public Task ConnectAsync(CancellationToken cancellationToken)
    {
        _part = Part.Header; // a new connection starts with a new packet
        return inner.ConnectAsync(cancellationToken);
    }

    public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);

    public Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken) =>
        inner.WriteAsync(buffer, isEndOfPacket, cancellationToken);

    public async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        int read = await inner.ReadAsync(buffer, offset, count, cancellationToken).ConfigureAwait(false);
        Follow(buffer.AsSpan(offset, read));
        return read;
    }

    /// <summary>Moves the framing over <paramref name="bytes"/>; throws when a remaining length passes the bound.</summary>
    internal void Follow(ReadOnlySpan<byte> bytes)
    {
        int i = 0;
        while (i < bytes.Length)
        {
            switch (_part)
            {
                case Part.Header:
                    (_header, _length, _lengthBytes, _multiplier, _part) = (bytes[i++], 0, 0, 1, Part.Length);
                    break;
                case Part.Length:
                    byte b = bytes[i++];
                    _length += (b & 0x7F) * _multiplier;
                    _lengthBytes++;
                    // The length only grows: refuse as soon as it is over, even before its last byte.
                    if (_length > maxPacketSize)
                        throw new MqttProtocolViolationException(
                            $"{PacketTypes[_header >> 4]} of {((b & 0x80) == 0 ? "" : "at least ")}{_length} bytes is larger than MaxPacketSize ({maxPacketSize})");
                    if ((b & 0x80) == 0) (_bodyLeft, _part) = (_length, _length == 0 ? Part.Header : Part.Body);
                    else if (_lengthBytes == 4) _part = Part.Header; // malformed: MQTTnet refuses a fifth length byte itself
                    else _multiplier *= 128;
                    break;
                case Part.Body:
                    int take = (int)Math.Min(_bodyLeft, bytes.Length - i);
                    (i, _bodyLeft) = (i + take, _bodyLeft - take);
                    if (_bodyLeft == 0) _part = Part.Header;
                    break;
            }
        }
    }

    public void Dispose() => inner.Dispose();
}
