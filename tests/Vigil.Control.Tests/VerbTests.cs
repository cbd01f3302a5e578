using Vigil.Config;
using Vigil.Control.Tests.Support;
using Vigil.Health;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Control.Tests;

/// <summary>Every verb through a real client, a real socket and a real supervisor with real fixture children.</summary>
[Collection("processes")]
public sealed class VerbTests
{
    [Fact]
    public async Task Info_names_who_answers()
    {
        await using var kit = await ControlKit.StartAsync(configPath: "/etc/vigil/test.yaml");
        await kit.StartUpAsync(ControlKit.Up("web"));
        var info = await kit.Client.InfoAsync();
        Assert.Equal(ControlProtocol.Version, info.ProtocolVersion);
        Assert.Equal(Environment.ProcessId, info.Pid);
        Assert.Equal("test", info.Instance);
        Assert.Equal("/etc/vigil/test.yaml", info.ConfigPath);
        Assert.Equal(kit.SocketPath, info.Socket);
        Assert.Equal(1, info.Units);
        Assert.NotEqual("", info.Version);
        Assert.True(info.StartedAt <= DateTimeOffset.UtcNow && info.StartedAt > DateTimeOffset.UtcNow.AddMinutes(-5), info.StartedAt.ToString());
    }

    [Fact]
    public async Task Ls_gives_one_row_per_unit_with_state_pid_status_exit_and_usage()
    {
        await using var kit = await ControlKit.StartAsync();
        int webPid = await kit.StartUpAsync(Fixture.Spec("web", "marker", "up", "busy"));
        var job = kit.Sup.Start(Fixture.Spec("job", "exit", "3").WithSchedule());
        await kit.Rec.Event<NotRestarting>(e => e.UnitId == job.Id);
        var rows = await kit.Client.ListAsync();
        Assert.Equal(["web", "job"], rows.Select(r => r.Name));
        var web = rows[0];
        Assert.Equal("running", web.State);
        Assert.Equal(webPid, web.Pid);
        Assert.Contains(web.Status, new[] { "running", "sleeping" });
        Assert.Null(web.LastExit);
        Assert.True(web.RssBytes > 1 << 20, $"rss {web.RssBytes}");
        Assert.True(web.CpuPercent >= 0, $"cpu {web.CpuPercent}");
        Assert.True(web.UptimeSeconds >= 0);
        Assert.Null(web.Ready);
        var exited = rows[1];
        Assert.Equal("exited", exited.State);
        Assert.Null(exited.Pid);
        Assert.Equal("-", exited.Status);
        Assert.Equal("exited with code 3", exited.LastExit);
        Assert.Null(exited.CpuPercent);

        // A busy loop measured again over the next interval: most of a core (the machine may be loaded: a tenth will do).
        await Task.Delay(TimeSpan.FromMilliseconds(600), TimeProvider.System); // the sampler's shortest interval is 500 ms
        var again = (await kit.Client.ListAsync())[0];
        Assert.True(again.CpuPercent > 10, $"a spinning process at {again.CpuPercent}% cpu");
    }

    [Fact]
    public async Task Status_tells_command_policy_stop_probes_logs_and_recent_events()
    {
        await using var kit = await ControlKit.StartAsync();
        var log = Path.Combine(kit.Dir.FullName, "logs", "web.log");
        var spec = ControlKit.Up("web") with
        {
            Log = new LogSpec { File = log },
            Restart = RestartSpec.Default with { Schedule = [TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2)], Limit = new CrashLoopLimit(5, TimeSpan.FromMinutes(10)) },
            Stop = new StopSpec { Signal = 2, Timeout = TimeSpan.FromSeconds(3), KillWait = TimeSpan.FromSeconds(1) },
            Health = [new ProbeSpec(new MemoryCheck(1L << 40)) { Name = "mem", Period = TimeSpan.FromMinutes(1) }],
            Cwd = kit.Dir.FullName,
        };
        int pid = await kit.StartUpAsync(spec);
        var detail = Assert.Single(await kit.Client.StatusAsync("web"));
        Assert.Equal("web", detail.Name);
        Assert.Equal("running", detail.State);
        Assert.Equal(pid, detail.Pid);
        Assert.Equal(Fixture.Path, detail.Command);
        Assert.Equal(["marker", "up", "hang"], detail.Args);
        Assert.Equal(kit.Dir.FullName, detail.Cwd);
        Assert.Equal("always", detail.Restart.Policy);
        Assert.Equal("100ms, 2s (the last repeats)", detail.Restart.Schedule);
        Assert.Equal("5 within 10m, then slow-retry every 5m", detail.Restart.Limit);
        Assert.Equal(0, detail.Restart.Attempt);
        Assert.Equal("SIGINT", detail.Stop.Signal);
        Assert.Equal(3, detail.Stop.TimeoutSeconds);
        Assert.Equal(1, detail.Stop.KillWaitSeconds);
        var probe = Assert.Single(detail.Probes);
        Assert.Equal(("mem", "memory", "liveness", "restart"), (probe.Name, probe.Kind, probe.Role, probe.Action));
        Assert.Equal([log], detail.LogFiles);
        Assert.Equal(0, detail.DroppedLogLines);
        Assert.Contains(detail.RecentEvents, e => e.Kind == "spawned" && e.Pid == pid && e.State == "running");

        var unknown = await Assert.ThrowsAsync<ControlException>(() => kit.Client.StatusAsync("wbe"));
        Assert.Equal(ControlErrors.NoSuchUnit, unknown.Code);
        Assert.Equal("web", unknown.Suggestion);
    }

    [Fact]
    public async Task Status_and_ls_tell_where_a_crashing_unit_is_in_its_restart_schedule()
    {
        await using var kit = await ControlKit.StartAsync();
        var unit = kit.Sup.Start(Fixture.Spec("crashy", "exit", "1").WithSchedule(50, 30_000));
        var second = (await kit.Rec.Count<BackingOff>(2, b => b.UnitId == unit.Id))[1];
        Assert.Equal(TimeSpan.FromSeconds(30), second.Delay);
        var detail = Assert.Single(await kit.Client.StatusAsync("crashy"));
        Assert.Equal("backoff", detail.State);
        Assert.Equal(second.Attempt, detail.Restart.Attempt);
        Assert.Equal("exited with code 1", detail.LastExit);
        Assert.InRange(detail.Restart.NextRestartInSeconds!.Value, 15, 30); // 30 s less the time since the event
        Assert.InRange(Assert.Single(await kit.Client.ListAsync()).NextRestartInSeconds!.Value, 15, 30);
    }

    [Fact]
    public async Task Stop_start_restart_and_kill_say_what_happened()
    {
        await using var kit = await ControlKit.StartAsync();
        int first = await kit.StartUpAsync(ControlKit.Up("web"));

        var stopped = Assert.Single(await kit.Client.StopAsync(["web"]));
        Assert.Equal(("stopped", true, first), (stopped.Outcome, stopped.Ok, stopped.Pid));
        Assert.Equal("killed by SIGTERM", stopped.Detail);
        Assert.False(Procs.Alive(first));
        Assert.Equal(UnitState.Stopped, kit.Sup.Units[0].State);

        var again = Assert.Single(await kit.Client.StopAsync(["web"]));
        Assert.Equal("already-stopped", again.Outcome);

        var started = Assert.Single(await kit.Client.StartAsync(["web"]));
        Assert.Equal(("started", true), (started.Outcome, started.Ok));
        Assert.NotEqual(first, started.Pid);
        Assert.Equal(started.Pid, kit.Sup.Units[0].Pid);
        var running = Assert.Single(await kit.Client.StartAsync(["web"]));
        Assert.Equal(("already-running", started.Pid), (running.Outcome, running.Pid));

        var restarted = Assert.Single(await kit.Client.RestartAsync(["web"]));
        Assert.Equal(("restarted", true), (restarted.Outcome, restarted.Ok));
        Assert.NotEqual(started.Pid, restarted.Pid);
        Assert.Equal(restarted.Pid, kit.Sup.Units[0].Pid);
        Assert.False(Procs.Alive(started.Pid!.Value));

        var killed = Assert.Single(await kit.Client.KillAsync(["web"]));
        Assert.Equal(("killed", restarted.Pid, "killed by SIGKILL"), (killed.Outcome, killed.Pid, killed.Detail));
        Assert.Equal(UnitState.Stopped, kit.Sup.Units[0].State); // no restart follows a kill
    }

    [Fact]
    public async Task Start_brings_back_a_unit_that_gave_up()
    {
        await using var kit = await ControlKit.StartAsync();
        var spec = Fixture.Spec("crashy", "exit", "1") with
        {
            Restart = RestartSpec.Default with { Schedule = [TimeSpan.FromMilliseconds(20)], Limit = new CrashLoopLimit(1, TimeSpan.FromMinutes(1), LimitAction.Stop) },
        };
        var unit = kit.Sup.Start(spec);
        await kit.Rec.Event<GaveUp>(e => e.UnitId == unit.Id);
        Assert.Equal("failed", Assert.Single(await kit.Client.ListAsync()).State);
        var spawnsBefore = kit.Rec.Events.OfType<Spawned>().Count();
        var outcome = Assert.Single(await kit.Client.StartAsync(["crashy"]));
        Assert.Equal("started", outcome.Outcome);
        Assert.NotNull(outcome.Pid);
        await kit.Rec.Count<Spawned>(spawnsBefore + 1);
    }

    [Fact]
    public async Task A_spawn_that_fails_is_a_failed_outcome_with_the_reason()
    {
        await using var kit = await ControlKit.StartAsync();
        var unit = kit.Sup.Start(new ProcessSpec { Name = "ghost", Command = ["/nonexistent/vigil-test-program"], Restart = RestartSpec.Default with { Schedule = [] } });
        await kit.Rec.Event<SpawnFailed>(e => e.UnitId == unit.Id);
        var outcome = Assert.Single(await kit.Client.StartAsync(["ghost"]));
        Assert.Equal(("failed", false, null), (outcome.Outcome, outcome.Ok, outcome.Pid));
        Assert.Contains("/nonexistent/vigil-test-program", outcome.Detail);
    }

    [Fact]
    public async Task A_repeated_name_acts_on_every_unit_with_it()
    {
        await using var kit = await ControlKit.StartAsync();
        int a = await kit.StartUpAsync(ControlKit.Up("web"));
        int b = await kit.StartUpAsync(ControlKit.Up("web"));
        int db = await kit.StartUpAsync(ControlKit.Up("db"));
        var outcomes = await kit.Client.StopAsync(["web"]);
        Assert.Equal(2, outcomes.Count);
        Assert.All(outcomes, o => Assert.Equal(("web", "stopped"), (o.Name, o.Outcome)));
        Assert.Equal(new[] { a, b }.Order(), outcomes.Select(o => o.Pid!.Value).Order());
        Assert.False(Procs.Alive(a) || Procs.Alive(b));
        Assert.True(Procs.Alive(db));
        Assert.Equal(2, (await kit.Client.StatusAsync("web")).Count);
        // "all" alone is every unit.
        Assert.Equal(["already-stopped", "already-stopped", "stopped"], (await kit.Client.StopAsync(["all"])).Select(o => o.Outcome));
    }

    [Fact]
    public async Task An_unknown_name_fails_the_whole_request_with_the_nearest_name_and_changes_nothing()
    {
        await using var kit = await ControlKit.StartAsync();
        int web = await kit.StartUpAsync(ControlKit.Up("web"));
        var e = await Assert.ThrowsAsync<ControlException>(() => kit.Client.StopAsync(["web", "wbe"]));
        Assert.Equal(ControlErrors.NoSuchUnit, e.Code);
        Assert.Equal("no unit named 'wbe'", e.Message);
        Assert.Equal("web", e.Suggestion);
        Assert.Equal(web, kit.Sup.Units[0].Pid);
        Assert.Equal(UnitState.Running, kit.Sup.Units[0].State);
        Assert.DoesNotContain(kit.Rec.Events, ev => ev is StopRequested);
        // The connection is still in step: the next call works.
        Assert.Equal("running", Assert.Single(await kit.Client.ListAsync()).State);
    }

    [Fact]
    public async Task Without_wait_the_requests_are_posted_and_the_call_returns()
    {
        await using var kit = await ControlKit.StartAsync();
        int pid = await kit.StartUpAsync(ControlKit.Up("slow"));
        var outcome = Assert.Single(await kit.Client.StopAsync(["slow"], wait: false));
        Assert.Equal(("requested", pid), (outcome.Outcome, outcome.Pid));
        await kit.Rec.Event<Stopped>();
        Assert.False(Procs.Alive(pid));
        Assert.Equal("requested", Assert.Single(await kit.Client.StartAsync(["slow"], wait: false)).Outcome);
        var spawned = await kit.Rec.Event<Spawned>(s => s.Pid != pid);
        Assert.True(Procs.Alive(spawned.Pid!.Value));
    }

    [Fact]
    public async Task Signal_reaches_the_main_process_and_a_stopped_unit_is_not_running()
    {
        await using var kit = await ControlKit.StartAsync();
        var unit = kit.Sup.Start(Fixture.Spec("sig", "marker", "up", "hang").WithSchedule());
        var up = await kit.Rec.Marker("up");
        var outcome = Assert.Single(await kit.Client.SignalAsync(10, ["sig"]));
        Assert.Equal(("signalled", true, up.Pid, "sent SIGUSR1"), (outcome.Outcome, outcome.Ok, outcome.Pid, outcome.Detail));
        var exit = await kit.Rec.Event<Exited>(e => e.UnitId == unit.Id);
        Assert.Equal(10, exit.Status.Signal);
        var none = Assert.Single(await kit.Client.SignalAsync(10, ["sig"]));
        Assert.Equal(("not-running", false), (none.Outcome, none.Ok));
        var bad = await Assert.ThrowsAsync<ControlException>(() => kit.Client.SignalAsync(0, ["sig"]));
        Assert.Equal(ControlErrors.BadRequest, bad.Code);
    }

    [Fact]
    public async Task Events_give_the_history_and_follow_streams_the_new_ones()
    {
        await using var kit = await ControlKit.StartAsync();
        int pid = await kit.StartUpAsync(ControlKit.Up("web"));
        var history = await kit.Client.EventsAsync();
        var spawned = Assert.Single(history, e => e.Kind == "spawned");
        Assert.Equal(("web", pid, "running"), (spawned.Name, spawned.Pid, spawned.State));
        Assert.StartsWith("started ", spawned.Reason);
        Assert.Empty(await kit.Client.EventsAsync(DateTimeOffset.UtcNow.AddHours(1)));

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var seen = new List<EventInfo>();
        await using var stream = kit.Client.FollowEventsAsync(cancel: cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await stream.MoveNextAsync());
        seen.Add(stream.Current); // the backlog first: the spawn
        Assert.Equal("spawned", seen[0].Kind);
        await kit.Client.StopAsync(["web"], wait: false);
        while (seen[^1].Kind != "stopped" && await stream.MoveNextAsync()) seen.Add(stream.Current);
        Assert.Equal(["spawned", "stop-requested"], seen.Select(e => e.Kind).Where(k => k is "spawned" or "stop-requested"));
        Assert.Equal("stopped", seen[^1].Kind);
        Assert.Single(seen, e => e.Kind == "spawned"); // nothing twice between backlog and live
    }

    [Fact]
    public async Task Add_starts_a_unit_and_bad_requests_change_nothing()
    {
        await using var kit = await ControlKit.StartAsync();
        var added = Assert.Single(await kit.Client.AddAsync(new AddRequest
        {
            Name = "added", Command = [Fixture.Path, "env", "GREETING", "marker", "up", "hang"], Cwd = kit.Dir.FullName,
            Env = new Dictionary<string, string> { ["GREETING"] = "hi" }, Restart = "on-failure",
        }));
        Assert.Equal(("added", "added", true), (added.Name, added.Outcome, added.Ok));
        Assert.NotNull(added.Pid);
        await kit.Rec.Line(l => l.Text == "ENV GREETING=hi", "the env reached the child");
        var unit = Assert.Single(kit.Sup.Units);
        Assert.Equal(RestartPolicyKind.OnFailure, unit.Spec.Restart.Policy);
        Assert.Equal(kit.Dir.FullName, unit.Spec.Cwd);

        async Task Refused(AddRequest r, string code, string contains)
        {
            var e = await Assert.ThrowsAsync<ControlException>(() => kit.Client.AddAsync(r));
            Assert.Equal(code, e.Code);
            Assert.Contains(contains, e.Message);
        }
        await Refused(new AddRequest { Name = "added", Command = ["true"] }, ControlErrors.BadRequest, "exists already");
        await Refused(new AddRequest { Name = "b", Command = ["true"], Cwd = "relative/dir" }, ControlErrors.BadRequest, "must be an absolute path");
        await Refused(new AddRequest { Name = "b", Command = [] }, ControlErrors.BadRequest, "unit.command");
        await Refused(new AddRequest { Name = "", Command = ["true"] }, ControlErrors.BadRequest, "unit.name");
        await Refused(new AddRequest { Name = "all", Command = ["true"] }, ControlErrors.BadRequest, "'all'");
        await Refused(new AddRequest { Name = "b", Command = ["true"], Env = new Dictionary<string, string> { ["A=B"] = "x" } }, ControlErrors.ConfigError, "env");
        var policy = await Assert.ThrowsAsync<ControlException>(() => kit.Client.AddAsync(new AddRequest { Name = "b", Command = ["true"], Restart = "alwyas" }));
        Assert.Equal(("always", ControlErrors.BadRequest), (policy.Suggestion, policy.Code));
        Assert.Single(kit.Sup.Units);
    }

    [Fact]
    public async Task Remove_stops_the_units_and_forgets_them()
    {
        await using var kit = await ControlKit.StartAsync();
        int web = await kit.StartUpAsync(ControlKit.Up("web"));
        int db = await kit.StartUpAsync(ControlKit.Up("db"));
        var removed = Assert.Single(await kit.Client.RemoveAsync(["web"]));
        Assert.Equal(("web", "removed", true, web), (removed.Name, removed.Outcome, removed.Ok, removed.Pid));
        Assert.False(Procs.Alive(web));
        Assert.Equal(["db"], (await kit.Client.ListAsync()).Select(r => r.Name));
        Assert.True(Procs.Alive(db));
        var again = await Assert.ThrowsAsync<ControlException>(() => kit.Client.RemoveAsync(["web"]));
        Assert.Equal(ControlErrors.NoSuchUnit, again.Code);
    }

    [Fact]
    public async Task Save_writes_the_running_set_as_a_config_the_loader_reads_back()
    {
        await using var kit = await ControlKit.StartAsync(configPath: "/etc/vigil/app.yaml");
        await kit.StartUpAsync(ControlKit.Up("web") with { Restart = RestartSpec.Default with { Policy = RestartPolicyKind.OnFailure } });
        await kit.Client.AddAsync(new AddRequest { Name = "added", Command = [Fixture.Path, "marker", "up", "hang"], Cwd = kit.Dir.FullName });
        var saved = await kit.Client.SaveAsync();
        Assert.Equal(("/etc/vigil/app.yaml", 2), (saved.ConfigPath, saved.Units));
        var config = ConfigLoader.Parse(saved.Yaml, "saved.yaml", kit.Dir.FullName);
        Assert.Equal(["web", "added"], config.Processes.Select(p => p.Name));
        Assert.Equal(RestartPolicyKind.OnFailure, config.Processes[0].Restart.Policy);
        Assert.Equal(kit.Dir.FullName, config.Processes[1].Cwd);
    }

    [Fact]
    public async Task Add_refuses_a_command_that_cannot_be_found_with_the_checks_details()
    {
        await using var kit = await ControlKit.StartAsync();
        var e = await Assert.ThrowsAsync<ControlException>(() => kit.Client.AddAsync(new AddRequest { Name = "ghost", Command = ["/nonexistent/vigil-test-program"] }));
        Assert.Equal(ControlErrors.ConfigError, e.Code);
        Assert.NotEmpty(e.Details);
        Assert.Contains("/nonexistent/vigil-test-program", e.Message);
        Assert.Empty(kit.Sup.Units);
    }

    [Fact]
    public async Task Reload_goes_to_the_host_and_without_one_is_unsupported()
    {
        await using (var none = await ControlKit.StartAsync())
        {
            var e = await Assert.ThrowsAsync<ControlException>(() => none.Client.ReloadAsync());
            Assert.Equal(ControlErrors.Unsupported, e.Code);
        }
        var asked = new List<bool>();
        await using var kit = await ControlKit.StartAsync(reload: (dryRun, _) =>
        {
            lock (asked) asked.Add(dryRun);
            if (asked.Count == 3)
                throw new ControlException(ControlErrors.ConfigError, "vigil.yaml: 2 errors", details: ["vigil.yaml:3:5: bad", "vigil.yaml:4:1: worse"]);
            return Task.FromResult(new ReloadResult { DryRun = dryRun, Changes = [new UnitChange { Change = "changed", Name = "web", Fields = ["command", "env"] }] });
        });
        var dry = await kit.Client.ReloadAsync(dryRun: true);
        Assert.True(dry.DryRun);
        var change = Assert.Single(dry.Changes);
        Assert.Equal(("changed", "web"), (change.Change, change.Name));
        Assert.Equal(["command", "env"], change.Fields);
        Assert.False((await kit.Client.ReloadAsync()).DryRun);
        var invalid = await Assert.ThrowsAsync<ControlException>(() => kit.Client.ReloadAsync());
        Assert.Equal(ControlErrors.ConfigError, invalid.Code);
        Assert.Equal(["vigil.yaml:3:5: bad", "vigil.yaml:4:1: worse"], invalid.Details);
        Assert.Equal([true, false, false], asked);
    }

    [Fact]
    public async Task Shutdown_asks_the_host_and_returns_once_the_server_has_closed()
    {
        await using var kit = await ControlKit.StartAsync();
        int pid = await kit.StartUpAsync(ControlKit.Up("web"));
        // The program's part (vigil run): on the request, close the socket, then stop the units.
        _ = kit.ShutdownRequested.Task.ContinueWith(_ => kit.Server.DisposeAsync().AsTask(), TaskScheduler.Default).Unwrap();
        await kit.Client.ShutdownAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(kit.ShutdownRequested.Task.IsCompleted);
        Assert.False(File.Exists(kit.SocketPath), "the socket file is removed with the server");
        var after = await Assert.ThrowsAsync<ControlException>(() => ControlClient.ConnectAsync(kit.SocketPath));
        Assert.Equal(ControlErrors.NotRunning, after.Code);
        Assert.True(Procs.Alive(pid)); // stopping the units is the program's business, after the request
    }

    [Fact]
    public async Task Shutdown_of_a_vigil_in_another_process_returns_once_that_process_has_ended()
    {
        await using var kit = await ControlKit.StartAsync();
        // "Vigil" is a fixture child here: the client waits for its PID after the server has closed the connection.
        var standIn = kit.Sup.Start(Fixture.Spec("stand-in", "marker", "up", "hang"));
        var up = await kit.Rec.Marker("up");
        ControlServer? server = null;
        server = ControlServer.Start(new OtherPid(kit.Local, up.Pid, () => _ = Task.Run(async () =>
        {
            await server!.DisposeAsync();
            await Task.Delay(TimeSpan.FromMilliseconds(300), TimeProvider.System); // the process ends a while after closing
            await standIn.Kill();
        })), Path.Combine(kit.SocketDir, "other.sock"));
        await using (var client = await ControlClient.ConnectAsync(server.SocketPath))
            await client.ShutdownAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(Procs.Alive(up.Pid), "ShutdownAsync returned while the process still ran");

        // One that has not ended within the bound is an error that names it.
        kit.Sup.Start(Fixture.Spec("stubborn", "marker", "up2", "hang"));
        var up2 = await kit.Rec.Marker("up2");
        ControlServer? server2 = null;
        server2 = ControlServer.Start(new OtherPid(kit.Local, up2.Pid, () => _ = server2!.DisposeAsync().AsTask()), Path.Combine(kit.SocketDir, "other2.sock"));
        await using var impatient = await ControlClient.ConnectAsync(server2.SocketPath, TimeProvider.System, TimeSpan.FromSeconds(1));
        var e = await Assert.ThrowsAsync<ControlException>(() => impatient.ShutdownAsync());
        Assert.Equal(ControlErrors.Internal, e.Code);
        Assert.Contains($"vigil#{up2.Pid} has not exited 1s after the shutdown request", e.Message);
        Assert.True(Procs.Alive(up2.Pid));
    }

    [Fact]
    public async Task No_socket_and_a_stale_socket_are_not_running_with_the_socket_named()
    {
        var dir = Directory.CreateTempSubdirectory("vigil-ctl-");
        try
        {
            var path = Path.Combine(dir.FullName, "none.sock");
            var e = await Assert.ThrowsAsync<ControlException>(() => ControlClient.ConnectAsync(path));
            Assert.Equal(ControlErrors.NotRunning, e.Code);
            Assert.Equal($"no running vigil (no socket at {path}); start one with 'vigil run'", e.Message);
            var stale = Sockets.Stale(Path.Combine(dir.FullName, "stale.sock"));
            var s = await Assert.ThrowsAsync<ControlException>(() => ControlClient.ConnectAsync(stale));
            Assert.Equal(ControlErrors.NotRunning, s.Code);
        }
        finally { dir.Delete(recursive: true); }
    }
}
