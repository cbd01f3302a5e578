using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Launching;

/// <summary>Integration: real node children started with a Node IPC channel (elife's fork), stopped with its message.</summary>
[Collection("processes")]
public sealed class NodeIpcTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-ipc-");

    public void Dispose() => _dir.Delete(recursive: true);

    private ProcessSpec Script(string name, string js, TimeSpan? stopTimeout = null)
    {
        File.WriteAllText(Path.Combine(_dir.FullName, name + ".js"), js);
        var spec = new ProcessSpec { Name = name, Script = name + ".js", Cwd = _dir.FullName }.WithSchedule(0);
        return stopTimeout is { } t ? spec.WithStop(t) : spec;
    }

    // elife's child: the stopping message runs its hook, which exits.
    private const string Obeys = """
        process.on('message', m => {
          console.log('MESSAGE ' + JSON.stringify(m));
          if (m && m.stopping) { console.log('MARKER cleaned x'); process.exit(0); }
        });
        process.on('SIGTERM', () => { console.log('MARKER sigterm x'); process.exit(7); });
        console.log('MARKER up ' + (typeof process.send));
        """;

    [Fact]
    public async Task A_node_script_gets_the_stopping_message_and_its_exit_on_it_is_a_clean_stop()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // A stop timeout far longer than the test's wait: only the message can make this stop quick and clean.
        var unit = sup.Start(Script("obeys", Obeys, stopTimeout: Long));
        var up = await rec.Marker("up", Long);
        Assert.Equal("MARKER up function", up.Text); // process.send exists: node found its channel
        var result = await unit.StopAndWaitAsync().WaitAsync(Long);
        Assert.Equal(0, result.Exit?.Code);
        Assert.Empty(result.Killed);
        Assert.Empty(result.Survivors);
        Assert.Contains(rec.Lines, l => l.Text == """MESSAGE {"stopping":true}""");
        Assert.Contains(rec.Lines, l => l.Text.StartsWith("MARKER cleaned"));
        Assert.DoesNotContain(rec.Lines, l => l.Text.StartsWith("MARKER sigterm"));
        Assert.DoesNotContain(rec.Events, e => e is StopEscalated);
        Assert.False(Procs.Alive(up.Pid));
    }

    [Fact]
    public async Task A_child_that_ignores_the_message_gets_the_stop_signal_then_SIGKILL()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Script("deaf", """
            process.on('message', m => console.log('MESSAGE ' + JSON.stringify(m)));
            process.on('SIGTERM', () => console.log('MARKER sigterm x'));
            console.log('MARKER up x');
            """, stopTimeout: TimeSpan.FromMilliseconds(700)));
        var up = await rec.Marker("up", Long);
        var result = await unit.StopAndWaitAsync().WaitAsync(Long);
        Assert.Equal(9, result.Exit?.Signal);
        Assert.Contains(up.Pid, result.Killed);
        Assert.Empty(result.Survivors);
        // In order: the message, then SIGTERM (ignored), then SIGKILL.
        var texts = rec.Lines.Select(l => l.Text).ToList();
        int message = texts.IndexOf("""MESSAGE {"stopping":true}"""), term = texts.FindIndex(t => t.StartsWith("MARKER sigterm"));
        Assert.True(message >= 0 && term > message, string.Join(" | ", texts));
        Assert.Contains(up.Pid, (await rec.Event<StopEscalated>()).Killed);
        Assert.False(Procs.Alive(up.Pid));
    }

    [Fact]
    public async Task Kill_skips_the_message()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Script("killed", Obeys, stopTimeout: Long));
        var up = await rec.Marker("up", Long);
        var result = await unit.Kill().WaitAsync(Long);
        Assert.Equal(9, result.Exit?.Signal);
        Assert.DoesNotContain(rec.Lines, l => l.Text.StartsWith("MESSAGE"));
        Assert.False(Procs.Alive(up.Pid));
    }

    [Fact]
    public async Task The_channel_is_fd_3_named_by_the_environment_and_only_where_asked()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        const string show = "echo \"MARKER $0 fd=${NODE_CHANNEL_FD:-none} mode=${NODE_CHANNEL_SERIALIZATION_MODE:-none} $(readlink /proc/self/fd/3 | cut -c1-7)\"";
        sup.Start(new ProcessSpec { Name = "asked", Command = ["sh", "-c", show, "asked"], Ipc = true }.WithSchedule(0));
        sup.Start(new ProcessSpec { Name = "plain", Command = ["sh", "-c", show, "plain"] }.WithSchedule(0));
        var asked = await rec.Marker("asked", Long);
        var plain = await rec.Marker("plain", Long);
        Assert.Equal("MARKER asked fd=3 mode=json socket:", asked.Text);
        Assert.StartsWith("MARKER plain fd=none mode=none", plain.Text);
        Assert.DoesNotContain("socket:", plain.Text);
    }

    [Fact]
    public async Task A_child_flooding_the_channel_with_garbage_is_drained_and_still_stops_cleanly()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // 16 MiB of random bytes (no JSON, few newlines) with a blocking write: it ends only if Vigil keeps reading.
        var flood = sup.Start(new ProcessSpec
        {
            Name = "flood",
            Command = ["sh", "-c", "head -c 16777216 /dev/urandom >&3 && echo 'MARKER flooded x' && exec sleep 600"],
            Ipc = true,
        }.WithSchedule(0).WithStop(Long));
        await rec.Marker("flooded", Long);
        // Vigil is fine: a node child started after the flood still gets its message and stops cleanly.
        var unit = sup.Start(Script("after", Obeys, stopTimeout: Long));
        await rec.Marker("up", Long);
        var result = await unit.StopAndWaitAsync().WaitAsync(Long);
        Assert.Equal(0, result.Exit?.Code);
        Assert.Empty(result.Killed);
        // sleep has no use for the message: the stop timeout would hold it, so end it with a kill.
        Assert.Equal(9, (await flood.Kill().WaitAsync(Long)).Exit?.Signal);
    }

    [Fact]
    public async Task A_notify_message_on_the_channel_reaches_the_sd_notify_probe_after_an_overlong_line_and_garbage()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // 100,000 x's (over the 4 KiB line limit: dropped whole), a line that is not JSON, another message, then READY=1.
        const string script = """
            head -c 100000 /dev/zero | tr '\0' x >&3
            printf '\nnot json\n{"other":1,"notify":7}\n{"cmd":"x","notify":"STATUS=warm\\nREADY=1"}\n' >&3
            echo 'MARKER sent x'
            exec sleep 600
            """;
        var unit = sup.Start(new ProcessSpec
        {
            Name = "notifier",
            Command = ["sh", "-c", script],
            Ipc = true,
            Health = [new ProbeSpec(new SdNotifyCheck(null)) { Role = ProbeRole.Readiness }],
        }.WithSchedule(0).WithStop(TimeSpan.FromSeconds(1)));
        await rec.Marker("sent", Long);
        var ready = await rec.Event<ReadinessChanged>(e => e.Ready, "ready", Long);
        Assert.Contains("READY=1", ready.Reason);
        await unit.Kill().WaitAsync(Long);
    }
}

/// <summary>Which runs get a channel: elife's rule (node scripts), or <c>ipc:</c>.</summary>
public sealed class IpcChoiceTests
{
    [Theory]
    [InlineData("app.js", null, false, true)]
    [InlineData("app.mjs", null, false, true)]
    [InlineData("work.py", null, false, false)]
    [InlineData("app.js", false, false, false)]
    [InlineData("work.py", true, false, true)]
    [InlineData("app.js", null, true, false)] // detached: it outlives Vigil, and the channel's other end with it
    public void A_script_run_by_node_gets_one_unless_told_otherwise(string script, bool? ipc, bool detach, bool expected)
    {
        var spec = new ProcessSpec { Script = script, Ipc = ipc, Detach = detach };
        var argv = CommandResolver.InterpreterFor(script)!.Append(script).ToList();
        Assert.Equal(expected, CommandResolver.UsesIpc(spec, argv));
    }

    [Fact]
    public void A_node_command_gets_one_only_with_ipc_true()
    {
        var spec = new ProcessSpec { Command = ["node", "server.js"] };
        Assert.False(CommandResolver.UsesIpc(spec, spec.Command));
        Assert.True(CommandResolver.UsesIpc(spec with { Ipc = true }, spec.Command));
    }

    [Fact]
    public void Ipc_takes_a_boolean()
    {
        var e = Assert.Throws<Vigil.Config.ConfigException>(() => Vigil.Config.ConfigLoader.Parse("processes:\n  - command: [node, x.js]\n    ipc: 3\n", "vigil.yaml", "/srv"));
        Assert.Equal("vigil.yaml:3:5: processes[0].ipc: expected true or false, got '3'", Assert.Single(e.Errors).ToString());
    }

    [Fact]
    public void The_channel_variables_replace_inherited_ones()
    {
        var env = IpcChannel.WithChannel(["PATH=/bin", "NODE_CHANNEL_FD=9", "VIGIL_IPC=0", "NODE_CHANNEL_SERIALIZATION_MODE=advanced"]);
        Assert.Equal(["PATH=/bin", "NODE_CHANNEL_FD=3", "NODE_CHANNEL_SERIALIZATION_MODE=json", "VIGIL_IPC=1"], env);
    }
}
