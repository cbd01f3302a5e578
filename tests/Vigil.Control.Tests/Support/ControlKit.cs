using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;

namespace Vigil.Control.Tests.Support;

/// <summary>
/// A real supervisor with a <see cref="LocalControl"/> served on a real socket in the test's own temporary folder, and a
/// client of it: the whole control plane in the test process. Disposing stops everything it started.
/// </summary>
public sealed class ControlKit : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _clients = [];

    private ControlKit(DirectoryInfo dir, Supervisor sup, Recorder rec)
    {
        Dir = dir;
        Sup = sup;
        Rec = rec;
    }

    public DirectoryInfo Dir { get; }
    /// <summary>The socket's folder: made by the server (mode 0700) inside the test's folder.</summary>
    public string SocketDir => Path.Combine(Dir.FullName, "run");
    public string SocketPath => Path.Combine(SocketDir, "vigil.sock");
    public Supervisor Sup { get; }
    public Recorder Rec { get; }
    public LocalControl Local { get; private set; } = null!;
    public ControlServer Server { get; private set; } = null!;
    public ControlClient Client { get; private set; } = null!;
    /// <summary>Completed when a client asked for shutdown (the host's RequestShutdown).</summary>
    public TaskCompletionSource ShutdownRequested { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>What the server reported of refused peers.</summary>
    public List<string> Refused { get; } = [];

    /// <summary>Starts the supervisor, the control and the server (with <paramref name="options"/>), and connects a client.</summary>
    public static async Task<ControlKit> StartAsync(ControlServerOptions? options = null,
        Func<bool, CancellationToken, Task<ReloadResult>>? reload = null, string? configPath = null)
    {
        var dir = Directory.CreateTempSubdirectory("vigil-ctl-");
        var sup = new Supervisor(new SupervisorOptions { StatusInterval = TimeSpan.FromMilliseconds(200) });
        var kit = new ControlKit(dir, sup, new Recorder(sup));
        kit.Local = new LocalControl(new ControlHost
        {
            Supervisor = sup, Instance = "test", Socket = kit.SocketPath, ConfigPath = configPath, Reload = reload,
            RequestShutdown = () => kit.ShutdownRequested.TrySetResult(),
        });
        var announce = ControlRefused.Announcer(sup);
        kit.Server = ControlServer.Start(kit.Local, kit.SocketPath, why => { lock (kit.Refused) kit.Refused.Add(why); announce(why); },
            options ?? new ControlServerOptions());
        kit.Client = await kit.NewClientAsync();
        return kit;
    }

    public async Task<ControlClient> NewClientAsync()
    {
        var c = await ControlClient.ConnectAsync(SocketPath);
        lock (_clients) _clients.Add(c);
        return c;
    }

    /// <summary>Starts a unit and waits for its <c>MARKER up</c> line; returns its PID.</summary>
    public async Task<int> StartUpAsync(ProcessSpec spec)
    {
        var unit = Sup.Start(spec);
        var line = await Rec.Line(l => l.UnitId == unit.Id && l.Text.StartsWith("MARKER up "), $"{spec.Name} up");
        return line.Pid;
    }

    /// <summary>A fixture that says <c>MARKER up</c> and waits.</summary>
    public static ProcessSpec Up(string name) => Fixture.Spec(name, "marker", "up", "hang").WithStop(TimeSpan.FromSeconds(5));

    public RawConnection Raw() => new(SocketPath);

    public async ValueTask DisposeAsync()
    {
        foreach (var c in _clients) await c.DisposeAsync();
        if (Client is not null) await Client.DisposeAsync();
        if (Server is not null) await Server.DisposeAsync();
        if (Local is not null) await Local.DisposeAsync();
        Rec.Dispose();
        await Sup.DisposeAsync();
        try { Dir.Delete(recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>A bare socket to the server, for what a well-behaved client would never send.</summary>
public sealed class RawConnection : IDisposable
{
    private readonly List<byte> _pending = [];

    public RawConnection(string path)
    {
        Socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        Socket.Connect(new UnixDomainSocketEndPoint(path));
    }

    public Socket Socket { get; }

    public void Send(string text) => Send(Encoding.UTF8.GetBytes(text));

    public void Send(byte[] bytes)
    {
        for (int sent = 0; sent < bytes.Length;) sent += Socket.Send(bytes, sent, bytes.Length - sent, SocketFlags.None);
    }

    /// <summary>The next line from the server; null when it closed the connection. Throws on <paramref name="timeout"/>.</summary>
    public async Task<string?> ReadLineAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        var buffer = new byte[64 * 1024];
        while (true)
        {
            int nl = _pending.IndexOf((byte)'\n');
            if (nl >= 0)
            {
                var line = Encoding.UTF8.GetString([.. _pending.Take(nl)]);
                _pending.RemoveRange(0, nl + 1);
                return line;
            }
            int n;
            try { n = await Socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token); }
            catch (SocketException) { n = 0; }
            catch (OperationCanceledException) { throw new TimeoutException("no line from the server in time; received so far: " + Encoding.UTF8.GetString([.. _pending])); }
            if (n == 0) return _pending.Count > 0 ? Encoding.UTF8.GetString([.. _pending]) : null;
            _pending.AddRange(buffer.AsSpan(0, n));
        }
    }

    /// <summary>The next line, as JSON.</summary>
    public async Task<JsonElement> ReadJsonAsync(TimeSpan? timeout = null)
    {
        var line = await ReadLineAsync(timeout) ?? throw new InvalidOperationException("the server closed the connection");
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    /// <summary>Sends one request line and reads its reply.</summary>
    public async Task<JsonElement> AskAsync(string json)
    {
        Send(json + "\n");
        return await ReadJsonAsync();
    }

    public void Dispose() => Socket.Dispose();
}

public static class Json
{
    public static string Code(this JsonElement reply) => reply.GetProperty("error").GetProperty("code").GetString()!;
    public static string Message(this JsonElement reply) => reply.GetProperty("error").GetProperty("message").GetString()!;
    public static bool Ok(this JsonElement reply) => reply.GetProperty("ok").GetBoolean();
}
