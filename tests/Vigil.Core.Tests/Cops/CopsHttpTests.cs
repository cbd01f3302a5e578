using System.Net.Http;
using Vigil.Health;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Vigil.Tether;
using Vigil.Tether.Cops;
using Xunit;

namespace Vigil.Tests.Cops;

/// <summary><c>kind: cops</c> over HTTP against the fixture's COPS responder, a process the test started outside
/// Vigil: heartbeats echo, then the seed's <c>/site/debug/hang</c> hangs it and the kill action kills it by the PID it
/// reported.</summary>
[Collection("processes")]
public sealed class CopsHttpTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Heartbeats_echo_until_the_responder_hangs_then_it_is_killed_by_its_reported_pid()
    {
        using var outside = OutsideProcess.Start("cops-http", "/site", "hang");
        var port = int.Parse((await outside.Line("COPS-HTTP port=")).Split('=')[1]);
        await using var cops = new CopsProbes(TetherSettings.Default.Broker);
        await using var sup = new Supervisor(new SupervisorOptions { ProbeProviders = [cops] });
        using var rec = new Recorder(sup);
        var probe = new ProbeSpec(new CopsCheck { HttpUrl = $"http://127.0.0.1:{port}/site" })
        {
            Period = TimeSpan.FromMilliseconds(200), Timeout = TimeSpan.FromMilliseconds(800), FailureThreshold = 2, Action = ProbeAction.Kill,
        };
        var unit = sup.Attach("site", outside.Pid, new ProcessSpec { Health = [probe] });
        await rec.Event<Spawned>(timeout: Wait);
        // Passing checks put the reported PID on the unit's probe values.
        Assert.True(await Procs.Eventually(() => unit.Snapshot.Gauges.TryGetValue("cops_pid", out var p) && (int)p == outside.Pid, Wait),
            "no cops_pid gauge: " + string.Join(",", unit.Snapshot.Gauges));
        Assert.DoesNotContain(rec.Events, e => e is Unhealthy);

        using (var http = new HttpClient())
            (await http.PutAsync($"http://127.0.0.1:{port}/site/debug/hang", new StringContent("1"))).EnsureSuccessStatusCode();
        var unhealthy = await rec.Event<Unhealthy>(timeout: Wait);
        Assert.StartsWith("Process site is hung or dead: ", unhealthy.Why);
        Assert.Contains($"last reported pid {outside.Pid}", unhealthy.Why);
        Assert.Equal(128 + Vigil.Launching.Signals.SIGKILL, await outside.Exited(Wait));
        await rec.Event<NotRestarting>(timeout: Wait);
        Assert.Equal(UnitState.Exited, unit.State);
    }

    [Fact]
    public async Task A_new_pid_in_the_replies_is_a_notice_that_someone_restarted_the_process()
    {
        int port;
        int firstPid;
        await using var cops = new CopsProbes(TetherSettings.Default.Broker);
        await using var sup = new Supervisor(new SupervisorOptions { ProbeProviders = [cops] });
        using var rec = new Recorder(sup);
        using (var first = OutsideProcess.Start("cops-http", "/site", "hang"))
        {
            port = int.Parse((await first.Line("COPS-HTTP port=")).Split('=')[1]);
            firstPid = first.Pid;
            // The unit Vigil runs is not the responder: its probe reaches a service someone else manages.
            var probe = new ProbeSpec(new CopsCheck { HttpUrl = $"http://127.0.0.1:{port}/site" })
                { Period = TimeSpan.FromMilliseconds(200), Timeout = TimeSpan.FromMilliseconds(800), FailureThreshold = 1000, Action = ProbeAction.Notify };
            sup.Start(Fixture.Spec("watcher", "hang") with { Health = [probe] });
            Assert.True(await Procs.Eventually(() => sup.Units[0].Snapshot.Gauges.TryGetValue("cops_pid", out var p) && (int)p == firstPid, Wait), "no reply from the first responder");
        }
        // Its manager starts it again, on the same port.
        using var second = OutsideProcess.StartWith(port, "cops-http", "/site", "hang");
        await second.Line("COPS-HTTP port=");
        var notice = await rec.Event<ProbeNotice>(timeout: Wait);
        Assert.Equal($"cops: Process watcher now answers as pid {second.Pid} (was {firstPid}): restarted by someone", notice.Reason);
        await sup.StopAll();
    }

    [Fact]
    public async Task The_READMEs_python_responder_passes_the_probe_and_a_frozen_one_is_killed_by_its_pid()
    {
        // The documentation's own responder, taken from the README as it is printed there.
        var readme = File.ReadAllText(Path.Combine(ClientApp.Repo, "README.md"));
        int start = readme.IndexOf("```python\n# A COPS responder", StringComparison.Ordinal);
        Assert.True(start >= 0, "the README has no COPS responder in Python");
        start = readme.IndexOf('\n', start) + 1;
        var script = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];
        Assert.True(script.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length <= 22, "the responder is meant to be about 20 lines");
        var file = Path.Combine(Path.GetTempPath(), $"vigil-cops-responder-{Guid.NewGuid():N}.py");
        File.WriteAllText(file, script);
        int port = Ports.Free();
        // In a session of its own, as an outside service manager starts it (and spared by the test host's reaper).
        using var python = OutsideProcess.Program("python3", file, port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            await using var cops = new CopsProbes(TetherSettings.Default.Broker);
            await using var sup = new Supervisor(new SupervisorOptions { ProbeProviders = [cops] });
            using var rec = new Recorder(sup);
            var probe = new ProbeSpec(new CopsCheck { HttpUrl = $"http://127.0.0.1:{port}/site" })
            {
                Period = TimeSpan.FromMilliseconds(200), Timeout = TimeSpan.FromMilliseconds(800), FailureThreshold = 2, Action = ProbeAction.Kill,
            };
            // Attached once it listens: python (through a pyenv shim here) can take over a second to start on a busy
            // machine, and two failed checks before it serves would kill it as hung.
            Assert.True(await Procs.Eventually(() => Listening(port) || python.Process.HasExited, Wait), "the python responder never listened");
            if (python.Process.HasExited) Assert.Fail($"python exited: {await python.Errors}");
            var unit = sup.Attach("site", python.Pid, new ProcessSpec { Health = [probe] });
            bool passed = await Procs.Eventually(() => unit.Snapshot.Gauges.TryGetValue("cops_pid", out var p) && (int)p == python.Pid, Wait);
            var why = passed ? "" : python.Process.HasExited ? await python.Errors : "(still running)";
            Assert.True(passed, $"the probe never passed on the python responder (pid {python.Pid}): probes "
                + string.Join(",", unit.ProbeStatuses.Select(p => $"{p.Result} {p.Detail}")) + $"; state {unit.State}; python's stderr: {why}");
            Assert.Equal(0, Vigil.Launching.Native.kill(python.Pid, Vigil.Launching.Signals.SIGSTOP));
            var unhealthy = await rec.Event<Unhealthy>(timeout: Wait);
            Assert.Contains($"last reported pid {python.Pid}", unhealthy.Why);
            Assert.Equal(128 + Vigil.Launching.Signals.SIGKILL, await python.Exited(Wait));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static bool Listening(int port)
    {
        using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try { s.Connect(System.Net.IPAddress.Loopback, port); return true; }
        catch (System.Net.Sockets.SocketException) { return false; }
    }

    [Fact]
    public void A_reply_is_read_in_both_number_forms_and_refused_when_it_is_not_one()
    {
        static CopsReply? Of(string json) => CopsReply.Parse(System.Text.Encoding.UTF8.GetBytes(json), out _);
        Assert.Equal(new CopsReply(7, 42), Of("""{"cops_heartbeat": 7, "pid": 42, "version_tag": "x"}"""));
        Assert.Equal(new CopsReply(7, 42), Of("""{"cops_heartbeat": "7", "pid": "42"}"""));
        Assert.Null(Of("""{"pid": 42}"""));
        Assert.Null(Of("""{"cops_heartbeat": 7, "pid": 0}"""));
        Assert.Null(Of("[1]"));
        Assert.Null(Of("not json"));
    }
}
