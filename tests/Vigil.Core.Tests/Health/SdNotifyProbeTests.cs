using Vigil.Health;
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
}
