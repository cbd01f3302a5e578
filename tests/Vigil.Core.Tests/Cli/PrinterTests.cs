using Vigil.Cli.Output;
using Vigil.Launching;
using Vigil.Logs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>Unit: events and output printed in the order they happened (issue 11 §4), and the printed forms.</summary>
public sealed class PrinterTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 6, 0, 0, TimeSpan.Zero);

    private static OutputLine Line(int pid, string text, int unit = 1, string name = "web") =>
        new(T0, unit, name, pid, StreamKind.Stdout, System.Text.Encoding.UTF8.GetBytes(text), false);

    private static Spawned Spawn(int pid, int unit = 1, string name = "web") => new(T0, unit, name, pid, "node", 0);

    [Fact]
    public void A_line_before_its_spawned_waits_for_it_and_later_lines_pass_straight_through()
    {
        var order = new SpawnOrder<string>(new FakeTimeProvider(), TimeSpan.FromSeconds(1));
        var print = new List<string>();
        order.Admit(10, "first", print);
        order.Admit(10, "second", print);
        order.Admit(11, "other", print);
        Assert.Empty(print);
        order.Announce(10, print);
        Assert.Equal(["first", "second"], print); // in the order they came; 11's line still waits for its own
        order.Admit(10, "third", print);
        Assert.Equal(["first", "second", "third"], print);
        Assert.Equal(1, order.Held);
    }

    [Fact]
    public void A_held_line_is_printed_after_the_hold_even_if_no_spawned_comes()
    {
        var time = new FakeTimeProvider();
        var order = new SpawnOrder<string>(time, TimeSpan.FromSeconds(1));
        var print = new List<string>();
        order.Admit(10, "a", print);
        time.Advance(TimeSpan.FromMilliseconds(600));
        order.Admit(11, "b", print);
        Assert.Equal(TimeSpan.FromMilliseconds(400), order.UntilNextExpiry());
        time.Advance(TimeSpan.FromMilliseconds(399));
        order.Expire(print);
        Assert.Empty(print);
        time.Advance(TimeSpan.FromMilliseconds(1));
        order.Expire(print);
        Assert.Equal(["a"], print);
        time.Advance(TimeSpan.FromMilliseconds(600));
        order.Expire(print);
        Assert.Equal(["a", "b"], print);
        Assert.Null(order.UntilNextExpiry());
    }

    [Fact]
    public void Too_many_held_lines_release_the_oldest_at_once()
    {
        var order = new SpawnOrder<int>(new FakeTimeProvider(), TimeSpan.FromHours(1), maxHeld: 3);
        var print = new List<int>();
        for (int i = 0; i < 5; i++) order.Admit(10, i, print);
        Assert.Equal([0, 1], print);
        Assert.Equal(3, order.Held);
        order.ReleaseAll(print);
        Assert.Equal([0, 1, 2, 3, 4], print);
    }

    [Fact]
    public void Only_the_last_few_thousand_pids_are_remembered()
    {
        var order = new SpawnOrder<string>(new FakeTimeProvider(), TimeSpan.FromSeconds(1), maxKnown: 2);
        var print = new List<string>();
        order.Announce(1, print);
        order.Announce(2, print);
        order.Announce(3, print); // forgets 1
        order.Admit(3, "known", print);
        order.Admit(1, "forgotten", print);
        Assert.Equal(["known"], print);
        Assert.Equal(1, order.Held);
    }

    [Fact]
    public async Task The_printer_puts_a_child_s_first_line_after_its_spawned_line()
    {
        var writer = new StringWriter();
        var printer = new EventPrinter(writer, Style.Plain, new FakeTimeProvider());
        // The reactor thread delivers the child's first line before the event channel delivers `spawned`.
        printer.Output(Line(10, "hello"));
        printer.Output(Line(20, "db up", unit: 2, name: "db"));
        printer.Event(Spawn(10));
        printer.Output(Line(10, "second"));
        printer.Event(Spawn(20, unit: 2, name: "db"));
        printer.Notice("vigil: all stopped");
        await printer.DisposeAsync();
        var lines = writer.ToString().TrimEnd('\n').Split('\n');
        Assert.Equal(
        [
            EventPrinter.Format(Spawn(10)), "web | hello", "web | second",
            EventPrinter.Format(Spawn(20, 2, "db")), "db | db up", "vigil: all stopped",
        ], lines);
    }

    [Fact]
    public async Task The_printer_prints_a_line_whose_spawned_never_comes_once_the_hold_is_over()
    {
        var writer = new SyncWriter();
        var time = new FakeTimeProvider();
        var printer = new EventPrinter(writer, Style.Plain, time, hold: TimeSpan.FromSeconds(1));
        printer.Output(Line(30, "adopted output"));
        // The pump has taken the line and armed its hold timer; nothing is printed before the hold ends.
        Assert.True(await Procs.Eventually(() => time.PendingTimers > 0));
        Assert.Equal("", writer.Text);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(await Procs.Eventually(() => writer.Text == "web | adopted output\n"), writer.Text);
        await printer.DisposeAsync();
    }

    [Fact]
    public async Task Output_prefixes_have_a_colour_per_unit_only_when_colouring()
    {
        var plain = new StringWriter();
        var p1 = new EventPrinter(plain, Style.Plain);
        p1.Event(Spawn(10));
        p1.Output(Line(10, "x"));
        await p1.DisposeAsync();
        Assert.EndsWith("web | x\n", plain.ToString());

        var coloured = new StringWriter();
        var p2 = new EventPrinter(coloured, new Style(true));
        p2.Event(Spawn(10));
        p2.Event(Spawn(11, unit: 2, name: "db"));
        p2.Output(Line(10, "x"));
        p2.Output(Line(11, "y", unit: 2, name: "db"));
        await p2.DisposeAsync();
        var m = System.Text.RegularExpressions.Regex.Matches(coloured.ToString(), @"(\e\[\d+m)(web|db) \|\e\[0m [xy]");
        Assert.Equal(2, m.Count);
        Assert.NotEqual(m[0].Groups[1].Value, m[1].Groups[1].Value);
    }

    [Fact]
    public void An_event_prints_the_same_from_the_engine_and_from_the_control_interface()
    {
        var ev = new Exited(T0, 3, "crasher", 77, UnitState.Backoff, ExitStatus.Exited(3), TimeSpan.FromMilliseconds(300), false);
        var info = new Vigil.Control.EventInfo { Time = T0, UnitId = 3, Name = "crasher", Pid = 77, State = "backoff", Kind = ev.Kind, Reason = ev.Reason };
        Assert.Equal(EventPrinter.Format(ev), EventPrinter.Format(info));
        Assert.EndsWith(" crasher#77 exited: exited with code 3 after 300ms", EventPrinter.Format(info));
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(59.9, "59s")]
    [InlineData(60, "1m")]
    [InlineData(75, "1m15s")]
    [InlineData(3600, "1h")]
    [InlineData(3725, "1h2m")]
    [InlineData(90000, "1d1h")]
    [InlineData(-5, "0s")]
    public void Uptime_reads_in_two_units_at_most(double seconds, string text) =>
        Assert.Equal(text, UnitTable.Uptime(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void A_reload_without_changes_says_so()
    {
        var same = new Vigil.Control.ReloadResult { Changes = [new() { Change = "unchanged", Name = "web" }] };
        Assert.Equal(["no changes (1 unit(s) unchanged)"], Views.ReloadDiff(same));
        Assert.Equal(["no changes"], Views.ReloadDiff(same with { DryRun = true }));
    }

    /// <summary>A writer the test can read while the printer's task writes.</summary>
    private sealed class SyncWriter : StringWriter
    {
        public string Text { get { lock (this) return ToString(); } }
        public override void WriteLine(string? value) { lock (this) base.WriteLine(value); }
    }
}
