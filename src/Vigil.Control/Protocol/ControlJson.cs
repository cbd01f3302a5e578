using System.Text.Json;
using System.Text.Json.Serialization;

namespace Vigil.Control;

/// <summary>
/// Every type that crosses the control socket, serialized by source generation (no reflection: the shipping build is
/// Native AOT). camelCase names; enums, where any appear, as strings. Also what <c>--json</c> output should use, so the
/// CLI prints exactly the protocol's shapes.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    MaxDepth = 32,
    GenerationMode = JsonSourceGenerationMode.Metadata | JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(ServerInfo))]
[JsonSerializable(typeof(UnitInfo))]
[JsonSerializable(typeof(UnitDetail))]
[JsonSerializable(typeof(IReadOnlyList<UnitInfo>))]
[JsonSerializable(typeof(IReadOnlyList<UnitDetail>))]
[JsonSerializable(typeof(ActionOutcome))]
[JsonSerializable(typeof(IReadOnlyList<ActionOutcome>))]
[JsonSerializable(typeof(LogLine))]
[JsonSerializable(typeof(IReadOnlyList<LogLine>))]
[JsonSerializable(typeof(EventInfo))]
[JsonSerializable(typeof(IReadOnlyList<EventInfo>))]
[JsonSerializable(typeof(ReloadResult))]
[JsonSerializable(typeof(SaveResult))]
[JsonSerializable(typeof(AddRequest))]
[JsonSerializable(typeof(ReliabilityReport))]
[JsonSerializable(typeof(IReadOnlyList<TemplateInfo>))]
[JsonSerializable(typeof(TemplateSaveResult))]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(WireError))]
public sealed partial class ControlJson : JsonSerializerContext;

/// <summary>A request as it travels (one JSON object per line). Which fields a verb takes is in
/// docs/control-protocol.md; <see cref="RequestParser"/> checks them.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ControlRequest
{
    /// <summary>Protocol version; this one is <see cref="ControlProtocol.Version"/>.</summary>
    public int? V { get; init; }
    /// <summary>Chosen by the client, echoed in the reply (and in every streamed line).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? Id { get; init; }
    public string? Verb { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<string>? Names { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Name { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public bool? Wait { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? Signal { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? Lines { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? Since { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public bool? Follow { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public bool? DryRun { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public AddRequest? Unit { get; init; }
}

/// <summary>The <c>error</c> of a reply.</summary>
public sealed record WireError
{
    public string Code { get; init; } = "";
    public string Message { get; init; } = "";
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Suggestion { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<string>? Details { get; init; }
    /// <summary>For <see cref="ControlErrors.Unsupported"/> versions: the versions this server speaks.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<int>? Versions { get; init; }

    public static WireError From(ControlException e) => new()
    {
        Code = e.Code,
        Message = e.Message,
        Suggestion = e.Suggestion,
        Details = e.Details.Count > 0 ? e.Details : null,
    };

    public ControlException ToException() => new(Code, Message, Suggestion, Details);
}

/// <summary>The protocol's constants and the writing of its lines (requests, replies, stream items).</summary>
public static class ControlProtocol
{
    /// <summary>The version this code speaks (the <c>v</c> of every line).</summary>
    public const int Version = 1;

    /// <summary>Versions this server answers.</summary>
    public static readonly IReadOnlyList<int> Versions = [Version];

    /// <summary>A request line longer than this (without its newline) is refused with <see cref="ControlErrors.TooLarge"/>
    /// and the connection closed.</summary>
    public const int MaxRequestBytes = 1 << 20;

    /// <summary>Most lines of backlog one <c>logs</c> request may ask for.</summary>
    public const int MaxLogLines = 100_000;

    /// <summary>The verbs, one per <see cref="IVigilControl"/> method.</summary>
    public static readonly IReadOnlyList<string> Verbs =
        ["info", "ls", "status", "start", "stop", "restart", "kill", "signal", "logs", "events", "reload", "add", "remove", "save", "shutdown", "report", "templates", "save-template"];

    // Relaxed escaping: text stays readable on the wire (é, →, ', + as they are, for socat users and logs); control
    // characters, quotes and backslashes are still escaped, so a line never holds a raw newline. The "unsafe" is about
    // embedding in HTML, which these lines never are.
    internal static readonly JsonWriterOptions WriterOptions = new()
    {
        Indented = false, SkipValidation = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>One request as a line (with its newline).</summary>
    public static byte[] RequestLine(ControlRequest request) => Line(w => JsonSerializer.Serialize(w, request, ControlJson.Default.ControlRequest));

    /// <summary><c>{"v":1,"id":ID,"ok":true,"result":RESULT}</c> and a newline.</summary>
    public static byte[] ResultLine<T>(long? id, T result, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) => Line(w =>
    {
        Head(w, id);
        w.WriteBoolean("ok", true);
        w.WritePropertyName("result");
        JsonSerializer.Serialize(w, result, type);
        w.WriteEndObject();
    });

    /// <summary><c>{"v":1,"id":ID,"ok":false,"error":{…}}</c> and a newline.</summary>
    public static byte[] ErrorLine(long? id, WireError error) => Line(w =>
    {
        Head(w, id);
        w.WriteBoolean("ok", false);
        w.WritePropertyName("error");
        JsonSerializer.Serialize(w, error, ControlJson.Default.WireError);
        w.WriteEndObject();
    });

    /// <summary>One item of a stream: <c>{"v":1,"id":ID,"item":ITEM}</c> and a newline.</summary>
    public static byte[] ItemLine<T>(long? id, T item, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) => Line(w =>
    {
        Head(w, id);
        w.WritePropertyName("item");
        JsonSerializer.Serialize(w, item, type);
        w.WriteEndObject();
    });

    /// <summary>The server ends a stream: <c>{"v":1,"id":ID,"end":true}</c> and a newline.</summary>
    public static byte[] EndLine(long? id) => Line(w =>
    {
        Head(w, id);
        w.WriteBoolean("end", true);
        w.WriteEndObject();
    });

    private static void Head(Utf8JsonWriter w, long? id)
    {
        w.WriteStartObject();
        w.WriteNumber("v", Version);
        if (id is { } i) w.WriteNumber("id", i);
        else w.WriteNull("id");
    }

    private static byte[] Line(Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions)) write(w);
        // The writer escapes control characters inside strings, so the only newline is this one.
        System.Buffers.BuffersExtensions.Write(buffer, "\n"u8);
        return buffer.WrittenSpan.ToArray();
    }
}
