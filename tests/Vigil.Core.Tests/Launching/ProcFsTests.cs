using System.Text;
using Vigil.Launching;
using Xunit;

namespace Vigil.Tests.Launching;

public sealed class ProcFsTests
{
    [Fact]
    public async Task Children_of_this_process_are_listed_from_the_task_children_files()
    {
        using var child = System.Diagnostics.Process.Start("sleep", "30");
        try
        {
            var kids = ProcFs.ChildrenOfSelf();
            Assert.NotNull(kids); // the kernel here has CONFIG_PROC_CHILDREN; the reaper falls back to a full scan without it
            Assert.Contains(child.Id, kids);
            Assert.DoesNotContain(Environment.ProcessId, kids);
        }
        finally
        {
            child.Kill();
            await child.WaitForExitAsync();
        }
    }

    private static ProcStat Parse(string line)
    {
        Assert.True(ProcFs.TryParseStat(Encoding.UTF8.GetBytes(line), out var st), line);
        return st;
    }

    // Field layout from proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
    // cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime …
    private const string Tail = " 1 2 3 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 987654 1000 200 18446744073709551615";

    [Theory]
    [InlineData('R', OsState.Running)]
    [InlineData('S', OsState.Sleeping)]
    [InlineData('D', OsState.DiskSleep)]
    [InlineData('T', OsState.Stopped)]
    [InlineData('t', OsState.TracingStop)]
    [InlineData('Z', OsState.Zombie)]
    [InlineData('X', OsState.Dead)]
    [InlineData('I', OsState.Idle)]
    public void Every_proc_state_letter_maps_to_its_state(char letter, OsState expected)
    {
        var st = Parse($"42 (worker) {letter}{Tail}");
        Assert.Equal(expected, st.State);
        Assert.Equal(42, st.Pid);
        Assert.Equal(1, st.ParentPid);
        Assert.Equal(2, st.ProcessGroup);
        Assert.Equal(3, st.Session);
        Assert.Equal(987654UL, st.StartTime);
    }

    [Fact]
    public void Command_names_with_spaces_and_parentheses_do_not_shift_the_fields()
    {
        var st = Parse($"7 (evil ) S (x) R{Tail}");
        Assert.Equal(OsState.Running, st.State);
        Assert.Equal(987654UL, st.StartTime);
        Assert.Equal(3, st.Session);
    }

    [Fact]
    public void Cpu_times_and_rss_are_read_from_fields_14_to_17_and_24()
    {
        var st = Parse("42 (worker) S 1 2 3 0 -1 4194560 100 0 0 0 5 6 7 8 20 0 1 0 987654 1000 200 18446744073709551615");
        Assert.Equal(11UL, st.CpuTicks);
        Assert.Equal(15UL, st.ChildCpuTicks);
        Assert.Equal(200, st.RssPages);
        Assert.Equal(987654UL, st.StartTime);
    }

    [Fact]
    public void Tree_reads_this_process_fresh_with_its_rss_and_cpu_time()
    {
        var tree = ProcFs.Tree(Environment.ProcessId, 0);
        var self = Assert.Single(tree, p => p.Pid == Environment.ProcessId);
        Assert.Equal(self, tree[0]);
        Assert.True(self.RssPages * Environment.SystemPageSize > 1 << 20, $"rss {self.RssPages} pages");
        Assert.True(self.CpuTicks > 0);
        Assert.Empty(ProcFs.Tree(int.MaxValue, 0));
    }

    [Fact]
    public void Truncated_lines_are_rejected()
    {
        Assert.False(ProcFs.TryParseStat("42 (x) S 1 2 3"u8, out _));
        Assert.False(ProcFs.TryParseStat("garbage"u8, out _));
        Assert.False(ProcFs.TryParseStat(""u8, out _));
    }

    [Theory]
    [InlineData(OsState.DiskSleep, "disk sleep")]
    [InlineData(OsState.TracingStop, "tracing stop")]
    [InlineData(OsState.Zombie, "zombie")]
    public void Multi_word_states_are_described_as_proc_status_does(OsState s, string words) =>
        Assert.Equal(words, ProcFs.Describe(s));

    [Fact]
    public void Reads_this_process_and_finds_it_running_with_a_start_time()
    {
        Assert.True(ProcFs.TryReadStat(Environment.ProcessId, out var st));
        Assert.Equal(Environment.ProcessId, st.Pid);
        Assert.True(st.State is OsState.Running or OsState.Sleeping, st.State.ToString()); // the main thread may sleep while a worker reads
        Assert.True(st.StartTime > 0);
        Assert.False(ProcFs.TryReadStat(int.MaxValue - 3, out _));
    }

    [Fact]
    public void Signal_names_parse_in_every_form()
    {
        Assert.True(Signals.TryParse("TERM", out var a)); Assert.Equal(15, a);
        Assert.True(Signals.TryParse("sigkill", out var b)); Assert.Equal(9, b);
        Assert.True(Signals.TryParse("10", out var c)); Assert.Equal(10, c);
        Assert.False(Signals.TryParse("SIGNOPE", out _));
        Assert.False(Signals.TryParse("0", out _));
        Assert.Equal("SIGSEGV", Signals.Name(11));
        Assert.Equal("SIG40", Signals.Name(40));
    }

    [Fact]
    public void Exit_status_descriptions_tell_codes_from_signals()
    {
        Assert.Equal("exited with code 137", ExitStatus.Exited(137).ToString());
        Assert.Equal("killed by SIGKILL", ExitStatus.Killed(9).ToString());
        Assert.Equal("killed by SIGABRT (core dumped)", ExitStatus.Killed(6, coreDumped: true).ToString());
        Assert.True(ExitStatus.NotCollected.Unknown);
        Assert.False(ExitStatus.Exited(1).Success);
    }
}
