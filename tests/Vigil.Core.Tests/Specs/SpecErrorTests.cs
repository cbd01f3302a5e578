using Vigil.Config;
using Vigil.Specs;
using Vigil.Supervision;
using Xunit;

namespace Vigil.Tests.Specs;

/// <summary>Unit: spec validation returns typed errors (key path and message) that the C# API shows as
/// <c>key: message</c> and the config loader places at the key's position; the schedule-vs-backoff rule is the spec's.</summary>
public sealed class SpecErrorTests
{
    private static readonly BackoffSpec Backoff = new(TimeSpan.FromSeconds(1), 2, TimeSpan.FromMinutes(1));

    private static string[] Errors(string text) =>
        [.. Assert.Throws<ConfigException>(() => ConfigLoader.Parse(text, "vigil.yaml", "/srv/app")).Errors.Select(e => e.ToString())];

    [Fact]
    public void Validation_errors_carry_the_key_path_relative_to_the_spec()
    {
        var errors = new ProcessSpec
        {
            Command = ["x"],
            Stop = new StopSpec { Signal = 99 },
            Health = [new ProbeSpec(new OutputStallCheck()), new ProbeSpec(new HttpCheck(new Uri("ftp://h/"))) { FailureThreshold = 0 }],
        }.Validate();
        Assert.Equal(
            [
                new SpecError("stop.signal", "must be a signal name like TERM or a number 1-64"),
                new SpecError("health[1].failureThreshold", "must be at least 1"),
                new SpecError("health[1].url", "expected an http:// or https:// URL, got 'ftp://h/'"),
            ],
            errors);
        Assert.Equal("health[1].url: expected an http:// or https:// URL, got 'ftp://h/'", errors[2].ToString());
    }

    [Fact]
    public void An_error_about_the_whole_spec_has_an_empty_key_and_reads_as_its_message()
    {
        var e = new SpecError("", "no command");
        Assert.Equal("no command", e.ToString());
        Assert.Equal(new SpecError("health[0]", "no command"), e.Under("health[0]"));
        Assert.Equal(new SpecError("health[0].url", "bad"), new SpecError("url", "bad").Under("health[0]"));
    }

    [Fact]
    public void A_schedule_with_a_backoff_is_refused_by_the_spec()
    {
        var spec = new ProcessSpec { Command = ["x"], Restart = new RestartSpec { Schedule = [TimeSpan.FromSeconds(1)], Backoff = Backoff } };
        Assert.Equal(new SpecError("restart.backoff", "give either 'schedule' or 'backoff', not both"), Assert.Single(spec.Validate()));
        // The default schedule is what a backoff replaces: leaving it is no conflict.
        Assert.Empty((spec with { Restart = new RestartSpec { Backoff = Backoff } }).Validate());
    }

    [Fact]
    public async Task The_supervisor_refuses_a_schedule_with_a_backoff_and_adds_nothing()
    {
        await using var sup = new Supervisor();
        var spec = new ProcessSpec { Name = "both", Command = ["x"], Restart = new RestartSpec { Schedule = [TimeSpan.FromSeconds(1)], Backoff = Backoff } };
        var e = Assert.Throws<ArgumentException>(() => sup.Define(spec));
        Assert.Contains("invalid process spec for 'both': restart.backoff: give either 'schedule' or 'backoff', not both", e.Message);
        var r = await Assert.ThrowsAsync<ArgumentException>(() => sup.ReconcileAsync([spec], dryRun: true));
        Assert.Contains("[0] (both): restart.backoff: give either 'schedule' or 'backoff', not both", r.Message);
        Assert.Empty(sup.Units);
    }

    [Fact]
    public void The_loader_places_spec_errors_at_their_keys_and_whole_spec_errors_at_the_entry() =>
        Assert.Equal(
            [
                "vigil.yaml:2:5: processes[0].command/script: give either command or script, not both",
                "vigil.yaml:7:9: processes[0].health[0].successThreshold: must be 1 for a startup probe (as in Kubernetes)",
                "vigil.yaml:9:7: processes[0].restart.backoff: give either 'schedule' or 'backoff', not both",
            ],
            Errors("""
                processes:
                  - command: x
                    script: y.js
                    health:
                      - kind: output-stall
                        role: startup
                        successThreshold: 2
                    restart:
                      backoff: { initial: 1s }
                      schedule: [1s]
                """));

    [Fact]
    public void A_wrong_schedule_with_a_backoff_is_both_errors() =>
        Assert.Equal(
            [
                "vigil.yaml:4:7: processes[0].restart.schedule: expected a list of durations (like [100ms, 1s, 1m], or [] to never restart), got '1s'",
                "vigil.yaml:5:7: processes[0].restart.backoff: give either 'schedule' or 'backoff', not both",
            ],
            Errors("processes:\n  - command: x\n    restart:\n      schedule: 1s\n      backoff: { initial: 1s }\n"));
}
