using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Vigil.Config;

// Overview: a minimal document tree built from YamlDotNet parser events, rather than YamlDotNet's
// representation model, so that (1) every node keeps its 1-based line and column, (2) duplicate keys are kept
// (the loader reports them as ordinary, collected errors instead of the model throwing on the first one), and
// (3) we can tell plain scalars (where `~`, `null` and the empty value mean null) from quoted ones ("null" is
// a string). JSON goes through the same parser: it is (almost) a subset of YAML's flow syntax.
// An alias is not copied: it returns the anchored node itself, so the tree is a DAG. But the loader walks it as a
// tree, so a "billion laughs" file (ten aliases to a list of ten aliases to …) makes it do exponential work, and
// collect an error per visited node: a 150 KB file grew to 1.5 GB. Every node therefore knows how many nodes it
// stands for once aliases are expanded, and the total that aliases add is capped (MaxAliasExpansion).

internal readonly record struct Pos(int Line, int Column)
{
    public static Pos From(Mark m) => new((int)m.Line, (int)m.Column);
}

internal abstract class YNode(Pos start)
{
    public Pos Start { get; } = start;

    /// <summary>Nodes in this subtree with every alias expanded (this one included).</summary>
    public long ExpandedSize { get; init; } = 1;

    /// <summary>For messages: "a list", "a mapping", "nothing" or the quoted text.</summary>
    public abstract string Describe();
}

internal sealed class YScalar(Pos start, string value, bool plain, bool tagged) : YNode(start)
{
    public string Value { get; } = value;
    public bool Plain { get; } = plain;

    /// <summary>YAML's null: a plain, untagged <c>~</c>, <c>null</c> (any of the core schema's spellings) or nothing at all.</summary>
    public bool IsNull { get; } = plain && !tagged && value is "" or "~" or "null" or "Null" or "NULL";

    public override string Describe() => IsNull ? "nothing" : Show(Value);

    /// <summary>A value quoted for a one-line message: control characters escaped (a newline would split the error
    /// list, which is one error per line), and at most 80 characters (a block scalar can be a whole file).</summary>
    public static string Show(string value)
    {
        const int max = 80;
        var sb = new System.Text.StringBuilder("'");
        foreach (var c in value.Length > max ? value[..max] : value)
            sb.Append(c switch
            {
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                '\0' => "\\0",
                _ when char.IsControl(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        return sb.Append(value.Length > max ? "…'" : "'").ToString();
    }
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

/// <summary>A document within YAML's grammar that is past one of our limits; its message is shown as it is.</summary>
internal sealed class YamlLimitException(Mark start, Mark end, string message) : YamlException(start, end, message);

internal static class YamlTree
{
    private const int MaxDepth = 100;

    /// <summary>Nodes that aliases may add to a document in all. A config that uses anchors for shared settings adds
    /// a few hundred; a billion-laughs file passes it within a few hundred bytes of text.</summary>
    internal const long MaxAliasExpansion = 100_000;

    /// <summary>Anchors seen so far and the nodes aliases have added.</summary>
    private sealed class State
    {
        public readonly Dictionary<string, YNode> Anchors = new(StringComparer.Ordinal);
        public long Expanded;
    }

    /// <summary>Parses one document. Null for an empty stream. Throws <see cref="YamlException"/> on a syntax error, an
    /// unknown alias, more than one document or absurd nesting.</summary>
    public static YNode? Parse(string text)
    {
        // YamlDotNet 16.3's scanner loops (for seconds, or for good) on a directive line (`%…`) that runs to the end of
        // the input when the input ends exactly at the end of its 1024-character read buffer: the fix of its issue
        // #638 checks EndOfInput, which is not yet true at that boundary. Found by the fuzzer ("%A" and 1022 spaces).
        // A line break at the end avoids it and means the same YAML, except that a `|+` block scalar on the last line
        // keeps it.
        if (text.Length > 0 && text[^1] != '\n') text += "\n";
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
        var state = new State();
        parser.Consume<StreamStart>();
        if (parser.TryConsume<StreamEnd>(out _)) return null;
        parser.Consume<DocumentStart>();
        var root = Read(parser, state, 0);
        parser.Consume<DocumentEnd>();
        if (parser.Accept<DocumentStart>(out var second))
            throw new YamlException(second.Start, second.End, "only one YAML document is allowed in a config file");
        parser.Consume<StreamEnd>();
        return root;
    }

    private static YNode Read(IParser p, State state, int depth)
    {
        if (depth > MaxDepth)
        {
            var at = p.Current!;
            throw new YamlException(at.Start, at.End, $"nested more than {MaxDepth} levels deep");
        }
        if (p.TryConsume<AnchorAlias>(out var alias))
        {
            if (!state.Anchors.TryGetValue(alias.Value.Value, out var target))
                throw new YamlException(alias.Start, alias.End, $"unknown alias '*{alias.Value.Value}'");
            state.Expanded += target.ExpandedSize;
            if (state.Expanded > MaxAliasExpansion)
                throw new YamlLimitException(alias.Start, alias.End,
                    $"too many alias expansions (aliases would add more than {MaxAliasExpansion:N0} nodes; a 'billion laughs' file?)");
            return target;
        }

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
            long size = 1;
            while (!p.TryConsume<SequenceEnd>(out _))
            {
                var item = Read(p, state, depth + 1);
                size += item.ExpandedSize;
                items.Add(item);
            }
            node = new YSequence(Pos.From(ss.Start), items) { ExpandedSize = size };
        }
        else
        {
            var ms = p.Consume<MappingStart>();
            started = ms;
            var entries = new List<(YNode, YNode)>();
            long size = 1;
            while (!p.TryConsume<MappingEnd>(out _))
            {
                var k = Read(p, state, depth + 1);
                var v = Read(p, state, depth + 1);
                size += k.ExpandedSize + v.ExpandedSize;
                entries.Add((k, v));
            }
            node = new YMapping(Pos.From(ms.Start), entries) { ExpandedSize = size };
        }
        if (!started.Anchor.IsEmpty) state.Anchors[started.Anchor.Value] = node;
        return node;
    }
}
