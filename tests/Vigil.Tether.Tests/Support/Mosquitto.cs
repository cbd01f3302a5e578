using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Vigil.Tether.Tests.Support;

/// <summary>What a test broker requires and offers: password auth when <see cref="Username"/> is set; with
/// <see cref="Tls"/> a TLS listener (<see cref="Mosquitto.TlsPort"/>); with <see cref="WebSockets"/> a WebSocket
/// listener (<see cref="Mosquitto.WsPort"/>), and a secure one too (<see cref="Mosquitto.WssPort"/>) when TLS is set.
/// The plain TCP listener (<see cref="Mosquitto.Port"/>) is always there.</summary>
public sealed record MosquittoSettings
{
    public string? Username { get; init; }
    public string? Password { get; init; }
    /// <summary>The server certificate and key for the TLS listeners (and the CA that checks client certificates).</summary>
    public TestPki? Tls { get; init; }
    /// <summary>TLS listeners refuse a client without a certificate signed by the test CA.</summary>
    public bool RequireCertificate { get; init; }
    /// <summary>Add WebSocket listeners (Debian's mosquitto is built with libwebsockets).</summary>
    public bool WebSockets { get; init; }
    /// <summary>Topic filters <see cref="Username"/> may not subscribe to: the broker answers SUBACK 0x80. Set, the broker
    /// authenticates and authorises through mosquitto's dynamic-security plugin, since with an <c>acl_file</c>
    /// mosquitto 2.0 grants every SUBSCRIBE (SUBACK 0) and only withholds the messages (tried: 2.0.11).</summary>
    public IReadOnlyList<string>? DenySubscribe { get; init; }
}

/// <summary>
/// A real mosquitto (/usr/sbin/mosquitto) on a free 127.0.0.1 port with a generated config. Ready when its log says
/// it is running and a TCP connect succeeds; can be stopped and started again on the same port (reconnect tests);
/// killed on dispose, and on test-host exit as a last resort, so no broker outlives the tests.
/// </summary>
public sealed class Mosquitto : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/mosquitto";
    static readonly ConcurrentDictionary<int, Process> Running = new();
    static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);

    static Mosquitto() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var p in Running.Values) try { p.Kill(); } catch (InvalidOperationException) { }
    };

    readonly string _dir;
    readonly string _config;
    readonly StringBuilder _log = new();
    Process? _process;

    Mosquitto(string dir, string config, int port) => (_dir, _config, Port) = (dir, config, port);

    public string Host => "127.0.0.1";
    /// <summary>Plain MQTT over TCP.</summary>
    public int Port { get; }
    /// <summary>MQTT over TLS (0 without <see cref="MosquittoSettings.Tls"/>).</summary>
    public int TlsPort { get; private init; }
    /// <summary>MQTT over WebSocket, any path (0 without <see cref="MosquittoSettings.WebSockets"/>).</summary>
    public int WsPort { get; private init; }
    /// <summary>MQTT over WebSocket with TLS (0 without both).</summary>
    public int WssPort { get; private init; }

    /// <summary>Everything the broker logged so far (for failure messages).</summary>
    public string Log { get { lock (_log) return _log.ToString(); } }

    public static async Task<Mosquitto> StartAsync(MosquittoSettings? settings = null)
    {
        settings ??= new MosquittoSettings();
        if (!File.Exists(Binary)) throw new InvalidOperationException($"{Binary} is missing: apt-get install mosquitto (.ci/run does)");
        var dir = Directory.CreateTempSubdirectory("vigil-mosquitto-").FullName;
        int port = FreePort();
        var config = new StringBuilder()
            .AppendLine($"listener {port} 127.0.0.1")
            .AppendLine("persistence false")
            .AppendLine("log_dest stderr")
            .AppendLine("log_type all")
            .AppendLine($"user {Environment.UserName}"); // as root mosquitto would switch to user mosquitto and lose our files
        if (settings.DenySubscribe is { } denied)
        {
            if (settings.Username is null) throw new ArgumentException("DenySubscribe needs a Username");
            var dynsec = Path.Combine(dir, "dynamic-security.json");
            await File.WriteAllTextAsync(dynsec, DynamicSecurity(settings.Username, settings.Password ?? "", denied));
            config.AppendLine("allow_anonymous false")
                .AppendLine($"plugin {DynamicSecurityPlugin}")
                .AppendLine($"plugin_opt_config_file {dynsec}");
        }
        else if (settings.Username is not null)
        {
            var passwords = Path.Combine(dir, "passwords");
            await RunAsync("mosquitto_passwd", ["-b", "-c", passwords, settings.Username, settings.Password ?? ""]);
            config.AppendLine("allow_anonymous false").AppendLine($"password_file {passwords}");
        }
        else config.AppendLine("allow_anonymous true");
        // Each listener's own settings follow its `listener` line (per_listener_settings stays false: auth is global).
        void Tls(TestPki pki)
        {
            config.AppendLine($"certfile {pki.ServerPemFile}").AppendLine($"keyfile {pki.ServerKeyPemFile}").AppendLine($"cafile {pki.CaPemFile}");
            if (settings.RequireCertificate) config.AppendLine("require_certificate true");
        }
        int tlsPort = 0, wsPort = 0, wssPort = 0;
        if (settings.Tls is { } pki)
        {
            config.AppendLine($"listener {tlsPort = FreePort()} 127.0.0.1");
            Tls(pki);
        }
        if (settings.WebSockets)
        {
            config.AppendLine($"listener {wsPort = FreePort()} 127.0.0.1").AppendLine("protocol websockets");
            if (settings.Tls is { } wssPki)
            {
                config.AppendLine($"listener {wssPort = FreePort()} 127.0.0.1").AppendLine("protocol websockets");
                Tls(wssPki);
            }
        }
        var configFile = Path.Combine(dir, "mosquitto.conf");
        await File.WriteAllTextAsync(configFile, config.ToString());
        var broker = new Mosquitto(dir, configFile, port) { TlsPort = tlsPort, WsPort = wsPort, WssPort = wssPort };
        try { await broker.StartAsync(); }
        catch { await broker.DisposeAsync(); throw; }
        return broker;
    }

    /// <summary>The plugin shipped with Debian's mosquitto package.</summary>
    const string DynamicSecurityPlugin = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so";

    /// <summary>
    /// A dynamic-security config with one client that may publish anywhere and subscribe to anything but
    /// <paramref name="denied"/>. The password is stored as the plugin does (mosquitto_ctrl dynsec init): PBKDF2-SHA512
    /// with 101 iterations over a random salt, both base64.
    /// </summary>
    static string DynamicSecurity(string username, string password, IReadOnlyList<string> denied)
    {
        var salt = System.Security.Cryptography.RandomNumberGenerator.GetBytes(12);
        var hash = System.Security.Cryptography.Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, 101,
            System.Security.Cryptography.HashAlgorithmName.SHA512, 64);
        static string Str(string s) => System.Text.Json.JsonEncodedText.Encode(s).ToString();
        var acls = denied.Select(f => $$"""{ "acltype": "subscribePattern", "topic": "{{Str(f)}}", "allow": false }""")
            .Append("""{ "acltype": "subscribePattern", "topic": "#", "allow": true }""")
            .Append("""{ "acltype": "publishClientSend", "topic": "#", "allow": true }""");
        return $$"""
            {
              "clients": [{ "username": "{{Str(username)}}", "password": "{{Convert.ToBase64String(hash)}}", "salt": "{{Convert.ToBase64String(salt)}}",
                            "iterations": 101, "roles": [{ "rolename": "test" }] }],
              "roles": [{ "rolename": "test", "acls": [{{string.Join(", ", acls)}}] }],
              "defaultACLAccess": { "publishClientSend": false, "publishClientReceive": true, "subscribe": false, "unsubscribe": true }
            }
            """;
    }

    /// <summary>With <see cref="MosquittoSettings.DenySubscribe"/>: changes the denied filters; takes effect at the next
    /// <see cref="StartAsync()"/> (the plugin reads its file when the broker starts).</summary>
    public Task SetDeniedSubscriptionsAsync(string username, string password, params string[] denied) =>
        File.WriteAllTextAsync(Path.Combine(_dir, "dynamic-security.json"), DynamicSecurity(username, password, denied));

    /// <summary>Waits until the broker's log satisfies <paramref name="condition"/>: the log has no event to await, so it is
    /// looked at whenever a line arrives, up to the start timeout.</summary>
    public async Task WaitForLogAsync(Func<string, bool> condition)
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        while (!condition(Log))
        {
            try { await _logLine.WaitAsync(timeout.Token); }
            catch (OperationCanceledException) { throw new TimeoutException($"the broker's log did not show what was expected within {StartTimeout}:\n{Log}"); }
        }
    }

    readonly SemaphoreSlim _logLine = new(0);

    /// <summary>Starts the broker (again) on <see cref="Port"/> and waits until it accepts connections.</summary>
    public async Task StartAsync()
    {
        if (_process is not null) throw new InvalidOperationException("mosquitto is already running");
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var psi = new ProcessStartInfo(Binary, ["-c", _config]) { RedirectStandardError = true, RedirectStandardOutput = true };
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        void OnLine(string? line)
        {
            if (line is null) return;
            lock (_log) _log.AppendLine(line);
            _logLine.Release();
            if (line.Contains(" running")) running.TrySetResult();
        }
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => running.TrySetException(new InvalidOperationException($"mosquitto exited early:\n{Log}"));
        process.Start();
        Running[process.Id] = process;
        _process = process;
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            await running.Task.WaitAsync(StartTimeout);
            using var probe = new TcpClient();
            await probe.ConnectAsync(IPAddress.Loopback, Port).WaitAsync(StartTimeout);
        }
        catch (TimeoutException) { throw new TimeoutException($"mosquitto did not start within {StartTimeout}:\n{Log}"); }
    }

    /// <summary>Kills the broker (as a crash would) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        if (_process is not { } p) return;
        _process = null;
        try { p.Kill(); } catch (InvalidOperationException) { /* already gone */ }
        await p.WaitForExitAsync().WaitAsync(StartTimeout);
        Running.TryRemove(p.Id, out _);
        p.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    static async Task RunAsync(string file, string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var err = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(StartTimeout);
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} failed ({p.ExitCode}): {await err}");
    }
}
