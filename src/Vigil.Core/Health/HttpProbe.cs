using System.Net;
using System.Net.Sockets;
using System.Text;
using Vigil.Specs;

namespace Vigil.Health;

/// <summary><c>http</c>: GET the URL; healthy when the status is in the range and the body holds the expected text.</summary>
internal sealed class HttpProbe(HttpCheck check) : IProbe
{
    /// <summary>How much of the body is searched for <see cref="HttpCheck.BodyContains"/>.</summary>
    private const int MaxBody = 64 * 1024;

    public async ValueTask<ProbeResult> CheckAsync(ProbeTarget target, CancellationToken cancel)
    {
        var url = check.Url;
        try
        {
            using var response = await ProbeHttp.GetAsync(url, cancel).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            if (status < check.StatusMin || status > check.StatusMax)
                return ProbeResult.Fail($"HTTP {status} from {url}" + (check.StatusMin == check.StatusMax
                    ? $" (expected {check.StatusMin})" : $" (expected {check.StatusMin}-{check.StatusMax})"));
            if (check.BodyContains is { } expected)
            {
                var body = await ProbeHttp.ReadBodyAsync(response, MaxBody, cancel).ConfigureAwait(false);
                if (!body.Contains(expected, StringComparison.Ordinal))
                    return ProbeResult.Fail($"HTTP {status} from {url} without \"{expected}\" in the body");
            }
            return ProbeResult.Ok($"HTTP {status} from {url}");
        }
        catch (Exception e)
        {
            return ProbeResult.Fail(ProbeHttp.Describe(e, url, target.Spec.CheckDeadline, cancel));
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// The one HTTP client of the probes (http checks and progress' HTTP JSON source). A fresh connection for every
/// check (Connection: close, nothing pooled), so a server that stopped accepting is seen at once rather than hidden
/// behind a kept-alive connection; no proxy (health URLs are local), no redirects followed (3xx is a status like any
/// other), no client-side timeout: the probe's cancellation token is the deadline.
/// </summary>
internal static class ProbeHttp
{
    private static readonly HttpClient Client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.Zero,
        PooledConnectionIdleTimeout = TimeSpan.Zero,
        ConnectTimeout = Timeout.InfiniteTimeSpan,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>GET <paramref name="url"/> on a new connection; returns once the headers are in.</summary>
    public static Task<HttpResponseMessage> GetAsync(Uri url, CancellationToken cancel)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.ConnectionClose = true;
        request.Headers.UserAgent.ParseAdd("vigil-probe");
        return Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel);
    }

    /// <summary>The first <paramref name="max"/> bytes of the body as UTF-8 text.</summary>
    public static async Task<string> ReadBodyAsync(HttpResponseMessage response, int max, CancellationToken cancel)
    {
        var stream = await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buf = new byte[max];
            int len = 0, n;
            while (len < max && (n = await stream.ReadAsync(buf.AsMemory(len), cancel).ConfigureAwait(false)) > 0) len += n;
            return Encoding.UTF8.GetString(buf, 0, len);
        }
    }

    /// <summary>Why a request failed, in a user's words.</summary>
    public static string Describe(Exception e, Uri url, TimeSpan deadline, CancellationToken cancel)
    {
        if (e is OperationCanceledException && cancel.IsCancellationRequested)
            return $"no answer from {url} within {Durations.Format(deadline)}";
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException se)
                return se.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => $"connection refused by {url}",
                    SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => $"cannot resolve {url.Host} ({url})",
                    _ => $"{se.Message} ({url})",
                };
        }
        return e switch
        {
            HttpRequestException or IOException => $"{e.Message} ({url})",
            OperationCanceledException => $"request to {url} was cancelled",
            _ => $"{e.GetType().Name}: {e.Message} ({url})",
        };
    }
}
