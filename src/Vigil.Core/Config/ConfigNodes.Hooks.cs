using Vigil.Specs;

namespace Vigil.Config;

// The `hooks:` mapping as the loader reads it: the short forms (webhook: URL, mqtt: TOPIC) when the rest is default.
internal static partial class ConfigNodes
{
    /// <summary>A <c>hooks:</c> mapping, or null when it says nothing (no hook, no interval).</summary>
    public static CMap? Hooks(HookSet set)
    {
        var e = new List<KeyValuePair<string, CNode>>();
        if (set.MinInterval is { } interval) e.Add(new("minInterval", Duration(interval)));
        if (!set.Bindings.IsDefaultOrEmpty)
            foreach (var b in set.Bindings)
                e.Add(new(b.Event, b.Actions.Length == 1 ? Hook(b.Actions[0]) : new CList([.. b.Actions.Select(Hook)], Flow: false)));
        return e.Count == 0 ? null : new CMap(e, Flow: false);
    }

    private static CNode Hook(HookAction hook)
    {
        var e = new List<KeyValuePair<string, CNode>>();
        switch (hook)
        {
            case ExecHook x:
                if (x.Shell is { } line) e.Add(new("shell", new CText(line)));
                else e.Add(new("exec", new CList([.. x.Command.Select(a => (CNode)new CText(a))], Flow: true)));
                if (x.Cwd is { } cwd) e.Add(new("cwd", new CText(Path.GetFullPath(cwd))));
                if (!x.Env.IsEmpty)
                    e.Add(new("env", new CMap([.. x.Env.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                        .Select(kv => new KeyValuePair<string, CNode>(kv.Key, kv.Value is null ? CNull.Instance : new CText(kv.Value)))], Flow: true)));
                break;
            case WebhookHook x:
                if (x.Method == "POST" && x.Headers.IsEmpty && x.Format == WebhookFormat.Json) e.Add(new("webhook", new CText(x.Url.OriginalString)));
                else
                {
                    var w = new List<KeyValuePair<string, CNode>> { new("url", new CText(x.Url.OriginalString)) };
                    if (x.Method != "POST") w.Add(new("method", new CWord(x.Method)));
                    if (!x.Headers.IsEmpty)
                        w.Add(new("headers", new CMap([.. x.Headers.OrderBy(kv => kv.Key, StringComparer.OrdinalIgnoreCase)
                            .Select(kv => new KeyValuePair<string, CNode>(kv.Key, new CText(kv.Value)))], Flow: true)));
                    if (x.Format == WebhookFormat.Slack) w.Add(new("slack", new CWord("true")));
                    e.Add(new("webhook", new CMap(w, Flow: true)));
                }
                break;
            case MqttHook x:
                if (x.Qos == 1 && !x.Retain) e.Add(new("mqtt", new CText(x.Topic)));
                else
                {
                    var m = new List<KeyValuePair<string, CNode>> { new("topic", new CText(x.Topic)) };
                    if (x.Qos != 1) m.Add(new("qos", Int(x.Qos)));
                    if (x.Retain) m.Add(new("retain", new CWord("true")));
                    e.Add(new("mqtt", new CMap(m, Flow: true)));
                }
                break;
            default:
                return new COpaque(hook, $"hook {hook.Describe()} is a library hook");
        }
        if (hook.Timeout != HookAction.DefaultTimeout) e.Add(new("timeout", Duration(hook.Timeout)));
        return new CMap(e, Flow: true);
    }
}
