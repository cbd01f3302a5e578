using System.Runtime.Versioning;
using Vigil.Config;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Config;

/// <summary>Unit: keys from different seeds that cannot work together are refused at load, naming the key, rather
/// than one silently ignoring the other.</summary>
[SupportedOSPlatform("linux")]
public sealed class FeatureCombinationTests
{
    private static string[] Errors(string text) =>
        [.. Assert.Throws<ConfigException>(() => ConfigLoader.Parse(text, "vigil.yaml", "/srv/app", TestExtensions.Vigil)).Errors.Select(e => e.ToString())];

    [Fact]
    public void An_external_unit_refuses_what_only_applies_to_a_process_vigil_starts()
    {
        var errors = Errors("""
            processes:
              - { name: ext, attach: { pid: 1 }, tty: true, tmux: s, ipc: true, cpuAffinity: "0" }
            """);
        foreach (var key in new[] { "tty", "tmux", "ipc", "cpuAffinity" })
            Assert.Contains(errors, e => e.Contains($"processes[0].{key}: applies to a process Vigil starts; an external unit (attach) is started by its own manager"));
    }

    [Fact]
    public void Ipc_true_in_tmux_is_refused_and_a_node_script_in_tmux_gets_no_channel()
    {
        Assert.Contains(Errors("processes:\n  - { command: [node, a.js], ipc: true, tmux: s }\n"),
            e => e.Contains("processes[0].ipc: cannot be combined with tmux"));
        var script = new ProcessSpec { Script = "app.js" };
        Assert.True(CommandResolver.UsesIpc(script, ["node", "app.js"]));
        Assert.False(CommandResolver.UsesIpc(script with { Tmux = new TmuxSpec("s") }, ["node", "app.js"]));
        Assert.False(CommandResolver.UsesIpc(script with { Ipc = false }, ["node", "app.js"]));
    }

    [Fact]
    public void A_unit_in_tmux_may_not_have_a_dot_or_colon_in_its_name()
    {
        Assert.Contains(Errors("processes:\n  - { name: web.1, command: [sleep, '1'], tmux: ops }\n"),
            e => e.Contains("processes[0].name: a unit in tmux names its window, and a tmux window's name cannot hold '.' or ':' (got 'web.1')"));
        Assert.Contains(Errors("processes:\n  - { name: 'a:b', command: [sleep, '1'], tmux: ops }\n"), e => e.Contains("(got 'a:b')"));
    }
}
