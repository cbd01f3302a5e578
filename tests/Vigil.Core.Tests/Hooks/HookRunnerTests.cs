using System.Text.Json;
using Vigil.Hooks;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Hooks;

/// <summary>Integration: hooks against real receivers. Commands are real processes writing what they got (environment
/// and stdin) to files; webhooks go to a real HTTP server on a loopback port; the units are the fixture program.
/// Hung hooks are killed with their whole tree (setsid'd grandchildren too) and leave nothing, not even a zombie.</summary>
[Collection("processes")]
public sealed class HookRunnerTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-hooks-");
    private readonly List<string[]> _argvs = [];

    public void Dispose()
    {
        Procs.KillAll(_argvs.SelectMany(a => Procs.WithArgv(a)));
        _dir.Delete(recursive: true);
    }

    private string[] Sleep()
    {
        string[] argv = ["sleep", Procs.UniqueSleep()];
        _argvs.Add(argv);
        return argv;
    }

    private static HookSet On(string kind, params HookAction[] hooks) => new() { Bindings = [new(kind, [.. hooks])] };

    /// <summary>A hook that writes its VIGIL_* variables and its stdin to <paramref name="name"/>.env and .json.</summary>
    private ExecHook Writer(string name) =>
        ExecHook.ShellLine($"env | grep ^VIGIL_ | sort > '{_dir.FullName}/{name}.env.tmp' && mv '{_dir.FullName}/{name}.env.tmp' '{_dir.FullName}/{name}.env'; " +
            $"cat > '{_dir.FullName}/{name}.json.tmp' && mv '{_dir.FullName}/{name}.json.tmp' '{_dir.FullName}/{name}.json'");

    private async Task<(Dictionary<string, string> Env, JsonElement Json)> Received(string name)
    {
        var json = Path.Combine(_dir.FullName, name + ".json");
        Assert.True(await Procs.Eventually(() => File.Exists(json), TimeSpan.FromSeconds(30)), $"hook {name} never wrote {json}");
        var env = File.ReadAllLines(Path.Combine(_dir.FullName, name + ".env")).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        output.WriteLine(File.ReadAllText(json));
        return (env, JsonDocument.Parse(File.ReadAllText(json)).RootElement);
    }

    private static ProcessSpec Crasher(string name, HookSet? hooks = null) =>
        Fixture.Spec(name, "exit", "3") with { Restart = RestartSpec.Default with { Policy = RestartPolicyKind.Never }, Hooks = hooks };

    [Fact]
    public async Task A_command_hook_gets_the_event_in_its_environment_and_as_json_on_stdin_and_top_level_and_unit_hooks_both_run()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        await using var runner = new HookRunner(sup, new HookRunnerOptions { Hooks = On("exited", Writer("top")), Host = "box1" });
        var unit = sup.Start(Crasher("crashy", On("exited", Writer("own")) with { MinInterval = TimeSpan.Zero }));
        var exited = await rec.Event<Exited>();

        foreach (var name in new[] { "top", "own" })
        {
            var (env, json) = await Received(name);
            Assert.Equal("exited", env["VIGIL_EVENT"]);
            Assert.Equal("crashy", env["VIGIL_UNIT"]);
            Assert.Equal(exited.Pid.ToString(), env["VIGIL_PID"]);
            Assert.Equal(exited.Reason, env["VIGIL_REASON"]);
            Assert.StartsWith("exited with code 3 after ", env["VIGIL_REASON"]);
            Assert.Equal("0", env["VIGIL_SUPPRESSED"]);
            Assert.Equal("box1", env["VIGIL_HOST"]);
            Assert.Equal(exited.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'"), env["VIGIL_TIME"]);

            Assert.Equal("exited", json.GetProperty("event").GetString());
            Assert.Equal("crashy", json.GetProperty("unit").GetString());
            Assert.Equal(unit.Id, json.GetProperty("unitId").GetInt32());
            Assert.Equal(exited.Pid, json.GetProperty("pid").GetInt32());
            Assert.Equal(exited.Reason, json.GetProperty("reason").GetString());
            Assert.Equal("exited", json.GetProperty("state").GetString());
            Assert.Equal(env["VIGIL_TIME"], json.GetProperty("time").GetString());
            Assert.Equal(0, json.GetProperty("suppressed").GetInt32());
            Assert.Equal("box1", json.GetProperty("host").GetString());
        }
        Assert.True(await Procs.Eventually(() => runner.Runs == 2));
        Assert.Equal(0, runner.Failures);
        Assert.Empty(rec.Events.OfType<HookFailed>());
    }

    [Fact]
    public async Task A_hook_that_hangs_is_killed_at_its_timeout_with_its_setsid_grandchild_and_reported_as_hook_failed()
    {
        var (escaped, waiting) = (Sleep(), Sleep());
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var hang = ExecHook.ShellLine($"setsid sleep {escaped[1]} & sleep {waiting[1]}") with { Timeout = TimeSpan.FromSeconds(2) };
        await using var runner = new HookRunner(sup, new HookRunnerOptions { Hooks = On("exited", hang, ExecHook.ShellLine("echo broken; exit 4")) });
        sup.Start(Crasher("hangs"));

        Assert.True(await Procs.Eventually(() => Procs.WithArgv(escaped).Count > 0 && Procs.WithArgv(waiting).Count > 0, TimeSpan.FromSeconds(30)), "the hook never ran");
        var exit4 = await rec.Event<HookFailed>(f => f.Hook == "shell 'echo broken; exit 4'");
        Assert.Equal("exited hook shell 'echo broken; exit 4' failed: exited with code 4: broken", exit4.Reason);
        Assert.Equal("hangs", exit4.Name);
        var failed = await rec.Event<HookFailed>(f => f.Hook.StartsWith("shell 'setsid"), timeout: TimeSpan.FromSeconds(60));
        Assert.Equal("timed out after 2s (its processes were killed)", failed.Why);
        Assert.Equal("exited", failed.Event);
        // CommandRunner returns once the kill is done: nothing of the hook is left, not even a zombie.
        Assert.Empty(Procs.WithArgv(escaped));
        Assert.Empty(Procs.WithArgv(waiting));
        Assert.True(await Procs.Eventually(() => Procs.OurZombies().Count == 0), "zombies: " + string.Join(", ", Procs.OurZombies()));
        Assert.Equal(2, runner.Failures);
    }

    [Fact]
    public async Task Disposing_the_runner_kills_hooks_in_flight_after_the_grace_and_returns()
    {
        var (escaped, waiting) = (Sleep(), Sleep());
        await using var sup = new Supervisor();
        var runner = new HookRunner(sup, new HookRunnerOptions
        {
            Hooks = On("exited", ExecHook.ShellLine($"setsid sleep {escaped[1]} & sleep {waiting[1]}") with { Timeout = TimeSpan.FromMinutes(10) }),
            ShutdownGrace = TimeSpan.FromMilliseconds(500),
        });
        sup.Start(Crasher("inflight"));
        Assert.True(await Procs.Eventually(() => Procs.WithArgv(escaped).Count > 0 && Procs.WithArgv(waiting).Count > 0, TimeSpan.FromSeconds(30)), "the hook never ran");

        var disposing = runner.DisposeAsync().AsTask();
        Assert.True(await Task.WhenAny(disposing, Task.Delay(TimeSpan.FromSeconds(20))) == disposing, "the runner's dispose did not return");
        Assert.Empty(Procs.WithArgv(escaped));
        Assert.Empty(Procs.WithArgv(waiting));
        Assert.Equal(1, runner.Failures);
    }

    [Fact]
    public async Task Webhooks_post_the_json_or_the_slack_text_and_a_500_a_refused_connection_and_no_answer_are_hook_failed_without_blocking_others()
    {
        using var receiver = new HookReceiver();
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        int refused = Ports.Free();
        await using var runner = new HookRunner(sup, new HookRunnerOptions
        {
            Hooks = On("exited",
                new WebhookHook(new Uri(receiver.Url("/hang"))) { Timeout = TimeSpan.FromSeconds(3) },
                new WebhookHook(new Uri(receiver.Url("/json"))) { Headers = System.Collections.Immutable.ImmutableDictionary<string, string>.Empty.Add("X-Token", "s3cret") },
                new WebhookHook(new Uri(receiver.Url("/slack"))) { Format = WebhookFormat.Slack },
                new WebhookHook(new Uri(receiver.Url("/fail"))),
                new WebhookHook(new Uri($"http://127.0.0.1:{refused}/nobody"))),
            Host = "box<2>",
        });
        sup.Start(Crasher("posted"));
        var exited = await rec.Event<Exited>();

        var json = Assert.Single(await receiver.WaitFor("/json"));
        Assert.Equal("POST", json.Method);
        Assert.Equal("application/json; charset=utf-8", json.Headers["Content-Type"]);
        Assert.Equal("s3cret", json.Headers["X-Token"]);
        Assert.Equal("exited", json.Json.GetProperty("event").GetString());
        Assert.Equal(exited.Pid, json.Json.GetProperty("pid").GetInt32());
        var slack = Assert.Single(await receiver.WaitFor("/slack"));
        Assert.Equal([nameof(SlackMessage.Text).ToLowerInvariant()], slack.Json.EnumerateObject().Select(p => p.Name));
        Assert.Equal($"box&lt;2&gt;: posted#{exited.Pid} exited: {exited.Reason}", slack.Json.GetProperty("text").GetString());
        // The hanging receiver holds one worker; the others went on meanwhile.
        Assert.Single(await receiver.WaitFor("/hang"));
        Assert.DoesNotContain(rec.Events.OfType<HookFailed>(), f => f.Hook.Contains("/hang"));

        var fail = await rec.Event<HookFailed>(f => f.Hook.EndsWith("/fail"));
        Assert.Equal($"HTTP 500 Internal Server Error from {receiver.Url("/fail")}", fail.Why);
        var nobody = await rec.Event<HookFailed>(f => f.Hook.EndsWith("/nobody"));
        Assert.Equal($"connection refused by http://127.0.0.1:{refused}/nobody", nobody.Why);
        var hang = await rec.Event<HookFailed>(f => f.Hook.EndsWith("/hang"));
        Assert.Equal("timed out after 3s", hang.Why);
        Assert.Equal(3, runner.Failures);
    }

    [Fact]
    public async Task A_flapping_unit_runs_its_exited_hook_at_most_once_per_interval_and_the_counts_add_up_to_the_events()
    {
        using var receiver = new HookReceiver();
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var interval = TimeSpan.FromMilliseconds(500);
        await using var runner = new HookRunner(sup, new HookRunnerOptions
        {
            Hooks = On("exited", new WebhookHook(new Uri(receiver.Url("/exited")))) with { MinInterval = interval },
        });
        var started = DateTime.UtcNow;
        var unit = sup.Start(Fixture.Spec("flappy", "exit", "1").WithSchedule(10));
        var runs = await receiver.WaitFor("/exited", 4, TimeSpan.FromSeconds(60));
        await unit.StopAndWaitAsync();
        var elapsed = DateTime.UtcNow - started; // every exit happened within it

        var exits = rec.Events.OfType<Exited>().Where(e => e.Name == "flappy").ToList();
        // Every exit either ran the hook or was counted as suppressed (the handler may still be at the last ones).
        Assert.True(await Procs.Eventually(() => receiver.On("/exited").Count + runner.Suppressed == exits.Count),
            $"{receiver.On("/exited").Count} runs + {runner.Suppressed} suppressed != {exits.Count} exits");
        runs = receiver.On("/exited");
        output.WriteLine($"{exits.Count} exits in {elapsed.TotalMilliseconds:0} ms, {runs.Count} runs, suppressed: {string.Join(",", runs.Select(r => r.Json.GetProperty("suppressed").GetInt32()))}");
        Assert.True(exits.Count > runs.Count, "the unit did not flap faster than the interval");
        Assert.True(runs.Count <= elapsed / interval + 1, $"{runs.Count} runs in {elapsed}");
        // Exactly: each run reports the exits between the previous run's exit and its own.
        var order = exits.Select(e => e.Pid).ToList();
        var indexes = runs.Select(r => order.IndexOf(r.Json.GetProperty("pid").GetInt32())).ToList();
        Assert.DoesNotContain(-1, indexes);
        Assert.Equal(0, indexes[0]);
        for (int i = 1; i < runs.Count; i++)
            Assert.Equal(indexes[i] - indexes[i - 1] - 1, runs[i].Json.GetProperty("suppressed").GetInt32());
        // And the runs were at least an interval apart, by the events' own times (which the limit goes by).
        var times = runs.Select(r => DateTimeOffset.Parse(r.Json.GetProperty("time").GetString()!)).ToList();
        // (The JSON's times are cut to whole milliseconds, so allow one.)
        for (int i = 1; i < times.Count; i++)
            Assert.True(times[i] - times[i - 1] >= interval - TimeSpan.FromMilliseconds(1), $"runs {times[i - 1]:O} and {times[i]:O}");
    }
}
