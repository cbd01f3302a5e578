using System.Net;
using System.Text;
using System.Text.Json;

namespace Vigil.Tests.Support;

/// <summary>A real HTTP server on a loopback port of its own (HttpListener) that records what webhooks send: it answers
/// 204 on every path, 500 on <c>/fail</c>, and never on <c>/hang</c> (until disposed).</summary>
public sealed class HookReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly List<Received> _got = [];
    private readonly SemaphoreSlim _changed = new(0);
    private readonly CancellationTokenSource _stop = new();

    /// <summary>One request: its method, path, headers and body (text).</summary>
    public sealed record Received(string Method, string Path, WebHeaderCollection Headers, string Body)
    {
        public JsonElement Json => JsonDocument.Parse(Body).RootElement;
    }

    public HookReceiver()
    {
        for (int attempt = 0; ; attempt++)
        {
            Port = Ports.Free();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            try { _listener.Start(); break; }
            catch (HttpListenerException) when (attempt < 5) { } // the free port was taken meanwhile
        }
        _ = Task.Run(ServeAsync);
    }

    public int Port { get; }

    public string Url(string path) => $"http://127.0.0.1:{Port}{path}";

    public IReadOnlyList<Received> Got { get { lock (_got) return [.. _got]; } }

    /// <summary>Requests to <paramref name="path"/> so far.</summary>
    public List<Received> On(string path) { lock (_got) return [.. _got.Where(r => r.Path == path)]; }

    /// <summary>Waits (bounded) until <paramref name="n"/> requests to <paramref name="path"/> have come.</summary>
    public async Task<List<Received>> WaitFor(string path, int n = 1, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var got = On(path);
            if (got.Count >= n) return got;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"{got.Count} of {n} request(s) to {path} came; all: {string.Join(", ", Got.Select(r => r.Path))}");
            await _changed.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception) { return; } // disposed
            _ = Task.Run(() => AnswerAsync(ctx));
        }
    }

    private async Task AnswerAsync(HttpListenerContext ctx)
    {
        string body;
        using (var reader = new StreamReader(ctx.Request.InputStream, Encoding.UTF8)) body = await reader.ReadToEndAsync();
        var path = ctx.Request.Url!.AbsolutePath;
        var headers = new WebHeaderCollection();
        foreach (string key in ctx.Request.Headers) headers[key] = ctx.Request.Headers[key];
        lock (_got) _got.Add(new Received(ctx.Request.HttpMethod, path, headers, body));
        _changed.Release();
        try
        {
            if (path == "/hang") await Task.Delay(Timeout.Infinite, _stop.Token);
            ctx.Response.StatusCode = path == "/fail" ? 500 : 204;
            ctx.Response.Close();
        }
        catch (Exception) { /* disposed while hanging, or the client went away */ }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
    }
}
