using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Npgsql;

namespace Vigil.Tests.Support;

/// <summary>
/// A real PostgreSQL server for a test: the installed Debian binaries (/usr/lib/postgresql/N/bin), a fresh cluster
/// in a temp folder, listening on 127.0.0.1 at a free port with its unix socket in that folder, trust
/// authentication, durability off (a throwaway cluster). PostgreSQL refuses to run as root, and the tests do run as
/// root in CI, so there it runs as the <c>postgres</c> system user (created by the Debian package) through
/// util-linux <c>setpriv</c>, which execs in place: the <see cref="Process"/> here is the postmaster itself.
/// Disposing stops it (<c>pg_ctl stop -m immediate</c>, then SIGKILL if need be), waits for it and deletes the folder.
/// </summary>
public sealed class Postgres : IAsyncDisposable
{
    private readonly Process _server;
    private readonly string _dir, _bin;
    private readonly StringBuilder _log = new();

    public int Port { get; }

    /// <summary>For Npgsql: superuser postgres, database postgres, no pooling (nothing left connected at the end).</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false;Timeout=10";

    private Postgres(Process server, string dir, string bin, int port)
    {
        _server = server;
        _dir = dir;
        _bin = bin;
        Port = port;
    }

    public static async Task<Postgres> StartAsync()
    {
        var bin = FindBin() ?? throw new InvalidOperationException(
            "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb. Install the Debian package 'postgresql' (.ci/run does).");
        var dir = Directory.CreateTempSubdirectory("vigil-pg-").FullName;
        try
        {
            if (IsRoot) await RunAsync(["chown", "postgres:postgres", dir], dir);
            var data = Path.Combine(dir, "data");
            await RunAsync([.. AsPostgres, Path.Combine(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                "--no-sync", "--no-instructions"], dir);
            int port = Ports.Free();
            var psi = Start([.. AsPostgres, Path.Combine(bin, "postgres"), "-D", data, "-p", port.ToString(CultureInfo.InvariantCulture),
                "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off", "-c", "max_connections=20"], dir);
            psi.RedirectStandardError = true;
            var server = Process.Start(psi)!;
            var pg = new Postgres(server, dir, bin, port);
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            server.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) { ready.TrySetException(new InvalidOperationException("postgres exited while starting:\n" + pg.Log)); return; }
                lock (pg._log) pg._log.AppendLine(e.Data);
                if (e.Data.Contains("ready to accept connections", StringComparison.Ordinal)) ready.TrySetResult();
            };
            server.BeginErrorReadLine();
            try { await ready.Task.WaitAsync(TimeSpan.FromSeconds(60)); }
            catch (Exception e)
            {
                await pg.DisposeAsync();
                throw new InvalidOperationException($"PostgreSQL did not start on 127.0.0.1:{port}: {e.Message}\n{pg.Log}", e);
            }
            return pg;
        }
        catch
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            throw;
        }
    }

    public string Log { get { lock (_log) return _log.ToString(); } }

    /// <summary>Runs SQL statements (no result) as the superuser.</summary>
    public async Task ExecuteAsync(string sql)
    {
        await using var c = new NpgsqlConnection(ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_server.HasExited)
        {
            try { await RunAsync([.. AsPostgres, Path.Combine(_bin, "pg_ctl"), "stop", "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "-t", "20"], _dir); }
            catch (InvalidOperationException) { /* the kill below ends it */ }
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try { await _server.WaitForExitAsync(wait.Token); }
            catch (OperationCanceledException)
            {
                _server.Kill(entireProcessTree: true);
                await _server.WaitForExitAsync();
            }
        }
        _server.Dispose();
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    private static string? FindBin() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb")) && File.Exists(Path.Combine(b, "postgres")))
                .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var v) ? v : 0)
                .FirstOrDefault()
            : null;

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEuid();

    private static bool IsRoot => GetEuid() == 0;

    /// <summary>The argv prefix that runs a program as the postgres user when we are root (setpriv execs in place).</summary>
    private static string[] AsPostgres => IsRoot ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] : [];

    private static ProcessStartInfo Start(string[] argv, string cwd)
    {
        var psi = new ProcessStartInfo(argv[0], argv[1..]) { UseShellExecute = false, WorkingDirectory = cwd };
        psi.Environment["LC_ALL"] = "C";
        return psi;
    }

    private static async Task RunAsync(string[] argv, string cwd)
    {
        var psi = Start(argv, cwd);
        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try { await p.WaitForExitAsync(limit.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{string.Join(' ', argv)} did not finish within 120s");
        }
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{string.Join(' ', argv)} exited with {p.ExitCode}:\n{await output}{await errors}");
    }
}
