using System.Threading.Channels;
using Vigil.Health;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Supervision;

/// <summary>
/// Each probe's last result (<see cref="Unit.ProbeStatuses"/>): unit, on the probe runner with a fake clock (a check
/// takes exactly the time the test gives it); integration, an exec probe failing against a real fixture child.
/// </summary>
[Collection("processes")]
public sealed class ProbeStatusTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);

    /// <summary>Each check takes 250 ms of fake time, then answers from the script (true = pass).</summary>
    private sealed class SlowProbe(FakeTimeProvider time, bool[] script) : IProbe
    {
        private int _checks;
        public Channel<int> Started { get; } = Channel.CreateUnbounded<int>();

        public async ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
        {
            int n = Interlocked.Increment(ref _checks);
            var took = Task.Delay(Ms(250), time, cancel); // armed before the test is told, so its Advance reaches it
            Started.Writer.TryWrite(n);
            await took;
            return script[n - 1] ? ProbeResult.Ok("fine") : ProbeResult.Fail($"bad {n}");
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task The_runner_keeps_each_probes_last_result_latency_time_and_failures_in_a_row()
    {
        var time = new FakeTimeProvider();
        var probe = new SlowProbe(time, [false, false, true, false]);
        var spec = new ProbeSpec(new CustomCheck("db", () => probe)) { Name = "db", Period = TimeSpan.FromSeconds(1), Timeout = TimeSpan.FromSeconds(5), FailureThreshold = 2 };
        var idle = Channel.CreateUnbounded<string>();
        using var launcher = new OsLauncher(subreaper: false);
        await using var runner = ProbeRunner.Create([spec], "unit", [BuiltInProbes.Instance], new Dictionary<string, string>(), 1, time, _ => { })!;
        runner.Waiting = s => idle.Writer.TryWrite(s.Name);

        var before = Assert.Single(runner.Statuses);
        Assert.Equal(new ProbeStatus("db", "db", ProbeRole.Liveness, ProbeAction.Restart, ProbeOutcome.Unknown, null, null, null, 0), before);

        runner.Start(s => new ProbeTarget
        {
            UnitName = "unit", Pid = 1, Session = 1, Spec = s, Time = time, StartedAt = time.GetTimestamp(),
            WorkingDirectory = "/", LastOutputAt = () => null, Launcher = launcher,
        });
        (ProbeOutcome Result, int Failures, string? Detail)[] expected =
        [
            (ProbeOutcome.Failing, 1, "bad 1"),
            (ProbeOutcome.Failed, 2, "bad 2"),
            (ProbeOutcome.Ok, 0, "bad 2"),   // the last failure's detail stays
            (ProbeOutcome.Failing, 1, "bad 4"),
        ];
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(i + 1, await probe.Started.Reader.ReadAsync().AsTask().WaitAsync(Wait));
            Assert.Equal(i == 0 ? ProbeOutcome.Unknown : expected[i - 1].Result, Assert.Single(runner.Statuses).Result); // not before the check ends
            time.Advance(Ms(250));
            await idle.Reader.ReadAsync().AsTask().WaitAsync(Wait);
            var st = Assert.Single(runner.Statuses);
            Assert.Equal(expected[i], (st.Result, st.ConsecutiveFailures, st.Detail));
            Assert.Equal(Ms(250), st.Latency);
            Assert.Equal(time.GetUtcNow(), st.At);
            time.Advance(Ms(750)); // the next period begins
        }
    }

    [Fact]
    public async Task ProbeStatuses_shows_a_failing_exec_probe_with_its_detail_and_latency_for_the_current_run()
    {
        await using var sup = new Supervisor();
        using var rec = new Recorder(sup);
        var failing = new ProbeSpec(new ExecCheck(["sh", "-c", "sleep 0.05; echo 'db: connection refused'; exit 3"]))
        { Name = "db", Period = Ms(500), Timeout = TimeSpan.FromSeconds(5), FailureThreshold = 3, Action = ProbeAction.Notify };
        var passing = new ProbeSpec(new ExecCheck(["true"])) { Name = "up", Role = ProbeRole.Readiness, Period = Ms(500), Timeout = TimeSpan.FromSeconds(5) };
        var unit = sup.Start(Fixture.Spec("svc", "marker", "up", "hang") with { Health = [failing, passing] });
        await rec.Marker("up");

        IReadOnlyList<ProbeStatus> seen = [];
        Assert.True(await Procs.Eventually(() => (seen = unit.ProbeStatuses) is [{ Result: ProbeOutcome.Failing }, ..], Wait),
            "never Failing: " + string.Join("; ", seen));
        var db = seen[0];
        Assert.Equal(("db", "exec", ProbeRole.Liveness, ProbeAction.Notify), (db.Name, db.Kind, db.Role, db.Action));
        Assert.Equal("exec check exited with code 3: db: connection refused", db.Detail);
        Assert.InRange(db.ConsecutiveFailures, 1, 2);
        Assert.True(db.Latency >= Ms(50), $"latency {db.Latency}"); // the check's own 50 ms sleep
        Assert.NotNull(db.At);

        Assert.True(await Procs.Eventually(() => (seen = unit.ProbeStatuses) is [{ Result: ProbeOutcome.Failed }, { Result: ProbeOutcome.Ok }], Wait),
            "never Failed: " + string.Join("; ", seen));
        Assert.True(seen[0].ConsecutiveFailures >= 3);
        Assert.Equal(("up", ProbeRole.Readiness, 0, (string?)null), (seen[1].Name, seen[1].Role, seen[1].ConsecutiveFailures, seen[1].Detail));
        var unhealthy = await rec.Event<Unhealthy>();
        Assert.Equal("db", unhealthy.Probe);
        Assert.Equal(UnitState.Running, unit.State); // notify only

        await unit.StopAndWaitAsync();
        Assert.Empty(unit.ProbeStatuses); // no run, no probes
    }
}
