using System.Text;
using System.Text.Json;
using Xunit;

namespace Vigil.Control.Tests;

/// <summary>The request parser (a pure function) and the shape of the lines the server writes.</summary>
public sealed class ProtocolTests
{
    static ParsedRequest Parse(string json) => RequestParser.Parse(Encoding.UTF8.GetBytes(json));

    static WireError Error(string json)
    {
        var p = Parse(json);
        Assert.False(p.Ok, $"{json} parsed");
        return p.Error!;
    }

    [Theory]
    [InlineData("""{"v":1,"id":1,"verb":"info"}""", Verb.Info)]
    [InlineData("""{"v":1,"verb":"ls"}""", Verb.Ls)]
    [InlineData("""{"v":1,"id":3,"verb":"status","name":"web"}""", Verb.Status)]
    [InlineData("""{"v":1,"id":4,"verb":"start","names":["web","db"],"wait":false}""", Verb.Start)]
    [InlineData("""{"v":1,"id":5,"verb":"stop","names":["all"]}""", Verb.Stop)]
    [InlineData("""{"v":1,"id":6,"verb":"restart","names":["web"],"wait":true}""", Verb.Restart)]
    [InlineData("""{"v":1,"id":7,"verb":"kill","names":["web"]}""", Verb.Kill)]
    [InlineData("""{"v":1,"id":8,"verb":"signal","names":["web"],"signal":1}""", Verb.Signal)]
    [InlineData("""{"v":1,"id":9,"verb":"logs","names":["web"],"lines":100,"since":"2025-01-31T12:00:00Z","follow":true}""", Verb.Logs)]
    [InlineData("""{"v":1,"id":10,"verb":"events","since":"2025-01-31T12:00:00+01:00","follow":false}""", Verb.Events)]
    [InlineData("""{"v":1,"id":11,"verb":"reload","dryRun":true}""", Verb.Reload)]
    [InlineData("""{"v":1,"id":12,"verb":"add","unit":{"name":"w","command":["python3","w.py"],"cwd":"/srv","env":{"A":"1"},"restart":"never"}}""", Verb.Add)]
    [InlineData("""{"v":1,"id":13,"verb":"remove","names":["w"]}""", Verb.Remove)]
    [InlineData("""{"v":1,"id":14,"verb":"save"}""", Verb.Save)]
    [InlineData(""" { "verb" : "shutdown" , "v" : 1 } """, Verb.Shutdown)]
    [InlineData("""{"v":1,"id":15,"verb":"report"}""", Verb.Report)]
    [InlineData("""{"v":1,"id":16,"verb":"report","since":"2025-01-24T12:00:00Z"}""", Verb.Report)]
    internal void Every_verb_parses(string json, Verb verb)
    {
        var p = Parse(json);
        Assert.True(p.Ok, p.Error?.Message);
        Assert.Equal(verb, p.Verb);
    }

    [Fact]
    public void Fields_arrive_with_their_values()
    {
        var p = Parse("""{"v":1,"id":42,"verb":"add","unit":{"name":"w","command":["python3","w.py"],"cwd":"/srv","env":{"A":"1"},"restart":"on-failure"}}""");
        Assert.Equal(42, p.Id);
        var u = p.Request!.Unit!;
        Assert.Equal("w", u.Name);
        Assert.Equal(["python3", "w.py"], u.Command);
        Assert.Equal("/srv", u.Cwd);
        Assert.Equal("1", u.Env!["A"]);
        Assert.Equal("on-failure", u.Restart);
        var logs = Parse("""{"v":1,"verb":"logs","since":"2025-01-31T12:00:00Z","lines":7}""").Request!;
        Assert.Equal(new DateTimeOffset(2025, 1, 31, 12, 0, 0, TimeSpan.Zero), logs.Since);
        Assert.Equal(7, logs.Lines);
    }

    [Fact]
    public void Report_takes_since_and_nothing_else()
    {
        Assert.Equal("field 'names' does not apply to verb 'report' (it takes since)", Error("""{"v":1,"verb":"report","names":["web"]}""").Message);
        Assert.Equal("field 'follow' does not apply to verb 'report' (it takes since)", Error("""{"v":1,"verb":"report","follow":true}""").Message);
    }

    [Fact]
    public void Another_version_is_answered_first_with_the_versions_spoken()
    {
        // Even with an unknown verb and a malformed rest: the version decides how the rest reads.
        var p = Parse("""{"v":2,"id":5,"verb":"frobnicate","names":7""");
        Assert.Equal(ControlErrors.Unsupported, p.Error!.Code);
        Assert.Equal(5, p.Id);
        Assert.Equal([1], p.Error.Versions);
        Assert.Contains("version 2", p.Error.Message);
        Assert.Contains("speaks version 1", p.Error.Message);
    }

    [Fact]
    public void Malformed_JSON_says_where()
    {
        var e = Error("""{"v":1,"id":3,"verb":"ls" """);
        Assert.Equal(ControlErrors.BadRequest, e.Code);
        Assert.StartsWith("malformed JSON at byte ", e.Message);
        Assert.Equal(3, Parse("""{"v":1,"id":3,"verb":"ls" """).Id); // the id still comes back, for matching
        Assert.Contains("not an array", Error("[1,2]").Message);
        Assert.Contains("empty request", Error("").Message);
        Assert.StartsWith("malformed JSON at byte 20: '{' is invalid after a single JSON value", Error("""{"v":1,"verb":"ls"} {"v":1,"verb":"ls"}""").Message);
        Assert.Contains("malformed JSON", Error("{\"v\":1,\"verb\":\"ls\",\"name\":\"\\ud800\"}").Message);
    }

    [Fact]
    public void A_missing_or_unknown_verb_or_version_is_named()
    {
        Assert.Contains("missing field 'v'", Error("""{"verb":"ls"}""").Message);
        Assert.Contains("missing field 'verb'", Error("""{"v":1}""").Message);
        var unknown = Error("""{"v":1,"verb":"lss"}""");
        Assert.Equal(ControlErrors.UnknownVerb, unknown.Code);
        Assert.Equal("ls", unknown.Suggestion);
        Assert.Contains("unknown verb 'lss'", unknown.Message);
    }

    [Fact]
    public void Wrong_types_name_the_field_and_the_expected_form()
    {
        Assert.Equal("field 'v' must be a whole number (the protocol version: 1)", Error("""{"v":"1","verb":"ls"}""").Message);
        Assert.Equal("field 'names[1]' must be an array of strings", Error("""{"v":1,"verb":"stop","names":["a",2]}""").Message);
        Assert.Equal("field 'wait' must be true or false", Error("""{"v":1,"verb":"stop","names":["a"],"wait":"yes"}""").Message);
        Assert.Contains("field 'since' must be a date and time", Error("""{"v":1,"verb":"events","since":"yesterday"}""").Message);
        Assert.Equal("field 'unit.env.A' must be a string", Error("""{"v":1,"verb":"add","unit":{"name":"a","command":["x"],"env":{"A":1}}}""").Message);
        Assert.Equal("field 'signal' must be a signal number (1-64)", Error("""{"v":1,"verb":"signal","names":["a"],"signal":1.5}""").Message);
    }

    [Fact]
    public void Unknown_repeated_and_misplaced_fields_are_refused_not_ignored()
    {
        var typo = Error("""{"v":1,"verb":"stop","names":["a"],"wiat":false}""");
        Assert.Equal("unknown field 'wiat'", typo.Message);
        Assert.Equal("wait", typo.Suggestion);
        Assert.Equal("unknown field 'unit.comand'", Error("""{"v":1,"verb":"add","unit":{"name":"a","comand":["x"]}}""").Message);
        Assert.Equal("field 'v' is given twice", Error("""{"v":1,"v":1,"verb":"ls"}""").Message);
        Assert.StartsWith("field 'wait' does not apply to verb 'ls'", Error("""{"v":1,"verb":"ls","wait":true}""").Message);
        Assert.StartsWith("field 'names' does not apply to verb 'status'", Error("""{"v":1,"verb":"status","names":["a"]}""").Message);
    }

    [Fact]
    public void Each_verb_checks_what_it_needs()
    {
        Assert.Contains("needs field 'name'", Error("""{"v":1,"verb":"status"}""").Message);
        Assert.Contains("needs field 'names'", Error("""{"v":1,"verb":"stop"}""").Message);
        Assert.Contains("needs field 'names'", Error("""{"v":1,"verb":"remove","names":[]}""").Message);
        Assert.Contains("names[0]: must be a unit's name", Error("""{"v":1,"verb":"kill","names":[""]}""").Message);
        Assert.Contains("needs field 'signal'", Error("""{"v":1,"verb":"signal","names":["a"]}""").Message);
        Assert.Contains("from 1 to 64, not 65", Error("""{"v":1,"verb":"signal","names":["a"],"signal":65}""").Message);
        Assert.Contains("lines: must be from 0 to 100000", Error("""{"v":1,"verb":"logs","lines":-1}""").Message);
        Assert.Contains("needs field 'unit'", Error("""{"v":1,"verb":"add"}""").Message);
    }

    [Fact]
    public void A_line_over_the_limit_is_too_large()
    {
        var big = new byte[ControlProtocol.MaxRequestBytes + 1];
        Assert.Equal(ControlErrors.TooLarge, RequestParser.Parse(big).Error!.Code);
    }

    [Fact]
    public void Deep_nesting_is_refused_before_it_is_walked()
    {
        var deep = """{"v":1,"verb":"ls","x":""" + new string('[', 10_000) + new string(']', 10_000) + "}";
        Assert.Equal(ControlErrors.BadRequest, Error(deep).Code);
    }

    [Fact]
    public void Lines_are_one_line_of_camelCase_JSON_with_nulls_written()
    {
        var row = new UnitInfo { Id = 1, Name = "web\nx", State = "exited", Pid = null, LastExit = "exited with code 3" };
        var line = ControlProtocol.ResultLine(7, (IReadOnlyList<UnitInfo>)[row], ControlJson.Default.IReadOnlyListUnitInfo);
        var text = Encoding.UTF8.GetString(line);
        Assert.Equal(1, text.Count(c => c == '\n'));
        Assert.EndsWith("\n", text);
        Assert.StartsWith("""{"v":1,"id":7,"ok":true,"result":[{""", text);
        Assert.Contains("\"pid\":null", text);
        Assert.Contains("\"uptimeSeconds\":0", text);
        Assert.Contains("\"lastExit\":\"exited with code 3\"", text);
        Assert.Contains("web\\nx", text);

        var item = Encoding.UTF8.GetString(ControlProtocol.ItemLine(null, new LogLine { Text = "a" }, ControlJson.Default.LogLine));
        Assert.StartsWith("""{"v":1,"id":null,"item":{""", item);
        Assert.DoesNotContain("skipped", item); // only on a follower's notice
        Assert.Equal("{\"v\":1,\"id\":3,\"end\":true}\n", Encoding.UTF8.GetString(ControlProtocol.EndLine(3)));

        var error = JsonDocument.Parse(ControlProtocol.ErrorLine(2, new WireError { Code = "no-such-unit", Message = "no unit named 'wbe'", Suggestion = "web" })).RootElement;
        Assert.False(error.GetProperty("ok").GetBoolean());
        Assert.Equal("web", error.GetProperty("error").GetProperty("suggestion").GetString());
        Assert.False(error.GetProperty("error").TryGetProperty("details", out _));
    }

    [Fact]
    public void A_request_the_client_writes_is_one_the_server_reads()
    {
        var request = new ControlRequest { V = 1, Id = 9, Verb = "logs", Names = ["a", "b"], Lines = 5, Follow = true, Since = DateTimeOffset.UnixEpoch };
        var line = ControlProtocol.RequestLine(request);
        Assert.Equal((byte)'\n', line[^1]);
        var p = RequestParser.Parse(line.AsSpan(0, line.Length - 1));
        Assert.True(p.Ok, p.Error?.Message);
        Assert.Equal(request, p.Request! with { Names = request.Names });
        Assert.Equal(["a", "b"], p.Request!.Names);
    }
}
