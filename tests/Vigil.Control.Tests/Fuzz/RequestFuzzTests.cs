using System.Runtime.Versioning;
using System.Text;
using System.Text.Json;
using CsCheck;
using Vigil.Tests.Fuzz;
using Xunit;
using Xunit.Abstractions;

namespace Vigil.Control.Tests.Fuzz;

/// <summary>Issue 11 §1: the request parser (bytes of one line → a request or an error) ends every input in a checked
/// request or a clear error that the server can write back as one line; never another exception, a hang or runaway
/// allocation. bench/fuzz.sh runs it longer (target <c>control</c>).</summary>
[SupportedOSPlatform("linux")]
public sealed class RequestFuzzTests(ITestOutputHelper output)
{
    const string Target = "request";

    static readonly HashSet<string> Codes =
        [ControlErrors.BadRequest, ControlErrors.UnknownVerb, ControlErrors.TooLarge, ControlErrors.Unsupported];

    static FuzzOutcome Parse(byte[] input)
    {
        var p = RequestParser.Parse(input);
        if (p.Error is { } e)
        {
            // A clear error: a known code, a one-line message, and it goes back to the client as one line of JSON.
            if (!Codes.Contains(e.Code) || e.Message.Length == 0 || e.Message.Contains('\n') || e.Message.Length > 2000)
                throw new InvalidOperationException($"unclear error: {e.Code}: {e.Message}");
            var line = ControlProtocol.ErrorLine(p.Id, e);
            if (Array.IndexOf(line, (byte)'\n') != line.Length - 1) throw new InvalidOperationException("the error reply is not one line");
            JsonDocument.Parse(line).Dispose();
            return FuzzOutcome.Error;
        }
        // A request: what the client library would write for it reads back the same.
        var again = RequestParser.Parse(ControlProtocol.RequestLine(p.Request!).AsSpan()[..^1]);
        if (!again.Ok || again.Verb != p.Verb) throw new InvalidOperationException($"a parsed request did not read back: {again.Error?.Message}");
        return FuzzOutcome.Value;
    }

    static readonly string[] Seeds =
    [
        """{"v":1,"id":1,"verb":"info"}""",
        """{"v":1,"id":2,"verb":"ls"}""",
        """{"v":1,"id":3,"verb":"status","name":"web"}""",
        """{"v":1,"id":4,"verb":"start","names":["web","db"],"wait":false}""",
        """{"v":1,"id":5,"verb":"stop","names":["all"],"wait":true}""",
        """{"v":1,"id":6,"verb":"signal","names":["web"],"signal":10}""",
        """{"v":1,"id":7,"verb":"logs","names":["web"],"lines":100,"since":"2025-01-31T12:00:00.123+01:00","follow":true}""",
        """{"v":1,"id":8,"verb":"events","since":"2025-01-31T12:00:00Z","follow":true}""",
        """{"v":1,"id":9,"verb":"reload","dryRun":true}""",
        """{"v":1,"id":10,"verb":"add","unit":{"name":"w","command":["python3","w.py","--x"],"cwd":"/srv","env":{"A":"1","B":"é"},"restart":"on-failure"}}""",
        """{"v":1,"id":11,"verb":"remove","names":["w"]}""",
        """{"v":1,"id":12,"verb":"save"}""",
        """{"v":1,"id":13,"verb":"shutdown"}""",
        """{"v":2,"id":14,"verb":"ls"}""",
        """{ "v" : 1 , "verb" : "kill" , "names" : [ "a\u0000b" , "\ud83d\ude00" ] }""",
    ];

    static readonly byte[][] Tokens = [.. new[]
    {
        "\"v\":", "\"id\":", "\"verb\":", "\"names\":", "\"unit\":", "\"since\":", "\"lines\":", "\"signal\":", "\"env\":", "\"command\":",
        "\"ls\"", "\"logs\"", "\"add\"", "null", "true", "false", "[]", "{}", "[", "]", "{", "}", ",", ":", "\"", "\\", "\\u", "\\ud800",
        "\\udc00", "\"\\ud800\"", "1e400", "-0", "9223372036854775808", "1.5", "\"2025-13-45T99:99:99Z\"", "\"9999-12-31T23:59:59.9999999-14:00\"",
        "\u0000", "\r", "\n", "\t", "\uFEFF", "\"all\"", "\"v\":1,\"v\":1", "/*", "//",
    }.Select(Encoding.UTF8.GetBytes)];

    static byte[] Nest(int depth) => Encoding.ASCII.GetBytes(new string('[', depth) + new string(']', depth % 3 == 0 ? depth : 0));

    /// <summary>Requests built from the known fields with values near their bounds and of the wrong types.</summary>
    static readonly Gen<byte[]> Fresh =
        Gen.Select(
            Gen.OneOf("v", "id", "verb", "names", "name", "wait", "signal", "lines", "since", "follow", "dryRun", "unit", "bogus")
                .Select(Gen.OneOf("1", "0", "-1", "2147483648", "1e2", "\"ls\"", "\"stop\"", "\"x\"", "[\"a\"]", "[]", "[1]", "true", "null",
                    "{\"name\":\"a\",\"command\":[\"b\"]}", "{\"env\":{\"A\":1}}", "\"2025-01-01T00:00:00Z\"", "100001", "65"),
                    (k, v) => $"\"{k}\":{v}")
                .Array[0, 8],
            entries => Encoding.UTF8.GetBytes("{\"v\":1," + string.Join(",", entries) + "}"));

    [Fact]
    public void The_parser_ends_every_mutated_line_in_a_request_or_a_clear_error()
    {
        var bases = Seeds.Select(Encoding.UTF8.GetBytes).ToArray();
        var report = FuzzHarness.Run(Target, Mutations.Of(bases, Fresh, Tokens, Nest), b => b, Parse, FuzzHarness.Seconds(5));
        output.WriteLine(report.ToString());
        Assert.True(report.Failures.Count == 0, report + "\n" + string.Join("\n\n", report.Failures));
        // The generators reach both ends: some inputs are requests, most are refused.
        Assert.True(report.Values > 0 && report.Errors > 0, report.ToString());
    }

    [Fact]
    public void The_unmutated_seeds_parse()
    {
        foreach (var seed in Seeds.Where(s => !s.StartsWith("{\"v\":2", StringComparison.Ordinal)))
            Assert.True(RequestParser.Parse(Encoding.UTF8.GetBytes(seed)).Ok, seed);
    }

    [Fact]
    public void Inputs_that_once_failed_end_in_a_request_or_a_clear_error()
    {
        Assert.NotEmpty(FuzzHarness.CorpusFiles(Target));
        Assert.Empty(FuzzHarness.Replay(Target, Parse));
    }
}
