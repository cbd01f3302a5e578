using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Vigil.Control.Tests.Support;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Control.Tests;

/// <summary>The socket as Vigil's only way in: where it may be made, who may connect, and what a client that sends bad
/// input, or sends nothing, or never reads, can and cannot do to Vigil and to the other clients.</summary>
[Collection("processes")]
public sealed class ServerTests
{
    const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    [Fact]
    public async Task The_socket_is_0600_in_a_0700_folder_of_vigils_user_and_goes_with_the_server()
    {
        await using var kit = await ControlKit.StartAsync();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(kit.SocketPath));
        Assert.Equal(Private, File.GetUnixFileMode(kit.SocketDir));
        Assert.Equal(Native.geteuid(), Native.Identify(kit.SocketPath, out _)!.Value.Uid);
        Assert.True(Native.Identify(kit.SocketPath, out _)!.Value.IsSocket);
        // Nothing else is left beside it (the temporary name it was bound at was renamed into place).
        Assert.Equal(["vigil.sock"], Directory.GetFileSystemEntries(kit.SocketDir).Select(Path.GetFileName));
        await kit.Server.DisposeAsync();
        Assert.False(File.Exists(kit.SocketPath));
    }

    [Fact]
    public async Task A_folder_that_is_not_vigils_own_is_refused_and_nothing_is_made_in_it()
    {
        await using var kit = await ControlKit.StartAsync();
        var open = Directory.CreateDirectory(Path.Combine(kit.Dir.FullName, "open"));
        File.SetUnixFileMode(open.FullName, Private | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var e = Assert.Throws<ControlException>(() => ControlServer.Start(kit.Local, Path.Combine(open.FullName, "v.sock")));
        Assert.Equal(ControlErrors.Refused, e.Code);
        Assert.Contains($"folder {open.FullName}: its mode is 755, not 700", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(open.FullName));

        var target = Directory.CreateDirectory(Path.Combine(kit.Dir.FullName, "target"));
        File.SetUnixFileMode(target.FullName, Private);
        var link = Path.Combine(kit.Dir.FullName, "link");
        File.CreateSymbolicLink(link, target.FullName);
        Assert.Contains("it is a symbolic link", Assert.Throws<ControlException>(() => ControlServer.Start(kit.Local, Path.Combine(link, "v.sock"))).Message);

        var theirs = Directory.CreateDirectory(Path.Combine(kit.Dir.FullName, "theirs"));
        File.SetUnixFileMode(theirs.FullName, Private);
        Chown(theirs.FullName, 65534);
        Assert.Contains("it belongs to uid 65534", Assert.Throws<ControlException>(() => ControlServer.Start(kit.Local, Path.Combine(theirs.FullName, "v.sock"))).Message);

        var file = Path.Combine(kit.SocketDir, "plain");
        File.WriteAllText(file, "not a socket");
        Assert.Contains("exists and is not a socket", Assert.Throws<ControlException>(() => ControlServer.Start(kit.Local, file)).Message);
        Assert.Equal("not a socket", File.ReadAllText(file));
    }

    [Fact]
    public async Task A_stale_socket_is_replaced_and_a_live_one_is_refused()
    {
        await using var kit = await ControlKit.StartAsync();
        var stale = Sockets.Stale(Path.Combine(kit.SocketDir, "stale.sock"));
        await using (var server = ControlServer.Start(kit.Local, stale))
        await using (var client = await ControlClient.ConnectAsync(stale))
            Assert.Equal("test", (await client.InfoAsync()).Instance);

        var live = Assert.Throws<ControlException>(() => ControlServer.Start(kit.Local, kit.SocketPath));
        Assert.Equal(ControlErrors.Refused, live.Code);
        Assert.Equal($"another vigil is answering on {kit.SocketPath}", live.Message);
        Assert.Equal("test", (await kit.Client.InfoAsync()).Instance); // the first one still answers, on its own file
    }

    [Fact]
    public async Task The_socket_file_is_removed_only_while_it_is_still_ours()
    {
        await using var kit = await ControlKit.StartAsync();
        File.Move(kit.SocketPath, kit.SocketPath + ".moved");
        File.WriteAllText(kit.SocketPath, "someone else's");
        await kit.Server.DisposeAsync();
        Assert.Equal("someone else's", File.ReadAllText(kit.SocketPath));
    }

    [Fact]
    public async Task A_peer_of_another_uid_gets_one_refusal_line_the_attempt_is_an_event_and_nothing_changes()
    {
        await using var kit = await ControlKit.StartAsync();
        int web = await kit.StartUpAsync(ControlKit.Up("web"));
        // Let another user reach the socket at all: only the credentials check is left to refuse them.
        File.SetUnixFileMode(kit.Dir.FullName, Private | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(kit.SocketDir, Private | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(kit.SocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);

        var reply = await RunAsNobody(Fixture.Path, "control", kit.SocketPath, """{"v":1,"id":1,"verb":"stop","names":["web"]}""");
        Assert.StartsWith("REPLY ", reply);
        var json = JsonDocument.Parse(reply["REPLY ".Length..]).RootElement;
        Assert.False(json.Ok());
        Assert.Equal(ControlErrors.Refused, json.Code());
        Assert.Contains("uid 65534", json.Message());
        Assert.Contains($"only uid {Native.geteuid()} and root", json.Message());

        var ev = await kit.Rec.Event<ControlRefused>();
        Assert.Equal(("control-refused", 0, "vigil"), (ev.Kind, ev.UnitId, ev.Name));
        Assert.Contains("uid 65534", ev.Reason);
        Assert.Single(kit.Refused);
        Assert.Contains(await kit.Client.EventsAsync(), e => e.Kind == "control-refused");
        Assert.Equal(web, kit.Sup.Units[0].Pid);
        Assert.Equal(UnitState.Running, kit.Sup.Units[0].State);
        Assert.DoesNotContain(kit.Rec.Events, e => e is StopRequested);
        Assert.Equal(1, kit.Server.OpenConnections); // only the kit's own client: the refused one was never admitted
    }

    [Fact]
    public async Task Bad_requests_get_errors_change_nothing_and_the_connection_stays_usable()
    {
        await using var kit = await ControlKit.StartAsync();
        int web = await kit.StartUpAsync(ControlKit.Up("web"));
        using var raw = kit.Raw();

        var malformed = await raw.AskAsync("""{"v":1,"id":1,"verb":"stop","names":["web"]""");
        Assert.Equal((ControlErrors.BadRequest, 1), (malformed.Code(), malformed.GetProperty("id").GetInt32()));
        Assert.StartsWith("malformed JSON at byte ", malformed.Message());

        var verb = await raw.AskAsync("""{"v":1,"id":2,"verb":"stpo","names":["web"]}""");
        Assert.Equal((ControlErrors.UnknownVerb, "stop"), (verb.Code(), verb.GetProperty("error").GetProperty("suggestion").GetString()));

        var version = await raw.AskAsync("""{"v":7,"id":3,"verb":"stop","names":["web"]}""");
        Assert.Equal(ControlErrors.Unsupported, version.Code());
        Assert.Equal(1, version.GetProperty("error").GetProperty("versions")[0].GetInt32());

        var typo = await raw.AskAsync("""{"v":1,"id":4,"verb":"stop","names":["web"],"wiat":true}""");
        Assert.Equal((ControlErrors.BadRequest, "unknown field 'wiat'"), (typo.Code(), typo.Message()));

        var missing = await raw.AskAsync("""{"v":1,"id":5,"verb":"stop"}""");
        Assert.Contains("needs field 'names'", missing.Message());

        var unknownUnit = await raw.AskAsync("""{"v":1,"id":6,"verb":"stop","names":["wbe"]}""");
        Assert.Equal((ControlErrors.NoSuchUnit, "web"), (unknownUnit.Code(), unknownUnit.GetProperty("error").GetProperty("suggestion").GetString()));

        // Nothing happened to the unit, and the same connection still answers.
        Assert.Equal(web, kit.Sup.Units[0].Pid);
        Assert.DoesNotContain(kit.Rec.Events, e => e is StopRequested);
        var ls = await raw.AskAsync("""{"v":1,"id":7,"verb":"ls"}""");
        Assert.True(ls.Ok());
        Assert.Equal(7, ls.GetProperty("id").GetInt32());
        Assert.Equal(web, ls.GetProperty("result")[0].GetProperty("pid").GetInt32());
    }

    [Fact]
    public async Task Requests_on_one_connection_are_answered_in_turn_blank_lines_are_skipped_and_a_last_line_needs_no_newline()
    {
        await using var kit = await ControlKit.StartAsync();
        using var raw = kit.Raw();
        raw.Send("{\"v\":1,\"id\":1,\"verb\":\"info\"}\n\n  \r\n{\"v\":1,\"id\":2,\"verb\":\"ls\"}\r\n{\"v\":1,\"id\":3,\"verb\":\"events\"}");
        raw.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send); // as `printf … | socat - UNIX-CONNECT:…` ends
        var ids = new List<int>();
        for (int i = 0; i < 3; i++)
        {
            var reply = await raw.ReadJsonAsync();
            Assert.True(reply.Ok(), reply.ToString());
            ids.Add(reply.GetProperty("id").GetInt32());
        }
        Assert.Equal([1, 2, 3], ids);
        Assert.Null(await raw.ReadLineAsync()); // then the server closes
    }

    [Fact]
    public async Task A_request_over_1_MiB_is_too_large_and_closes_the_connection()
    {
        await using var kit = await ControlKit.StartAsync();
        int web = await kit.StartUpAsync(ControlKit.Up("web"));
        using var raw = kit.Raw();
        var big = Encoding.ASCII.GetBytes("""{"v":1,"id":1,"verb":"stop","names":["web"],"x":" """ + new string('x', ControlProtocol.MaxRequestBytes) + "\"}\n");
        var sending = Task.Run(() => { try { raw.Send(big); } catch (System.Net.Sockets.SocketException) { } }); // the server stops reading at the limit
        var reply = await raw.ReadJsonAsync();
        Assert.Equal(ControlErrors.TooLarge, reply.Code());
        Assert.Null(await raw.ReadLineAsync());
        await sending.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(web, kit.Sup.Units[0].Pid);
        Assert.Equal(UnitState.Running, kit.Sup.Units[0].State);
        Assert.Single(await kit.Client.ListAsync()); // the others are served as before
    }

    [Fact]
    public async Task A_silent_client_and_a_half_line_client_hold_nobody_up_and_are_closed_in_time()
    {
        var options = new ControlServerOptions { IdleTimeout = TimeSpan.FromSeconds(2), RequestTimeout = TimeSpan.FromSeconds(1) };
        await using var kit = await ControlKit.StartAsync(options);
        using var silent = kit.Raw();
        using var half = kit.Raw();
        half.Send("""{"v":1,"id":1,"verb":""");
        // Meanwhile another client is answered at once.
        await using (var other = await kit.NewClientAsync())
            Assert.Equal("test", (await other.InfoAsync()).Instance);

        var stalled = await half.ReadJsonAsync();
        Assert.Equal(ControlErrors.BadRequest, stalled.Code());
        Assert.StartsWith("request incomplete: no newline within 1s", stalled.Message());
        Assert.Null(await half.ReadLineAsync());
        Assert.Null(await silent.ReadLineAsync()); // closed after the idle timeout, without a word
    }

    [Fact]
    public async Task A_client_library_whose_idle_connection_was_closed_opens_another()
    {
        await using var kit = await ControlKit.StartAsync(new ControlServerOptions { IdleTimeout = TimeSpan.FromMilliseconds(500) });
        Assert.Equal("test", (await kit.Client.InfoAsync()).Instance);
        Assert.True(await Procs.Eventually(() => kit.Server.OpenConnections == 0), "the idle connection was not closed");
        Assert.Equal("test", (await kit.Client.InfoAsync()).Instance);
    }

    [Fact]
    public async Task A_client_that_never_reads_its_replies_does_not_block_the_others_and_is_closed()
    {
        var options = new ControlServerOptions { WriteTimeout = TimeSpan.FromSeconds(2) };
        await using var kit = await ControlKit.StartAsync(options);
        for (int i = 0; i < 20; i++) await kit.StartUpAsync(ControlKit.Up($"unit{i}"));
        using var deaf = kit.Raw();
        Assert.True(await Procs.Eventually(() => kit.Server.OpenConnections == 2)); // the kit's client, and this one
        // ls replies of ~8 KB each, never read: the socket buffers fill and the server's write waits.
        var request = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("{\"v\":1,\"verb\":\"ls\"}\n", 2000)));
        _ = Task.Run(() => { try { deaf.Send(request); } catch (System.Net.Sockets.SocketException) { } });
        for (int i = 0; i < 5; i++) Assert.Equal(20, (await kit.Client.ListAsync()).Count);
        // The stuck write times out and the server closes that connection.
        Assert.True(await Procs.Eventually(() => kit.Server.OpenConnections == 1, TimeSpan.FromSeconds(30)),
            $"{kit.Server.OpenConnections} connections open");
        Assert.Equal(20, (await kit.Client.ListAsync()).Count);
    }

    [Fact]
    public async Task Connections_over_the_limit_get_a_busy_line_and_a_place_frees_when_one_closes()
    {
        await using var kit = await ControlKit.StartAsync(new ControlServerOptions { MaxConnections = 2 }); // the kit's client is one
        using var second = kit.Raw();
        Assert.True(await Procs.Eventually(() => kit.Server.OpenConnections == 2));
        using (var third = kit.Raw())
        {
            var busy = await third.ReadJsonAsync();
            Assert.Equal(ControlErrors.Busy, busy.Code());
            Assert.Contains("at most 2", busy.Message());
            Assert.Null(await third.ReadLineAsync());
        }
        // A client library hears the same, as an error of its call, and opens a new connection for the next one.
        await using var client = await kit.NewClientAsync();
        Assert.Equal(ControlErrors.Busy, (await Assert.ThrowsAsync<ControlException>(() => client.InfoAsync())).Code);
        second.Dispose();
        Assert.True(await Procs.Eventually(() => kit.Server.OpenConnections == 1));
        Assert.Equal("test", (await client.InfoAsync()).Instance);
    }

    static async Task<string> RunAsNobody(params string[] argv)
    {
        var psi = new ProcessStartInfo("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", .. argv])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);
        Assert.True(p.ExitCode == 0, $"setpriv … exited with {p.ExitCode}: {await errors}");
        return (await output).Trim();
    }

    static void Chown(string path, int uid)
    {
        using var p = Process.Start(new ProcessStartInfo("chown", [uid.ToString(System.Globalization.CultureInfo.InvariantCulture), path]) { UseShellExecute = false })!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }
}
