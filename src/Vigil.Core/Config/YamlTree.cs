using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Vigil.Config;

// Overview: a minimal document tree built from YamlDotNet parser events, rather than YamlDotNet's
// representation model, so that (1) every node keeps its 1-based line and column, (2) duplicate keys are kept
// (the loader reports them as ordinary, collected errors instead of the model throwing on the first one), and
// (3) we can tell plain scalars (where `~`, `null` and the empty value mean null) from quoted ones ("null" is
// a string). JSON goes through the same parser: it is (almost) a subset of YAML's flow syntax.

internal readonly record struct Pos(int Line, int Column)
{
    public static Pos From(Mark m) => new((int)m.Line, (int)m.Column);
}

internal abstract class YNode(Pos start)
{
    public Pos Start { get; } = start;

    /// <summary>For messages: "a list", "a mapping", "nothing" or the quoted text.</summary>
    public abstract string Describe();
}

internal sealed class YScalar(Pos start, string value, bool plain, bool tagged) : YNode(start)
{
    public string Value { get; } = value;
    public bool Plain { get; } = plain;

    /// <summary>YAML's null: a plain, untagged <c>~</c>, <c>null</c> (any of the core schema's spellings) or nothing at all.</summary>
    public bool IsNull { get; } = plain && !tagged && value is "" or "~" or "null" or "Null" or "NULL";

    public override string Describe() => IsNull ? "nothing" : $"'{Value}'";
}

internal sealed class YSequence(Pos start, List<YNode> items) : YNode(start)
{
    public List<YNode> Items { get; } = items;
    public override string Describe() => "a list";
}

internal sealed class YMapping(Pos start, List<(YNode Key, YNode Value)> entries) : YNode(start)
{
    public List<(YNode Key, YNode Value)> Entries { get; } = entries;
    public override string Describe() => "a mapping";
}

internal static class YamlTree
{
    private const int MaxDepth = 100;

    /// <summary>Parses one document. Null for an empty stream. Throws <see cref="YamlException"/> on a syntax error, an
    /// unknown alias, more than one document or absurd nesting.</summary>
    public static YNode? Parse(string text)
    {
        var scanner = new Scanner(new StringReader(text));
        try
        {
            return ParseDocument(new Parser(scanner));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            // YamlDotNet's scanner throws these on some malformed input, for instance a line inside a flow collection
            // ({ } or [ ]) indented less than the block it belongs to. Report it where scanning got to.
            var at = scanner.CurrentPosition;
            throw new YamlException(at, at, "could not parse this (is a line of a { } or [ ] collection indented less than its parent?)");
        }
    }

    private static YNode? ParseDocument(IParser parser)
    {
        var anchors = new Dictionary<string, YNode>(StringComparer.Ordinal);
        parser.Consume<StreamStart>();
        if (parser.TryConsume<StreamEnd>(out _)) return null;
        parser.Consume<DocumentStart>();
        var root = Read(parser, anchors, 0);
        parser.Consume<DocumentEnd>();
        if (parser.Accept<DocumentStart>(out var second))
            throw new YamlException(second.Start, second.End, "only one YAML document is allowed in a config file");
        parser.Consume<StreamEnd>();
        return root;
    }

    private static YNode Read(IParser p, Dictionary<string, YNode> anchors, int depth)
    {
        if (depth > MaxDepth)
        {
            var at = p.Current!;
            throw new YamlException(at.Start, at.End, $"nested more than {MaxDepth} levels deep");
        }
        if (p.TryConsume<AnchorAlias>(out var alias))
            return anchors.TryGetValue(alias.Value.Value, out var target)
                ? target
                : throw new YamlException(alias.Start, alias.End, $"unknown alias '*{alias.Value.Value}'");

        YNode node;
        NodeEvent started;
        if (p.TryConsume<Scalar>(out var s))
        {
            started = s;
            node = new YScalar(Pos.From(s.Start), s.Value, s.Style is ScalarStyle.Plain or ScalarStyle.Any, !s.Tag.IsEmpty && !s.Tag.IsNonSpecific);
        }
        else if (p.TryConsume<SequenceStart>(out var ss))
        {
            started = ss;
            var items = new List<YNode>();
            while (!p.TryConsume<SequenceEnd>(out _)) items.Add(Read(p, anchors, depth + 1));
            node = new YSequence(Pos.From(ss.Start), items);
        }
        else
        {
            var ms = p.Consume<MappingStart>();
            started = ms;
            var entries = new List<(YNode, YNode)>();
            while (!p.TryConsume<MappingEnd>(out _))
            {
                var k = Read(p, anchors, depth + 1);
                var v = Read(p, anchors, depth + 1);
                entries.Add((k, v));
            }
            node = new YMapping(Pos.From(ms.Start), entries);
        }
        if (!started.Anchor.IsEmpty) anchors[started.Anchor.Value] = node;
        return node;
    }
}
