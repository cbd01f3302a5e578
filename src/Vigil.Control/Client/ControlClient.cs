using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Vigil.Control;

/// <summary>The control interface over the socket. Calls on one client take turns on one connection (reopened if it
/// broke); each follow stream has a connection of its own. Failures are <see cref="ControlException"/>s with the
/// server's code, or <see cref="ControlErrors.NotRunning"/> when no Vigil answers.</summary>
public sealed class ControlClient : IVigilControl
{
    /// <summary>Longest reply line the client reads (a large <c>logs</c> backlog); the server's requests are 1 MiB at most.</summary>
    public const int MaxReplyBytes = 256 << 20;

    /// <summary>How long <see cref="ShutdownAsync"/> waits for Vigil to stop its units and exit.</summary>
    public static readonly TimeSpan ShutdownBound = TimeSpan.FromMinutes(2);

    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly TimeSpan _shutdownBound;
    private readonly SemaphoreSlim _turn = new(1, 1);
    private Socket? _socket;
    private LineReader? _reader;
    private long _nextId;

    private ControlClient(string path, Socket socket, TimeProvider time, TimeSpan shutdownBound)
    {
        _path = path;
        _time = time;
        _shutdownBound = shutdownBound;
        Use(socket);
    }

    /// <summary>The socket this client talks to.</summary>
    public string SocketPath => _path;

    /// <summary>Connects. Throws ControlException(NotRunning) with the message
    /// <c>no running vigil (no socket at PATH); start one with 'vigil run'</c> when nothing answers.</summary>
    public static Task<ControlClient> ConnectAsync(string socketPath, CancellationToken cancel = default) =>
        ConnectAsync(socketPath, TimeProvider.System, ShutdownBound, cancel);

    internal static async Task<ControlClient> ConnectAsync(string socketPath, TimeProvider time, TimeSpan shutdownBound, CancellationToken cancel = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        var path = Path.GetFullPath(socketPath);
        var socket = await OpenAsync(path, cancel).ConfigureAwait(false);
        return new ControlClient(path, socket, time, shutdownBound);
    }

    private static async Task<Socket> OpenAsync(string path, CancellationToken cancel)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancel).ConfigureAwait(false);
            return socket;
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            socket.Dispose();
            throw e switch
            {
                // ENOENT reaches .NET as AddressNotAvailable; ECONNREFUSED is a stale socket (or a file that is none).
                SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.AddressNotAvailable } => NotRunning(path),
                SocketException { SocketErrorCode: SocketError.AccessDenied } =>
                    new ControlException(ControlErrors.Refused, $"cannot connect to {path}: permission denied (only the user vigil runs as, or root, may control it)"),
                ArgumentException => new ControlException(ControlErrors.BadRequest, $"cannot use {path} as a socket path: {e.Message}"),
                _ => new ControlException(ControlErrors.NotRunning, $"cannot connect to {path}: {e.Message}"),
            };
        }
    }

    private static ControlException NotRunning(string path) =>
        new(ControlErrors.NotRunning, $"no running vigil (no socket at {path}); start one with 'vigil run'");

    private ControlException Lost() =>
        new(ControlErrors.NotRunning, $"vigil closed the connection on {_path} before answering (did it stop?)");

    private void Use(Socket socket)
    {
        _socket = socket;
        _reader = new LineReader(socket, MaxReplyBytes);
    }

    private void Drop()
    {
        _socket?.Dispose();
        _socket = null;
        _reader = null;
    }

    public Task<ServerInfo> InfoAsync(CancellationToken cancel = default) =>
        CallAsync(new ControlRequest { Verb = "info" }, ControlJson.Default.ServerInfo, cancel);

    public Task<IReadOnlyList<UnitInfo>> ListAsync(CancellationToken cancel = default) =>
        CallAsync(new ControlRequest { Verb = "ls" }, ControlJson.Default.IReadOnlyListUnitInfo, cancel);

    public Task<IReadOnlyList<UnitDetail>> StatusAsync(string name, CancellationToken cancel = default) =>
        CallAsync(new ControlRequest { Verb = "status", Name = name }, ControlJson.Default.IReadOnlyListUnitDetail, cancel);

    public Task<IReadOnlyList<ActionOutcome>> StartAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) =>
        Act("start", names, wait, cancel);

    public Task<IReadOnlyList<ActionOutcome>> StopAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) =>
        Act("stop", names, wait, cancel);

    public Task<IReadOnlyList<ActionOutcome>> RestartAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) =>
        Act("restart", names, wait, cancel);

    public Task<IReadOnlyList<ActionOutcome>> KillAsync(IReadOnlyList<string> names, bool wait = true, CancellationToken cancel = default) =>
        Act("kill", names, wait, cancel);

    private Task<IReadOnlyList<ActionOutcome>> Act(string verb, IReadOnlyList<string> names, bool wait, CancellationToken cancel) =>
        CallAsync(new ControlRequest { Verb = verb, Names = names, Wait = wait }, ControlJson.Default.IReadOnlyListActionOutcome, cancel);

    public Task<IReadOnlyList<ActionOutcome>> SignalAsync(int signal, IReadOnlyList<string> names, CancellationToken cancel = default) =>
        CallAsync(new ControlRequest { Verb = "signal", Signal = signal, Names = names }, ControlJson.Default.IReadOnlyListActionOutcome, cancel);

    public Task<IReadOnlyList<LogLine>> LogsAsync(LogQuery query, CancellationToken cancel = default) =>
        CallAsync(LogsRequest(query, follow: false), ControlJson.Default.IReadOnlyListLogLine, cancel);

    public IAsyncEnumerable<LogLine> FollowLogsAsync(LogQuery query, CancellationToken cancel = default) =>
        StreamAsync(LogsRequest(query, follow: true), ControlJson.Default.LogLine, cancel);

    private static ControlRequest LogsRequest(LogQuery query, bool follow)
    {
        ArgumentNullException.ThrowIfNull(query);
        return new ControlRequest
        {
            Verb = "logs", Names = query.Names.Count > 0 ? query.Names : null, Lines = query.Lines, Since = query.Since, Follow = follow ? true : null,
        };
    }

    public Task<IReadOnlyList<EventInfo>> EventsAsync(DateTimeOffset? since = null, CancellationToken cancel = default) =>
        CallAsync(new ControlRequest { Verb = "events", Since = since }, ControlJson.Default.IReadOnlyListEventInfo, cancel);

    public IAsyncEnumerable<EventInfo> FollowEventsAsync(DateTimeOffset? since = null, CancellationToken cancel = default) =>
        StreamAsync(new ControlRequest { Verb = "events", Since = since, Follow = true }, ControlJson.Default.EventInfo, cancel);

    public Task<ReloadResult> ReloadAsync(bool dryRun = false, CancellationToken cancel = default) =>
        CallAsync(new ControlRequest { Verb = "reload", DryRun = dryRun }, ControlJson.Default.ReloadResult, cancel);

    public Task<IReadOnlyList<ActionOutcome>> AddAsync(AddRequest request, CancellationToken cancel = default) =>
        CallAsync(new ControlRequest { Verb = "add", Unit = request ?? throw new ArgumentNullException(nameof(request)) },
            ControlJson.Default.IReadOnlyListActionOutcome, cancel);

    public Task<IReadOnlyList<ActionOutcome>> RemoveAsync(IReadOnlyList<string> names, CancellationToken cancel = default) =>
        CallAsync(new ControlRequest { Verb = "remove", Names = names }, ControlJson.Default.IReadOnlyListActionOutcome, cancel);

    public Task<SaveResult> SaveAsync(CancellationToken cancel = default) =>
        CallAsync(new ControlRequest { Verb = "save" }, ControlJson.Default.SaveResult, cancel);

    public Task<ReliabilityReport> ReportAsync(DateTimeOffset? since = null, CancellationToken cancel = default) =>
        CallAsync(new ControlRequest { Verb = "report", Since = since }, ControlJson.Default.ReliabilityReport, cancel);

    public Task<IReadOnlyList<TemplateInfo>> TemplatesAsync(CancellationToken cancel = default) =>
        CallAsync(new ControlRequest { Verb = "templates" }, ControlJson.Default.IReadOnlyListTemplateInfo, cancel);

    public Task<TemplateSaveResult> SaveTemplateAsync(string name, CancellationToken cancel = default) =>
        CallAsync(new ControlRequest { Verb = "save-template", Name = name }, ControlJson.Default.TemplateSaveResult, cancel);

    /// <summary>Asks Vigil to stop every unit and exit, then waits (at most <see cref="ShutdownBound"/>) until it has
    /// closed this connection and its process has ended. A Vigil in this very process (tests) is not waited for.</summary>
    public async Task ShutdownAsync(CancellationToken cancel = default)
    {
        long started = _time.GetTimestamp();
        TimeSpan Left() => _shutdownBound - _time.GetElapsedTime(started);
        var info = await InfoAsync(cancel).ConfigureAwait(false);
        await _turn.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            try { await RoundTripAsync(new ControlRequest { Verb = "shutdown" }, ControlJson.Default.ServerInfo, cancel).ConfigureAwait(false); }
            catch (ControlException e) when (e.Code == ControlErrors.NotRunning) { } // closed before its reply: accepted all the same
            if (_socket is not null && !await ClosedWithinAsync(_socket, Left(), cancel).ConfigureAwait(false))
                throw new ControlException(ControlErrors.Internal, $"vigil#{info.Pid} accepted the shutdown but still serves {_path} after {Vigil.Specs.Durations.Format(_shutdownBound)}");
            Drop();
        }
        finally { _turn.Release(); }
        if (info.Pid == Environment.ProcessId) return;
        while (Native.ProcessExists(info.Pid))
        {
            if (Left() <= TimeSpan.Zero)
                throw new ControlException(ControlErrors.Internal, $"vigil#{info.Pid} has not exited {Vigil.Specs.Durations.Format(_shutdownBound)} after the shutdown request");
            // No pidfd for a process that is not our child everywhere: poll, as kill(1)-based tools do.
            await Task.Delay(TimeSpan.FromMilliseconds(50), _time, cancel).ConfigureAwait(false);
        }
    }

    /// <summary>Reads (and drops) until the server closes the connection; false when <paramref name="limit"/> passes first.</summary>
    private async Task<bool> ClosedWithinAsync(Socket socket, TimeSpan limit, CancellationToken cancel)
    {
        if (limit <= TimeSpan.Zero) return false;
        using var timer = new CancellationTokenSource(limit, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, cancel);
        var scratch = new byte[4096];
        try
        {
            while (await socket.ReceiveAsync(scratch, SocketFlags.None, either.Token).ConfigureAwait(false) > 0) { }
            return true;
        }
        catch (SocketException) { return true; }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested) { return false; }
    }

    private async Task<T> CallAsync<T>(ControlRequest request, JsonTypeInfo<T> type, CancellationToken cancel)
    {
        await _turn.WaitAsync(cancel).ConfigureAwait(false);
        try { return await RoundTripAsync(request, type, cancel).ConfigureAwait(false); }
        finally { _turn.Release(); }
    }

    /// <summary>One request and its reply on the shared connection (the caller holds the turn).</summary>
    private async Task<T> RoundTripAsync<T>(ControlRequest request, JsonTypeInfo<T> type, CancellationToken cancel)
    {
        // The server closes a connection that stays idle (a minute by default): a long-lived client (a TUI) then opens a
        // new one. Checked before sending, so a request is never sent twice.
        if (_socket is not null && ClosedByServer(_socket)) Drop();
        if (_socket is null) Use(await OpenAsync(_path, cancel).ConfigureAwait(false));
        long id = ++_nextId;
        bool done = false;
        try
        {
            await SendAsync(_socket!, _reader!, ControlProtocol.RequestLine(request with { V = ControlProtocol.Version, Id = id }), type, cancel).ConfigureAwait(false);
            while (true)
            {
                var line = await ReadLineAsync(_reader!, cancel).ConfigureAwait(false) ?? throw Lost();
                var reply = Decode(line.Span, type);
                // A line for another id is a late reply to a request this client gave up on: not ours.
                if (reply.Id is { } rid && rid != id) continue;
                if (reply.Error is { } error)
                {
                    // An error with no id is the server's own word before it closes (refused, busy, too-large): the
                    // connection is gone, and the next call opens another. Any other error leaves it in step.
                    done = reply.Id is not null;
                    throw error.ToException();
                }
                if (reply.Kind != ReplyKind.Result) throw Protocol($"a '{reply.Kind}' line where the reply to '{request.Verb}' was expected");
                done = true;
                return reply.Value!;
            }
        }
        finally
        {
            // A call that did not get its whole reply (cancelled, connection lost) leaves the connection out of step.
            if (!done) Drop();
        }
    }

    /// <summary>True when the server has closed the connection: it reads as ready with nothing to read (EOF).</summary>
    private static bool ClosedByServer(Socket socket)
    {
        try { return socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0; }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { return true; }
    }

    private async IAsyncEnumerable<T> StreamAsync<T>(ControlRequest request, JsonTypeInfo<T> type, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        using var socket = await OpenAsync(_path, cancel).ConfigureAwait(false);
        var reader = new LineReader(socket, MaxReplyBytes);
        await SendAsync(socket, reader, ControlProtocol.RequestLine(request with { V = ControlProtocol.Version, Id = 1 }), type, cancel).ConfigureAwait(false);
        while (true)
        {
            var line = await ReadLineAsync(reader, cancel).ConfigureAwait(false)
                ?? throw new ControlException(ControlErrors.NotRunning, $"the connection to vigil on {_path} was lost");
            var reply = Decode(line.Span, type);
            if (reply.Error is { } error) throw error.ToException();
            if (reply.Kind == ReplyKind.End) yield break;
            if (reply.Kind != ReplyKind.Item) throw Protocol($"a '{reply.Kind}' line inside a stream");
            yield return reply.Value!;
        }
    }

    /// <summary>Sends one request line. When the send fails because the server already closed the connection, the line
    /// it may have written first (a refusal of our uid, busy) is the real answer: that error is thrown, not the EPIPE.</summary>
    private static async Task SendAsync<T>(Socket socket, LineReader reader, byte[] line, JsonTypeInfo<T> type, CancellationToken cancel)
    {
        SocketException failed;
        try
        {
            for (int sent = 0; sent < line.Length;)
                sent += await socket.SendAsync(line.AsMemory(sent), SocketFlags.None, cancel).ConfigureAwait(false);
            return;
        }
        catch (SocketException e) { failed = e; }
        WireError? said = null;
        try
        {
            if (await ReadLineAsync(reader, cancel).ConfigureAwait(false) is { } last) said = Decode(last.Span, type).Error;
        }
        catch (Exception e) when (e is ControlException or SocketException or IOException) { /* nothing readable: the send's error stands */ }
        if (said is not null) throw said.ToException();
        throw new ControlException(ControlErrors.NotRunning, $"cannot send to vigil: {failed.Message}");
    }

    /// <summary>The next whole line; null when the server closed the connection.</summary>
    private static async Task<ReadOnlyMemory<byte>?> ReadLineAsync(LineReader reader, CancellationToken cancel)
    {
        while (true)
        {
            switch (reader.TryTake(out var line))
            {
                case LineReader.Result.Line: return line;
                case LineReader.Result.TooLarge: throw Protocol($"a reply line over {MaxReplyBytes} bytes");
            }
            int n;
            try { n = await reader.FillAsync(cancel).ConfigureAwait(false); }
            catch (SocketException) { return null; }
            // The server ends every line with a newline: a piece without one at the close is a reply cut short (the
            // server was closing as it wrote), not a reply.
            if (n == 0) return null;
        }
    }

    private enum ReplyKind { Result, Error, Item, End }

    private readonly record struct Reply<T>(long? Id, ReplyKind Kind, T? Value, WireError? Error);

    /// <summary>One line from the server: a result or error reply, a stream item or the stream's end.</summary>
    private static Reply<T> Decode<T>(ReadOnlySpan<byte> line, JsonTypeInfo<T> type)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            using var doc = JsonDocument.ParseValue(ref reader);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Protocol("a line that is not a JSON object");
            long? id = root.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.Number && i.TryGetInt64(out long n) ? n : null;
            if (root.TryGetProperty("ok", out var ok))
            {
                if (ok.ValueKind == JsonValueKind.True)
                    return new(id, ReplyKind.Result, root.TryGetProperty("result", out var r) ? r.Deserialize(type) : default, null);
                var error = root.TryGetProperty("error", out var e) ? e.Deserialize(ControlJson.Default.WireError) : null;
                return new(id, ReplyKind.Error, default, error ?? new WireError { Code = ControlErrors.Internal, Message = "vigil answered with an error it did not describe" });
            }
            if (root.TryGetProperty("item", out var item)) return new(id, ReplyKind.Item, item.Deserialize(type), null);
            if (root.TryGetProperty("end", out _)) return new(id, ReplyKind.End, default, null);
            throw Protocol("a line with neither ok, item nor end");
        }
        catch (JsonException e) { throw Protocol($"a line that does not read as this protocol's JSON ({e.Message})"); }
    }

    private static ControlException Protocol(string what) =>
        new(ControlErrors.Internal, $"vigil sent {what}; is it a different version of vigil? (this client speaks protocol {ControlProtocol.Version})");

    public ValueTask DisposeAsync()
    {
        Drop();
        return ValueTask.CompletedTask;
    }
}
