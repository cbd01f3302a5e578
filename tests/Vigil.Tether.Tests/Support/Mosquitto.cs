using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Vigil.Tether.Tests.Support;

/// <summary>What a test broker requires: password auth when <see cref="Username"/> is set, TLS when the PEM files are.</summary>
public sealed record MosquittoSettings
{
    public string? Username { get; init; }
    public string? Password { get; init; }
    public string? CertPemFile { get; init; }
    public string? KeyPemFile { get; init; }
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
    public int Port { get; }

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
        if (settings.CertPemFile is not null)
            config.AppendLine($"certfile {settings.CertPemFile}").AppendLine($"keyfile {settings.KeyPemFile}");
        var configFile = Path.Combine(dir, "mosquitto.conf");
        await File.WriteAllTextAsync(configFile, config.ToString());
        var broker = new Mosquitto(dir, configFile, port);
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
