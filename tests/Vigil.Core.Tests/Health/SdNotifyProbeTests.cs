using System.Diagnostics;
using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Vigil.Tests.Health;

/// <summary>Integration: a real child speaking systemd's notify protocol to the NOTIFY_SOCKET Vigil gives it.</summary>
[Collection("processes")]
public sealed class SdNotifyProbeTests(ITestOutputHelper output)
{
    /// <summary>A name no other test run uses, so its socket files can be told apart in the shared folder.</summary>
    private static string UniqueName(string stem) => $"{stem}-{Guid.NewGuid():N}"[..(stem.Length + 9)];

    private static ProbeSpec SdNotify(TimeSpan? watchdog, int periodMs = 250) => ResourceProbeKit.Probe(new SdNotifyCheck(watchdog), periodMs) with
    {
        Timeout = watchdog ?? TimeSpan.FromSeconds(30),
    };

    [Fact]
    public async Task Ready_marks_the_unit_ready_and_a_stopped_watchdog_restarts_it()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("notifier", "notify", "READY=1", "watchdog", "200", "10", "marker", "quiet", "hang").WithSchedule(100)
            .WithProbes(SdNotify(TimeSpan.FromSeconds(1))));

        var ready = await rec.Event<ReadinessChanged>(r => r.Ready);
        Assert.Equal("sd-notify", ready.Probe);
        Assert.Equal("READY=1", ready.Detail);
        Assert.True(await Procs.Eventually(() => unit.Snapshot.Ready == true), $"ready: {unit.Snapshot.Ready}");

        // Ten pings 200 ms apart keep it healthy; the marker comes 200 ms after the last one.
        var quiet = await rec.Marker("quiet");
        var bad = await rec.Event<Unhealthy>();
        Assert.Equal(quiet.Pid, bad.Pid);
        Assert.Matches(@"^hung: no WATCHDOG=1 for 1(\.\d)?s$", bad.Why);
        var lastPing = quiet.Time - TimeSpan.FromMilliseconds(200);
        // The watchdog window (1 s) plus one period (250 ms), with room for a loaded machine; never before the window.
        Assert.InRange(output.Latency("sd-notify watchdog", lastPing, bad), TimeSpan.FromMilliseconds(700), TimeSpan.FromSeconds(4));

        var again = await rec.Event<Spawned>(s => s.RestartCount == 1);
        // The new run is not ready until it says READY=1 again.
        var readyAgain = await rec.Event<ReadinessChanged>(r => r.Ready && r.Pid == again.Pid);
        Assert.True(readyAgain.Time > again.Time);
    }

    [Fact]
    public async Task The_child_sees_a_private_NOTIFY_SOCKET_and_WATCHDOG_USEC_and_no_socket_file_outlives_the_supervisor()
    {
        string name = UniqueName("env");
        string socket;
        await using (var sup = new Supervisor())
        {
            using var rec = new Recorder(sup);
            var unit = sup.Start(Fixture.Spec(name, "env", "NOTIFY_SOCKET", "env", "WATCHDOG_USEC", "env", "WATCHDOG_PID", "marker", "a", "hang")
                .WithProbes(SdNotify(TimeSpan.FromSeconds(5))));
            var line = await rec.Line(l => l.Text.StartsWith("ENV NOTIFY_SOCKET"), "NOTIFY_SOCKET");
            await rec.Marker("a");
            socket = line.Text["ENV NOTIFY_SOCKET=".Length..];
            Assert.StartsWith("/", socket);
            Assert.Matches($@"/notify-{name}-[0-9a-f]{{12}}\.sock$", socket);
            Assert.True(File.Exists(socket), socket);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(socket)!));
            Assert.Contains(rec.Lines, l => l.Text == "ENV WATCHDOG_USEC=5000000");
            Assert.Contains(rec.Lines, l => l.Text == "ENV WATCHDOG_PID unset");
            // Without READY=1 an sd-notify unit is not ready.
            Assert.False(unit.Snapshot.Ready);

            // A restart gives the new run a socket of its own and removes the old one.
            await unit.RestartAsync();
            var second = await rec.WaitFor((_, lines) => lines.Where(l => l.Text.StartsWith("ENV NOTIFY_SOCKET")).Skip(1).FirstOrDefault(), "the second run's NOTIFY_SOCKET");
            Assert.NotEqual(socket, second.Text["ENV NOTIFY_SOCKET=".Length..]);
            Assert.True(await Procs.Eventually(() => !File.Exists(socket)), $"{socket} outlived its run");
            socket = second.Text["ENV NOTIFY_SOCKET=".Length..];
            Assert.True(File.Exists(socket));
        }
        Assert.False(File.Exists(socket), $"{socket} outlived the supervisor");
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(socket)!, $"notify-{name}-*"));
    }

    [Fact]
    public async Task Stopping_in_a_multi_line_datagram_makes_it_not_ready()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("drainer", "notify", "READY=1", "marker", "up", "sleep", "300", "notify", "STATUS=draining\nSTOPPING=1", "hang")
            .WithProbes(SdNotify(null)));
        await rec.Event<ReadinessChanged>(r => r.Ready);
        var notReady = await rec.Event<ReadinessChanged>(r => !r.Ready);
        Assert.Equal("STOPPING=1", notReady.Detail);
        Assert.True(await Procs.Eventually(() => unit.Snapshot.Ready == false));
        Assert.Empty(rec.Events.OfType<Unhealthy>()); // readiness only: no watchdog, no failure
    }

    [Fact]
    public async Task As_a_readiness_probe_it_reports_not_ready_until_READY_1_and_never_restarts()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("late", "marker", "a", "sleep", "500", "notify", "READY=1", "marker", "b", "hang")
            .WithProbes(SdNotify(null) with { Role = ProbeRole.Readiness }));
        var notYet = await rec.Event<ReadinessChanged>(r => !r.Ready);
        Assert.Equal("not ready: no READY=1 yet", notYet.Detail);
        await rec.Marker("b");
        var ready = await rec.Event<ReadinessChanged>(r => r.Ready);
        Assert.True(ready.Time > notYet.Time);
        Assert.True(await Procs.Eventually(() => unit.Snapshot.Ready == true));
        Assert.Empty(rec.Events.OfType<Unhealthy>());
    }

    [Fact]
    public async Task Watchdog_trigger_fails_the_next_check_and_shows_the_last_status()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        sup.Start(Fixture.Spec("wedged", "notify", "READY=1", "notify", "STATUS=wedged on lock", "notify", "WATCHDOG=trigger", "marker", "sent", "hang")
            .WithSchedule(100).WithProbes(SdNotify(null)));
        var sent = await rec.Marker("sent");
        var bad = await rec.Event<Unhealthy>();
        Assert.Equal("hung: the process sent WATCHDOG=trigger (STATUS=wedged on lock)", bad.Why);
        output.Latency("sd-notify trigger", sent.Time, bad);
        await rec.Event<Spawned>(s => s.RestartCount == 1);
    }

    [Fact]
    public async Task Watchdog_usec_from_the_child_turns_the_watchdog_on_and_sets_its_window()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // No watchdog configured; the child asks for 500 ms and then never pings.
        sup.Start(Fixture.Spec("selfwatch", "notify", "WATCHDOG_USEC=500000", "marker", "asked", "hang").WithSchedule(100).WithProbes(SdNotify(null, 100)));
        var asked = await rec.Marker("asked");
        var bad = await rec.Event<Unhealthy>();
        Assert.Matches(@"^hung: no WATCHDOG=1 for 0?\.?\d+m?s$", bad.Why);
        Assert.InRange(output.Latency("sd-notify WATCHDOG_USEC", asked.Time, bad), TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(4));
    }

    /// <summary>A fixture started by the test, outside any unit, with <paramref name="socket"/> as its NOTIFY_SOCKET: a
    /// neighbour of the same user that found the address (as anyone can, in /proc/PID/environ).</summary>
    private static async Task Neighbour(string socket, params string[] steps)
    {
        var psi = new ProcessStartInfo(Fixture.Path, steps) { UseShellExecute = false, RedirectStandardOutput = true };
        psi.Environment["NOTIFY_SOCKET"] = socket;
        using var p = Process.Start(psi)!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await p.WaitForExitAsync(cts.Token);
        Assert.Equal(0, p.ExitCode);
    }

    private static double Gauge(Unit unit, string name) => unit.Snapshot.Gauges.GetValueOrDefault(name);

    private static string Gauges(Unit unit) => string.Join(", ", unit.Snapshot.Gauges.Select(g => $"{g.Key}={g.Value}"));

    [Fact]
    public async Task A_neighbour_outside_the_unit_is_ignored_while_the_main_process_is_heard()
    {
        var go = Path.Combine(Path.GetTempPath(), $"vigil-go-{Guid.NewGuid():N}");
        try
        {
            await using var sup = new Supervisor();
            using var rec = new Recorder(sup);
            var unit = sup.Start(Fixture.Spec("neighboured", "env", "NOTIFY_SOCKET", "marker", "listening", "wait-file", go, "notify", "READY=1", "hang")
                .WithSchedule(100).WithProbes(SdNotify(null, 100)));
            var line = await rec.Line(l => l.Text.StartsWith("ENV NOTIFY_SOCKET="), "NOTIFY_SOCKET");
            var main = await rec.Marker("listening");

            await Neighbour(line.Text["ENV NOTIFY_SOCKET=".Length..], "notify", "WATCHDOG=trigger", "notify", "READY=1");
            // Both were read and refused (a check counted them), so neither made it ready nor failed it.
            Assert.True(await Procs.Eventually(() => Gauge(unit, "notify_refused") == 2), Gauges(unit));
            Assert.False(unit.Snapshot.Ready);

            var opened = DateTimeOffset.Now;
            File.WriteAllText(go, ""); // now the main process sends READY=1
            var ready = await rec.Event<ReadinessChanged>(r => r.Ready);
            Assert.Equal("READY=1", ready.Detail);
            Assert.Equal(main.Pid, ready.Pid);
            Assert.True(ready.Time >= opened, "ready before the main process said so");
            // A trigger taken from the neighbour would have failed the check that counted it, reported before this.
            Assert.Empty(rec.Events.OfType<Unhealthy>());
            Assert.Single(rec.Events.OfType<Spawned>());
        }
        finally { File.Delete(go); }
    }

    [Theory]
    [InlineData(NotifyAccess.All)]
    [InlineData(NotifyAccess.Main)]
    public async Task A_child_of_the_main_process_is_heard_only_with_notify_access_all(NotifyAccess access)
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var unit = sup.Start(Fixture.Spec("family", "notify-child", "READY=1", "marker", "sent", "hang")
            .WithProbes(ResourceProbeKit.Probe(new SdNotifyCheck(null) { Access = access }, 100) with { Timeout = TimeSpan.FromSeconds(30) }));
        var sent = await rec.Marker("sent");
        var child = await rec.Line(l => l.Text.StartsWith("NOTIFY-CHILD pid="), "the child's pid");
        Assert.NotEqual(sent.Pid.ToString(), child.Text["NOTIFY-CHILD pid=".Length..]);
        if (access == NotifyAccess.All)
        {
            var ready = await rec.Event<ReadinessChanged>(r => r.Ready);
            Assert.Equal("READY=1", ready.Detail);
            Assert.True(await Procs.Eventually(() => unit.Snapshot.Ready == true));
            Assert.Equal(0, Gauge(unit, "notify_refused"));
        }
        else
        {
            Assert.True(await Procs.Eventually(() => Gauge(unit, "notify_refused") == 1), Gauges(unit));
            Assert.False(unit.Snapshot.Ready);
            Assert.DoesNotContain(rec.Events.OfType<ReadinessChanged>(), r => r.Ready);
        }
    }

    [Fact]
    public async Task A_flood_from_the_main_process_is_rate_limited_without_spinning_and_its_watchdog_pings_still_count()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        // While a thread floods STATUS= as fast as the socket takes it, the main thread pings every 100 ms for 4 s; the
        // watchdog window is 2 s, so twenty pings lost in a row would fail the unit. (A 1 s window failed on a loaded
        // machine: with the kernel's queue of 10 datagrams full, the pinging thread competes with the flooding one for
        // each freed slot.)
        var unit = sup.Start(Fixture.Spec("flooder", "notify", "READY=1", "notify-flood", "STATUS=flooding", "watchdog", "100", "40", "marker", "pinged", "hang")
            .WithSchedule(100).WithProbes(SdNotify(TimeSpan.FromSeconds(2), 250)));
        await rec.Exactly("FLOOD started");
        long start = Stopwatch.GetTimestamp();
        double cpuBefore = OwnCpuSeconds();
        await rec.Marker("pinged", TimeSpan.FromSeconds(60));
        double cpu = OwnCpuSeconds() - cpuBefore;
        var wall = Stopwatch.GetElapsedTime(start);
        output.WriteLine($"flood: {cpu:F2} s of CPU in {wall.TotalSeconds:F2} s ({cpu / wall.TotalSeconds:P0} of a core) for the whole test process; {Gauges(unit)}");
        Assert.True(await Procs.Eventually(() => Gauge(unit, "notify_dropped") > 0), Gauges(unit));
        Assert.Empty(rec.Events.OfType<Unhealthy>());
        Assert.Single(rec.Events.OfType<Spawned>());
        // Loose: reading every datagram of an unthrottled flood keeps a core busy; the limit reads a bounded batch per pause.
        Assert.True(cpu < wall.TotalSeconds * 0.3, $"{cpu:F2} s of CPU in {wall.TotalSeconds:F2} s during the flood");
    }

    /// <summary>utime + stime of this process (Vigil runs in it) from /proc/self/stat.</summary>
    private static double OwnCpuSeconds() =>
        ProcFs.TryReadStat(Environment.ProcessId, out var st) ? (double)st.CpuTicks / ProcFs.ClockTicksPerSecond : throw new InvalidOperationException("no /proc/self/stat");

    [Fact]
    public async Task A_notify_folder_made_by_another_user_is_refused_and_the_vigil_executable_uses_a_fresh_private_one()
    {
        var runtime = Directory.CreateTempSubdirectory("vigil-xdg-");
        var work = Directory.CreateTempSubdirectory("vigil-xdg-work-");
        try
        {
            // The runtime folder lets anyone make folders in it; user nobody makes the one Vigil would use, open to all.
            File.SetUnixFileMode(runtime.FullName, (UnixFileMode)0x1FF);
            var theirs = Path.Combine(runtime.FullName, "vigil");
            using (var mkdir = Process.Start(new ProcessStartInfo("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "mkdir", "-m", "777", theirs]))!)
            {
                await mkdir.WaitForExitAsync();
                Assert.Equal(0, mkdir.ExitCode);
            }
            Assert.Equal($"it belongs to uid 65534, not to Vigil's euid {Native.geteuid()}", NotifyFolder.Refusal(theirs));
            File.WriteAllText(Path.Combine(work.FullName, "vigil.yaml"), $$"""
                processes:
                  - name: notifier
                    command: ["{{Fixture.Path}}", env, NOTIFY_SOCKET, notify, "READY=1", marker, up, hang]
                    health: [ { kind: sd-notify } ]
                """);
            await using var vigil = VigilProcess.StartWith(work.FullName, new Dictionary<string, string?> { ["XDG_RUNTIME_DIR"] = runtime.FullName }, "run", "--attach-output");
            var env = await vigil.WaitLine(l => l.Contains("ENV NOTIFY_SOCKET="), "NOTIFY_SOCKET");
            var socket = env[(env.IndexOf("ENV NOTIFY_SOCKET=", StringComparison.Ordinal) + "ENV NOTIFY_SOCKET=".Length)..].Trim();
            var fresh = Path.GetDirectoryName(socket)!;
            Assert.Matches($@"^{System.Text.RegularExpressions.Regex.Escape(runtime.FullName)}/vigil-{Native.geteuid()}-\w{{6}}$", fresh);
            Assert.Null(NotifyFolder.Refusal(fresh)); // Vigil's own, 0700, not a link
            await vigil.WaitLine(l => l.Contains(" notifier#") && l.Contains(" ready: ") && l.EndsWith("READY=1"), "the unit ready through the fresh folder's socket");
            Assert.True(await Procs.Eventually(() => vigil.Err.Any(l => l.StartsWith($"vigil: notifier: sd-notify: not using {theirs}: it belongs to uid 65534"))),
                string.Join('\n', vigil.Err));
            Assert.Empty(Directory.EnumerateFileSystemEntries(theirs)); // nothing of Vigil's went into their folder

            vigil.Signal(15);
            Assert.Equal(0, await vigil.WaitExit());
            Assert.False(Directory.Exists(fresh), $"{fresh} outlived Vigil");
        }
        finally
        {
            runtime.Delete(recursive: true);
            work.Delete(recursive: true);
        }
    }
}
