using Vigil.Cli;
using Vigil.Launching;
using Vigil.Supervision;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>Unit: the status table of `vigil demo` (the future `vigil ls`).</summary>
public sealed class StatusTableTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 6, 0, 0, TimeSpan.Zero);

    private static UnitSnapshot Unit(string name, UnitState state, int? pid, bool? ready, TimeSpan? next = null, ExitStatus? last = null) =>
        new(1, name, state, pid is null ? ProcessStatus.Terminated : ProcessStatus.Sleeping, pid, Now - TimeSpan.FromSeconds(75), "cmd", [], 2, last, false, false, next)
        { Ready = ready };

    [Fact]
    public void Columns_line_up_and_readiness_is_yes_no_or_a_dash()
    {
        var table = StatusTable.Render(
        [
            Unit("web", UnitState.Running, 4121, true),
            Unit("worker", UnitState.Running, 4122, false),
            Unit("crasher", UnitState.Backoff, null, null, TimeSpan.FromSeconds(10), ExitStatus.Exited(3)),
        ], Now).Split('\n');
        Assert.Equal("NAME     STATE          PID   STATUS      READY  UPTIME  RESTARTS  LAST EXIT", table[0]);
        Assert.Equal("web      running        4121  sleeping    yes    75s     2         -", table[1]);
        Assert.Equal("worker   running        4122  sleeping    no     75s     2         -", table[2]);
        Assert.Equal("crasher  backoff (10s)  -     terminated  -      -       2         exited with code 3", table[3]);
    }
}
