using System.Text.Json;
using Vigil.Launching;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>An end-to-end test class: a <see cref="CliHarness"/> per test, cleaned up after it.</summary>
public abstract class HarnessTests : IAsyncLifetime
{
    protected CliHarness H { get; } = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync() => await H.DisposeAsync();
}

/// <summary>
/// A folder of its own (its XDG_RUNTIME_DIR too, so the control socket is <c>vigil/&lt;name&gt;.sock</c> in it) where a
/// test runs the real <c>vigil run</c> and then the real client commands against it. Whatever carries
/// <see cref="Token"/> as an argument is killed at the end, whatever the test did.
/// </summary>
public sealed class CliHarness : IAsyncDisposable
{
    private readonly List<VigilProcess> _running = [];

    public DirectoryInfo Dir { get; } = Directory.CreateTempSubdirectory("vigil-e2e-");

    /// <summary>A sleep duration no other test uses: <c>[sleep, TOKEN]</c> units are found by it.</summary>
    public string Token { get; } = Procs.UniqueSleep();

    public string Path(string name) => System.IO.Path.Combine(Dir.FullName, name);

    /// <summary>The default socket of instance <paramref name="name"/> in this folder.</summary>
    public string Socket(string name = "default") => System.IO.Path.Combine(Dir.FullName, "vigil", name + ".sock");

    public string Write(string name, string text)
    {
        var path = Path(name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Starts a long-running vigil (run, demo) in the folder; disposed (killed if still running) at the end.</summary>
    public VigilProcess Start(params string[] args) => Track(VigilProcess.Start(Dir.FullName, args));

    public VigilProcess StartWith(IReadOnlyDictionary<string, string?> env, params string[] args) => Track(VigilProcess.StartWith(Dir.FullName, env, args));

    private VigilProcess Track(VigilProcess p)
    {
        lock (_running) _running.Add(p);
        return p;
    }

    /// <summary>Runs a client command to its end: exit code, stdout and stderr.</summary>
    public async Task<(int Code, string Out, string Err)> Cli(params string[] args) => await CliWith(null, args);

    public async Task<(int Code, string Out, string Err)> CliWith(IReadOnlyDictionary<string, string?>? env, params string[] args)
    {
        await using var p = VigilProcess.StartWith(Dir.FullName, env ?? new Dictionary<string, string?>(), args);
        int code = await p.WaitExit(TimeSpan.FromSeconds(90));
        return (code, string.Join('\n', p.Out), string.Join('\n', p.Err));
    }

    /// <summary>Runs a client command with <c>--json</c> and returns what it printed, parsed (the command must succeed).</summary>
    public async Task<JsonElement> Json(params string[] args)
    {
        var (code, output, err) = await Cli([.. args, "--json"]);
        Assert.True(code == 0, $"vigil {string.Join(' ', args)} --json exited {code}: {err}");
        using var doc = JsonDocument.Parse(output);
        return doc.RootElement.Clone();
    }

    /// <summary><c>ls --json</c> as name → pid (null when none runs) for units with unique names.</summary>
    public async Task<Dictionary<string, int?>> Pids()
    {
        var units = await Json("ls");
        return units.EnumerateArray().ToDictionary(u => u.GetProperty("name").GetString()!,
            u => u.GetProperty("pid").ValueKind == JsonValueKind.Null ? (int?)null : u.GetProperty("pid").GetInt32());
    }

    /// <summary>Waits (bounded) until <c>ls --json</c> answers and satisfies <paramref name="condition"/> (a Vigil just
    /// started may not serve its socket yet).</summary>
    public async Task<JsonElement> LsUntil(Func<JsonElement, bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        string last;
        do
        {
            var (code, output, err) = await Cli("ls", "--json");
            last = code == 0 ? output : err;
            if (code == 0)
            {
                using var doc = JsonDocument.Parse(output);
                if (condition(doc.RootElement)) return doc.RootElement.Clone();
            }
        }
        while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"ls never showed {what}: {last}");
    }

    /// <summary>Polls <paramref name="condition"/> (each poll is a client command or a file read) until it holds or the
    /// bound passes; returns whether it held.</summary>
    public static async Task<bool> Until(Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (DateTime.UtcNow < deadline)
        {
            if (await condition()) return true;
            await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System); // polling interval of a bounded wait
        }
        return await condition();
    }

    public async ValueTask DisposeAsync()
    {
        List<VigilProcess> running;
        lock (_running) running = [.. _running];
        foreach (var p in running) await p.DisposeAsync();
        foreach (var pid in Procs.WithArg(Token)) ProcessIdentity.Of(pid)?.Signal(Signals.SIGKILL);
        Dir.Delete(recursive: true);
    }
}
