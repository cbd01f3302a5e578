using System.Globalization;
using System.Text.Json;

namespace Vigil.Control;

/// <summary>The verbs, one per <see cref="IVigilControl"/> method.</summary>
internal enum Verb { Info, Ls, Status, Start, Stop, Restart, Kill, Signal, Logs, Events, Reload, Add, Remove, Save, Shutdown, Report, Templates, SaveTemplate }

/// <summary>A request line read: either a request checked against its verb, or the error to answer with. <see cref="Id"/>
/// is the client's id when one could be read, even from a request that is otherwise wrong.</summary>
internal sealed record ParsedRequest(long? Id, Verb Verb, ControlRequest? Request, WireError? Error)
{
    public bool Ok => Error is null;
}

/// <summary>
/// Bytes of one request line → a checked request or a clear error (what is wrong and where). A pure function: no I/O,
/// no state; the fuzz tests hold it to answering every input without throwing, hanging or allocating without bound.
/// </summary>
internal static class RequestParser
{
    private static readonly string[] Fields = ["v", "id", "verb", "names", "name", "wait", "signal", "lines", "since", "follow", "dryRun", "unit"];
    private static readonly string[] UnitFields = ["name", "command", "cwd", "env", "restart"];

    // Nesting a request needs: the request, unit, env. A deeper input is refused before it is walked.
    private const int MaxDepth = 8;

    /// <summary>Which fields each verb takes besides <c>v</c> and <c>id</c>; a field outside its verb's list is refused
    /// rather than ignored, so a misspelt or misplaced option never silently does nothing.</summary>
    private static readonly Dictionary<Verb, string[]> Allowed = new()
    {
        [Verb.Info] = [], [Verb.Ls] = [], [Verb.Save] = [], [Verb.Shutdown] = [],
        [Verb.Status] = ["name"],
        [Verb.Start] = ["names", "wait"], [Verb.Stop] = ["names", "wait"], [Verb.Restart] = ["names", "wait"], [Verb.Kill] = ["names", "wait"],
        [Verb.Signal] = ["names", "signal"],
        [Verb.Logs] = ["names", "lines", "since", "follow"],
        [Verb.Events] = ["since", "follow"],
        [Verb.Reload] = ["dryRun"],
        [Verb.Add] = ["unit"],
        [Verb.Remove] = ["names"],
        [Verb.Report] = ["since"],
        [Verb.Templates] = [],
        [Verb.SaveTemplate] = ["name"],
    };

    /// <summary>Parses one request line (without its newline).</summary>
    public static ParsedRequest Parse(ReadOnlySpan<byte> line)
    {
        if (line.Length > ControlProtocol.MaxRequestBytes)
            return Fail(null, ControlErrors.TooLarge, $"request of {line.Length} bytes is over the limit of {ControlProtocol.MaxRequestBytes} bytes");
        if (line.Trim(" \t\r\n"u8).IsEmpty) return Fail(null, ControlErrors.BadRequest, "empty request: a request is one JSON object on one line");
        var scan = Scan(line);
        // The version decides how the rest reads: a request of another version is answered as such, whatever else it holds.
        if (scan.Version is { } v && v != ControlProtocol.Version)
            return new ParsedRequest(scan.Id, default, null, new WireError
            {
                Code = ControlErrors.Unsupported,
                Message = string.Create(CultureInfo.InvariantCulture, $"protocol version {v} is not supported; this vigil speaks version {ControlProtocol.Version}"),
                Versions = ControlProtocol.Versions,
            });
        if (scan.Problem is { } problem) return Fail(scan.Id, ControlErrors.BadRequest, problem, scan.Suggestion);

        ControlRequest? r;
        try { r = JsonSerializer.Deserialize(line, ControlJson.Default.ControlRequest); }
        catch (JsonException e) { return Fail(scan.Id, ControlErrors.BadRequest, Explain(e)); }
        catch (InvalidOperationException) { return Fail(scan.Id, ControlErrors.BadRequest, InvalidText); }
        if (r is null) return Fail(scan.Id, ControlErrors.BadRequest, "a request is a JSON object, not null");
        var id = r.Id;
        if (r.V is null) return Fail(id, ControlErrors.BadRequest, $"missing field 'v' (the protocol version; this vigil speaks {ControlProtocol.Version})");
        if (r.Verb is null) return Fail(id, ControlErrors.BadRequest, "missing field 'verb' (one of " + string.Join(", ", ControlProtocol.Verbs) + ")");
        int index = IndexOf(ControlProtocol.Verbs, r.Verb);
        if (index < 0)
            return Fail(id, ControlErrors.UnknownVerb, $"unknown verb '{Shorten(r.Verb)}' (one of {string.Join(", ", ControlProtocol.Verbs)})",
                Vigil.Config.Suggestions.Nearest(Shorten(r.Verb), ControlProtocol.Verbs));
        var verb = (Verb)index;

        foreach (var field in Present(r))
            if (IndexOf(Allowed[verb], field) < 0)
                return Fail(id, ControlErrors.BadRequest, $"field '{field}' does not apply to verb '{r.Verb}'" +
                    (Allowed[verb].Length == 0 ? $" ('{r.Verb}' takes no fields)" : $" (it takes {string.Join(", ", Allowed[verb])})"));

        if (CheckVerb(verb, r) is { } wrong) return Fail(id, ControlErrors.BadRequest, wrong);
        return new ParsedRequest(id, verb, r, null);
    }

    private static string? CheckVerb(Verb verb, ControlRequest r)
    {
        switch (verb)
        {
            case Verb.Status or Verb.SaveTemplate:
                if (string.IsNullOrEmpty(r.Name)) return $"verb '{r.Verb}' needs field 'name' (a unit's name)";
                break;
            case Verb.Start or Verb.Stop or Verb.Restart or Verb.Kill or Verb.Signal or Verb.Remove:
                if (r.Names is null || r.Names.Count == 0) return $"verb '{r.Verb}' needs field 'names' (unit names, or [\"all\"])";
                break;
            case Verb.Add:
                if (r.Unit is null) return "verb 'add' needs field 'unit' ({\"name\": …, \"command\": [program, args…]})";
                break;
        }
        if (r.Names is { } names)
            for (int i = 0; i < names.Count; i++)
                if (string.IsNullOrEmpty(names[i])) return string.Create(CultureInfo.InvariantCulture, $"names[{i}]: must be a unit's name, not empty or null");
        if (verb == Verb.Signal && r.Signal is not (>= 1 and <= 64))
            return r.Signal is null ? "verb 'signal' needs field 'signal' (a signal number, 1-64)" : $"signal: must be a signal number from 1 to 64, not {r.Signal}";
        if (r.Lines is { } lines && (lines < 0 || lines > ControlProtocol.MaxLogLines))
            return string.Create(CultureInfo.InvariantCulture, $"lines: must be from 0 to {ControlProtocol.MaxLogLines}, not {lines}");
        return null;
    }

    /// <summary>The verb-specific fields a request carries.</summary>
    private static IEnumerable<string> Present(ControlRequest r)
    {
        if (r.Names is not null) yield return "names";
        if (r.Name is not null) yield return "name";
        if (r.Wait is not null) yield return "wait";
        if (r.Signal is not null) yield return "signal";
        if (r.Lines is not null) yield return "lines";
        if (r.Since is not null) yield return "since";
        if (r.Follow is not null) yield return "follow";
        if (r.DryRun is not null) yield return "dryRun";
        if (r.Unit is not null) yield return "unit";
    }

    private readonly record struct ScanResult(int? Version, long? Id, string? Problem, string? Suggestion);

    /// <summary>
    /// A first pass with the low-level reader: the version and id (read even when the rest is wrong, so the error
    /// reply can be matched and the version answered first), then the shape: one object, no unknown or repeated
    /// field at the top and in <c>unit</c>, nothing after it. Errors here name the byte where the input went wrong.
    /// </summary>
    private static ScanResult Scan(ReadOnlySpan<byte> line)
    {
        int? version = null;
        long? id = null;
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = MaxDepth });
        try
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
                return new(null, null, $"a request is a JSON object ({{\"v\":{ControlProtocol.Version},\"verb\":…}}), not {Describe(reader.TokenType)}", null);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            string? problem = null, suggestion = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                reader.Read();
                if (problem is null)
                {
                    if (IndexOf(Fields, name) < 0)
                        (problem, suggestion) = ($"unknown field '{Shorten(name)}'", Vigil.Config.Suggestions.Nearest(Shorten(name), Fields));
                    else if (!seen.Add(name)) problem = $"field '{name}' is given twice";
                }
                if (name == "v" && reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int v) && version is null) version = v;
                else if (name == "id" && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long i) && id is null) id = i;
                else if (name == "unit" && reader.TokenType == JsonTokenType.StartObject)
                {
                    var unitSeen = new HashSet<string>(StringComparer.Ordinal);
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var key = reader.GetString()!;
                        if (problem is null)
                        {
                            if (IndexOf(UnitFields, key) < 0)
                                (problem, suggestion) = ($"unknown field 'unit.{Shorten(key)}'", Vigil.Config.Suggestions.Nearest(Shorten(key), UnitFields));
                            else if (!unitSeen.Add(key)) problem = $"field 'unit.{key}' is given twice";
                        }
                        reader.Read();
                        SkipValue(ref reader);
                    }
                }
                else SkipValue(ref reader);
            }
            // Anything after the object (a second object, stray text) is an error (the reader throws); whitespace is not.
            reader.Read();
            return new(version, id, problem, suggestion);
        }
        catch (JsonException e)
        {
            return new(version, id, Explain(e), null);
        }
        catch (InvalidOperationException)
        {
            // Utf8JsonReader.GetString on an escape that is no valid UTF-16 (a lone surrogate, "\ud800").
            return new(version, id, InvalidText, null);
        }
    }

    private const string InvalidText = "malformed JSON: a string holds an escape that is no valid text (a lone surrogate such as \\ud800)";

    /// <summary>Past the value at the reader (it is on its first token), reading every string in it: a string that is
    /// no valid text (an escaped lone surrogate) throws here, where it can be said so, rather than as a type error later.</summary>
    private static void SkipValue(ref Utf8JsonReader reader)
    {
        if (reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
        {
            if (reader.TokenType == JsonTokenType.String) reader.GetString();
            return;
        }
        int depth = reader.CurrentDepth;
        while (reader.Read() && reader.CurrentDepth > depth)
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName) reader.GetString();
    }

    /// <summary>A JSON error in words: the field and the expected form for a wrong value, else the syntax error and its byte.</summary>
    private static string Explain(JsonException e)
    {
        var path = e.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : null;
        if (path is not null && Expected(path) is { } expected) return $"field '{Shorten(path)}' must be {expected}";
        var text = e.Message;
        int cut = text.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0) cut = text.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut > 0) text = text[..cut];
        // The reader's message quotes the offending input itself, as long as it runs.
        text = Quoting.Clip(text.TrimEnd('.'), 200);
        var at = e.BytePositionInLine is { } b ? string.Create(CultureInfo.InvariantCulture, $" at byte {b}") : "";
        return $"malformed JSON{at}: {Lowercase(text)}";
    }

    /// <summary>What a field's value must look like, by its path (indices removed).</summary>
    private static string? Expected(string path)
    {
        int bracket = path.IndexOf('[');
        var field = bracket >= 0 ? path[..bracket] : path;
        if (field.StartsWith("unit.env.", StringComparison.Ordinal)) return "a string";
        return field switch
        {
            "v" => $"a whole number (the protocol version: {ControlProtocol.Version})",
            "id" => "a whole number",
            "signal" => "a signal number (1-64)",
            "lines" => "a whole number of lines",
            "verb" or "name" or "unit.name" or "unit.cwd" => "a string",
            "unit.restart" => "one of always, on-failure, never",
            "names" or "unit.command" => "an array of strings",
            "wait" or "follow" or "dryRun" => "true or false",
            "since" => "a date and time (ISO 8601, e.g. 2025-01-31T12:00:00Z)",
            "unit" => "an object: {\"name\": …, \"command\": [program, args…], \"cwd\": …, \"env\": {…}, \"restart\": …}",
            "unit.env" => "an object of strings",
            _ => null,
        };
    }

    private static string Describe(JsonTokenType t) => t switch
    {
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "true or false",
        JsonTokenType.Null => "null",
        JsonTokenType.StartObject => "another object",
        _ => t.ToString(),
    };

    private static string Lowercase(string s) => s.Length > 1 && char.IsUpper(s[0]) && !char.IsUpper(s[1]) ? char.ToLowerInvariant(s[0]) + s[1..] : s;

    /// <summary>A client's text quoted in an error: at most 100 characters (a 1 MiB field name would otherwise come back
    /// whole, and cost an edit-distance search), on one line.</summary>
    private static string Shorten(string s) => Quoting.Clip(s, 100);

    private static int IndexOf(IReadOnlyList<string> list, string value)
    {
        for (int i = 0; i < list.Count; i++)
            if (string.Equals(list[i], value, StringComparison.Ordinal)) return i;
        return -1;
    }

    private static ParsedRequest Fail(long? id, string code, string message, string? suggestion = null) =>
        new(id, default, null, new WireError { Code = code, Message = message, Suggestion = suggestion });
}
