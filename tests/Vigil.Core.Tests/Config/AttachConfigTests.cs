using Vigil.Config;
using Vigil.Specs;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Config;

/// <summary><c>attach:</c> (external units): the three forms, and errors at their keys.</summary>
public class AttachConfigTests
{
    private const string Base = "/srv/app";

    private static ProcessSpec One(string yaml) => Assert.Single(ConfigLoader.Parse(yaml, "vigil.yaml", Base, TestExtensions.Vigil).Processes);

    private static string[] Errors(string text)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(text, "vigil.yaml", Base, TestExtensions.Vigil));
        return [.. e.Errors.Select(x => x.ToString())];
    }

    [Fact]
    public void Each_form_maps_to_an_attach_spec_and_needs_no_command()
    {
        Assert.Equal(4121, One("processes:\n  - name: a\n    attach: { pid: 4121 }\n").Attach!.Pid);
        var file = One("processes:\n  - attach: { pidfile: run/legacy.pid, poll: 250ms }\n");
        Assert.Equal("/srv/app/run/legacy.pid", file.Attach!.PidFile); // relative to the config file's folder
        Assert.Equal(TimeSpan.FromMilliseconds(250), file.Attach.Poll);
        Assert.Equal("legacy", file.DisplayName);
        var unit = One("processes:\n  - attach: { systemd: legacy.service }\n    health: [ { kind: exec, command: [true], action: { exec: [systemctl, restart, legacy] } } ]\n");
        Assert.Equal("legacy.service", unit.Attach!.Systemd);
        Assert.Equal(ProbeAction.Exec, unit.Health[0].Action);
    }

    [Fact]
    public void Attach_and_command_are_refused_together_at_the_key()
    {
        var errors = Errors("processes:\n  - command: [x]\n    attach: { pid: 3 }\n");
        Assert.Equal("vigil.yaml:3:5: processes[0].attach: an external unit runs no command: give either attach or command/script/args", Assert.Single(errors));
    }

    [Fact]
    public void Restart_settings_are_refused_for_an_external_unit()
    {
        var errors = Errors("processes:\n  - attach: { pid: 3 }\n    restart: { policy: always }\n");
        Assert.Equal("vigil.yaml:3:5: processes[0].restart: an external unit is never restarted by Vigil (its own manager restarts it): remove restart", Assert.Single(errors));
    }

    [Theory]
    [InlineData("attach: {}", "2:5: processes[0].attach: give one of pid, pidfile or systemd")]
    [InlineData("attach: { pid: 1, systemd: x.service }", "2:5: processes[0].attach: give only one of pid, pidfile, systemd or probe")]
    [InlineData("attach: { pid: 0 }", "2:15: processes[0].attach.pid: must be a positive process id, got 0")]
    [InlineData("attach: { pid: abc }", "2:15: processes[0].attach.pid")]
    [InlineData("attach: { pidfile: /x, poll: 0s }", "2:28: processes[0].attach.poll: must be more than 0")]
    [InlineData("attach: { pidfil: /x }", "2:15: processes[0].attach.pidfil: unknown key")]
    [InlineData("attach: 42", "2:5: processes[0].attach")]
    public void Bad_attach_values_are_errors_at_their_keys(string entry, string expected)
    {
        var errors = Errors($"processes:\n  - {entry}\n");
        Assert.Contains(errors, e => e.StartsWith("vigil.yaml:" + expected, StringComparison.Ordinal));
    }

    [Fact]
    public void An_attach_unit_is_written_back_the_same()
    {
        var config = ConfigLoader.Parse("processes:\n  - name: legacy\n    attach: { pidfile: /run/legacy.pid, poll: 2s }\n", "vigil.yaml", Base, TestExtensions.Vigil);
        var text = ConfigWriter.ToYaml("default", config.Processes, extensions: TestExtensions.Vigil);
        Assert.Contains("attach:", text);
        var again = One(text);
        Assert.Equal(config.Processes[0].Attach, again.Attach);
    }
}
