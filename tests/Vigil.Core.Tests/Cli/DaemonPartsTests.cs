using System.Net.Sockets;
using System.Text;
using Vigil.Cli.Commands;
using Vigil.Config;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>Unit: the pieces of a daemon Vigil — its sd_notify messages (read from a real datagram socket), the systemd
/// unit's text, and how a client finds the instance name of a config.</summary>
public sealed class DaemonPartsTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-daemon-");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>A datagram socket standing in for the service manager's NOTIFY_SOCKET.</summary>
    private sealed class Manager : IDisposable
    {
        public Socket Socket { get; } = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);

        public Manager(string address) => Socket.Bind(new UnixDomainSocketEndPoint(address));

        public async Task<string> Next(TimeSpan? timeout = null)
        {
            var buf = new byte[4096];
            using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
            int n = await Socket.ReceiveAsync(buf, SocketFlags.None, cts.Token);
            return Encoding.UTF8.GetString(buf, 0, n);
        }

        public bool Pending => Socket.Available > 0;

        public void Dispose() => Socket.Dispose();
    }

    [Fact]
    public async Task Ready_stopping_and_reloading_are_one_datagram_each_on_a_path_or_an_abstract_address()
    {
        var path = Path.Combine(_dir.FullName, "notify");
        using (var manager = new Manager(path))
        using (var notify = new SdNotifier(path, null, TimeProvider.System))
        {
            notify.Ready();
            Assert.Equal("READY=1", await manager.Next());
            notify.Reloading();
            var reloading = await manager.Next();
            Assert.Matches(@"^RELOADING=1\nMONOTONIC_USEC=\d+$", reloading);
            // CLOCK_MONOTONIC, as systemd reads it: /proc/uptime is on the same clock (plus suspend, which a test never sees).
            var usec = long.Parse(reloading.Split('=')[2]);
            var uptime = double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(usec / 1e6, uptime - 60, uptime + 60);
            notify.Stopping();
            Assert.Equal("STOPPING=1", await manager.Next());
        }
        var name = "vigil-test-" + Guid.NewGuid().ToString("N");
        using (var manager = new Manager("\0" + name))
        using (var notify = new SdNotifier("@" + name, null, TimeProvider.System))
        {
            notify.Ready();
            Assert.Equal("READY=1", await manager.Next());
        }
    }

    [Fact]
    public async Task Status_changes_are_coalesced_and_a_repeated_status_is_not_sent_again()
    {
        var path = Path.Combine(_dir.FullName, "notify");
        var time = new FakeTimeProvider();
        using var manager = new Manager(path);
        using var notify = new SdNotifier(path, null, time);
        var status = "1 running";
        notify.StatusChanged(() => status);
        status = "2 running";
        notify.StatusChanged(() => status); // within the window: one message, with the latest text
        time.Advance(SdNotifier.StatusCoalescing);
        Assert.Equal("STATUS=2 running", await manager.Next());
        notify.StatusChanged(() => status);
        time.Advance(SdNotifier.StatusCoalescing);
        status = "1 running, 1 in backoff";
        notify.StatusChanged(() => status);
        time.Advance(SdNotifier.StatusCoalescing);
        Assert.Equal("STATUS=1 running, 1 in backoff", await manager.Next()); // the unchanged "2 running" was not sent again
    }

    [Fact]
    public async Task The_watchdog_is_fed_every_half_of_WATCHDOG_USEC()
    {
        var path = Path.Combine(_dir.FullName, "notify");
        var time = new FakeTimeProvider();
        using var manager = new Manager(path);
        using var notify = new SdNotifier(path, TimeSpan.FromSeconds(10), time);
        time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(manager.Pending);
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal("WATCHDOG=1", await manager.Next());
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal("WATCHDOG=1", await manager.Next());
    }

    [Fact]
    public void Status_counts_units_by_state_in_words()
    {
        UnitSnapshot S(UnitState s) => new(1, "u", s, ProcessStatus.Running, null, null, "c", [], 0, null, false, false, null);
        Assert.Equal("2 running, 1 in backoff, 1 stopped",
            SdNotifier.Counts([S(UnitState.Running), S(UnitState.Backoff), S(UnitState.Running), S(UnitState.Stopped)]));
        Assert.Equal("no units", SdNotifier.Counts([]));
    }

    [Fact]
    public void A_message_to_a_manager_that_is_gone_is_ignored()
    {
        using var notify = new SdNotifier(Path.Combine(_dir.FullName, "nobody"), null, TimeProvider.System);
        notify.Ready(); // ENOENT: no exception
        notify.Dispose();
        notify.Send("STATUS=late"); // after disposal: ignored too
    }

    private VigilConfig Config(string yaml)
    {
        var path = Path.Combine(_dir.FullName, "vigil.yaml");
        File.WriteAllText(path, yaml);
        return ConfigLoader.Load(path);
    }

    [Fact]
    public void The_systemd_unit_runs_this_config_notifies_reloads_by_SIGHUP_and_waits_for_the_longest_stop()
    {
        var config = Config("""
            name: shop
            processes:
              - { name: web, command: [sleep, "1"], stop: { timeout: 30s, killWait: 5s } }
              - { name: worker, command: [sleep, "1"] }
            """);
        var text = StartupCommand.Unit("/opt/vigil/vigil", "/srv/my shop/vigil.yaml", config, user: false, runAs: "shop");
        var lines = text.Split('\n');
        Assert.Contains("Type=notify", lines);
        Assert.Contains("ExecStart=/opt/vigil/vigil run -c \"/srv/my shop/vigil.yaml\"", lines);
        Assert.Contains("ExecReload=/bin/kill -HUP $MAINPID", lines);
        Assert.Contains("KillMode=mixed", lines);
        Assert.Contains("TimeoutStopSec=45", lines); // 30s + 5s of web, + the 10s margin
        Assert.Contains("Restart=on-failure", lines);
        Assert.Contains("WorkingDirectory=/srv/my shop", lines);
        Assert.Contains("User=shop", lines);
        Assert.Contains("WantedBy=multi-user.target", lines);

        var user = StartupCommand.Unit("/opt/vigil/vigil", "/home/a/vigil.yaml", config, user: true, runAs: null);
        Assert.Contains("WantedBy=default.target", user.Split('\n'));
        Assert.DoesNotContain("User=", user);
    }

    [Fact]
    public void The_template_unit_runs_the_instance_s_config_in_etc_vigil_with_the_same_service_settings()
    {
        var lines = StartupCommand.Template("/usr/bin/vigil").Split('\n');
        Assert.Contains("ExecStart=/usr/bin/vigil run -c /etc/vigil/%i.yaml", lines);
        Assert.Contains("Description=Vigil supervising /etc/vigil/%i.yaml", lines);
        Assert.Contains("WorkingDirectory=/etc/vigil", lines);
        var single = StartupCommand.Unit("/usr/bin/vigil", "/etc/vigil/x.yaml", Config("processes: [ { name: w, command: [sleep, \"1\"] } ]"), user: false, runAs: null).Split('\n');
        // The [Unit]…[Install] body is the same text as vigil startup systemd's for a config with default stops.
        Assert.Equal(single.SkipWhile(l => l.StartsWith('#')).Where(l => !l.StartsWith("Description=") && !l.StartsWith("ExecStart=") && !l.StartsWith("WorkingDirectory=")),
            lines.SkipWhile(l => l.StartsWith('#')).Where(l => !l.StartsWith("Description=") && !l.StartsWith("ExecStart=") && !l.StartsWith("WorkingDirectory=")));
        Assert.Contains("Type=notify", lines);
    }

    [Theory]
    [InlineData("/plain/path", "/plain/path")]
    [InlineData("/with space/x", "\"/with space/x\"")]
    [InlineData("/100%/x", "/100%%/x")]
    [InlineData("/a$b", "/a$$b")]
    [InlineData("/q\"uote", "\"/q\\\"uote\"")]
    public void Unit_file_words_are_quoted_and_escaped_for_systemd(string word, string quoted) =>
        Assert.Equal(quoted, StartupCommand.Quote(word));

    [Theory]
    [InlineData("name: shop\nprocesses: []\n", "shop")]
    [InlineData("processes:\n  - name: web\n    command: [x]\nname: 'quoted'\n", "quoted")]
    [InlineData("{\"processes\": [{\"name\": \"web\"}], \"name\": \"json-one\"}", "json-one")]
    [InlineData("processes:\n  - name: web\n", null)]
    [InlineData("tether: { name: nested }\nprocesses: []\n", null)]
    [InlineData("- name: a list\n", null)]
    [InlineData("name: [unclosed\n", null)]
    [InlineData("just a scalar", null)]
    public void A_client_reads_only_the_top_level_name(string text, string? name) =>
        Assert.Equal(name, Client.TopLevelName(text));

    [Fact]
    public void A_client_finds_the_name_even_when_the_rest_of_the_config_is_broken_but_not_a_bad_name()
    {
        var path = Path.Combine(_dir.FullName, "broken.yaml");
        File.WriteAllText(path, "name: shop\nprocesses:\n  - comand: [oops]\n");
        Assert.Equal("shop", Client.InstanceName(path));
        File.WriteAllText(path, "name: ../../etc\nprocesses: []\n");
        var e = Assert.Throws<ConfigException>(() => Client.InstanceName(path));
        Assert.Contains("name: expected 1 to 64 letters", e.Message);
        Assert.Throws<ConfigException>(() => Client.InstanceName(Path.Combine(_dir.FullName, "missing.yaml")));
    }
}
