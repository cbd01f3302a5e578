using Vigil.Config;
using Vigil.Specs;
using Vigil.Tests.Cli;
using Vigil.Tests.Support;
using Vigil.Tether.Cops;
using Xunit;

namespace Vigil.Tests.Cops;

/// <summary>A COPS configuration file read as it is: both key sets, errors at their keys, and <c>vigil run -c</c> on one
/// watching a responder the test started.</summary>
[Collection("processes")]
public sealed class CopsFileTests : HarnessTests
{
    private static VigilConfig Parse(string json) => ConfigLoader.Parse(json, "cops.json", "/srv", TestExtensions.Vigil);

    [Fact]
    public void The_design_reviews_file_is_read_as_it_is()
    {
        var config = Parse("""
            {
                "ourUri": "/cops",
                "heartbeatFreq": 1000,
                "replyToGetDeadline": 900,
                "heartbeatErrorAllowance": 5,
                "processList": [
                    { "name": "hybridos_controller", "uri": "/site", "killOnHang": true },
                    { "name": "modbus_client", "uri": "/components/modbus_test_client", "killOnHang": true }
                ]
            }
            """);
        Assert.Equal(["hybridos_controller", "modbus_client"], config.Processes.Select(p => p.Name));
        var site = config.Processes[0];
        Assert.Equal("cops", site.Attach!.Probe); // watched, attached to the PID it reports; never started
        Assert.True(site.Command.IsDefaultOrEmpty);
        var probe = Assert.Single(site.Health);
        var check = Assert.IsType<CopsCheck>(probe.Check);
        Assert.Equal(("/site", "/cops", "hybridos_controller"), (check.MqttUri, check.OurUri, check.ReplyName));
        Assert.Equal((TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(900), 5, ProbeAction.Kill), (probe.Period, probe.Timeout, probe.FailureThreshold, probe.Action));
        Assert.Equal("/components/modbus_test_client", ((CopsCheck)config.Processes[1].Health[0].Check).MqttUri);
    }

    [Fact]
    public void The_shipped_codes_keys_are_read_too()
    {
        var config = Parse("""
            {
                "heartbeatFrequencyMS": 500,
                "patrolFrequencyMS": 1000,
                "processList": [
                    { "name": "site_controller", "uri": "/site", "killOnHang": false, "hangTimeAllowanceMS": 3000, "requiredForHealthyStatus": true,
                      "command": ["/usr/local/bin/site_controller", "-c", "/etc/site.json"] }
                ]
            }
            """);
        var unit = Assert.Single(config.Processes);
        var probe = Assert.Single(unit.Health);
        // 3000 ms of allowance at one heartbeat per 500 ms: six missed heartbeats; not killOnHang: an alarm only.
        Assert.Equal((TimeSpan.FromMilliseconds(500), 6, ProbeAction.Notify), (probe.Period, probe.FailureThreshold, probe.Action));
        Assert.Equal(TimeSpan.FromMilliseconds(500), probe.Timeout); // no deadline given: at most the period
        Assert.Null(unit.Attach); // the file says how to start it: Vigil starts it
        Assert.Equal(["/usr/local/bin/site_controller", "-c", "/etc/site.json"], unit.Command.ToArray());
    }

    [Fact]
    public void Errors_in_a_COPS_file_name_file_line_and_key()
    {
        var e = Assert.Throws<ConfigException>(() => Parse("""
            {
                "heartbeatFreq": "often",
                "processList": [
                    { "name": "a" },
                    { "name": "b", "uri": "/b", "killOnHnag": true }
                ]
            }
            """));
        var errors = e.Errors.Select(x => x.ToString()).ToList();
        Assert.Contains(errors, x => x.StartsWith("cops.json:2:5: heartbeatFreq: ", StringComparison.Ordinal));
        Assert.Contains("cops.json:4:9: processList[0]: COPS process 'a' needs its uri (like /site)", errors);
        Assert.Contains(errors, x => x.StartsWith("cops.json:5:37: processList[1].killOnHnag: unknown key", StringComparison.Ordinal) && x.Contains("killOnHang"));
    }

    [Fact]
    [Trait("Category", VigilProcess.Smoke)]
    public async Task Vigil_run_on_a_COPS_file_attaches_to_the_reported_pid_and_kills_it_on_hang()
    {
        using var outside = OutsideProcess.Start("cops-http", "/site", "hang", H.Token);
        var port = int.Parse((await outside.Line("COPS-HTTP port=")).Split('=')[1]);
        H.Write("cops.json", $$"""
            {
                "ourUri": "/cops",
                "heartbeatFreq": 300,
                "replyToGetDeadline": 800,
                "heartbeatErrorAllowance": 2,
                "http": "http://127.0.0.1:{{port}}",
                "processList": [ { "name": "site", "uri": "/site", "killOnHang": true } ]
            }
            """);
        var vigil = H.Start("run", "-c", "cops.json");
        var wait = TimeSpan.FromSeconds(60);
        await vigil.WaitLine(l => l.Contains($" site#{outside.Pid} spawned: ") && l.Contains("(attached)"), "site attached by its reported pid", wait);

        using (var http = new HttpClient())
            (await http.PutAsync($"http://127.0.0.1:{port}/site/debug/hang", new StringContent("1"))).EnsureSuccessStatusCode();
        var alarm = await vigil.WaitLine(l => l.Contains(" unhealthy: "), "the alarm", wait);
        Assert.Contains($" site#{outside.Pid} unhealthy: Process site is hung or dead: ", alarm);
        Assert.Equal(128 + Vigil.Launching.Signals.SIGKILL, await outside.Exited(wait));
        await vigil.WaitLine(l => l.Contains(" site waiting: "), "site waiting for its manager", wait);
        Assert.DoesNotContain(vigil.Out, l => l.Contains(" spawned: ") && !l.Contains("(attached)"));

        vigil.Signal(Vigil.Launching.Signals.SIGTERM);
        Assert.Equal(0, await vigil.WaitExit(wait));
    }
}
