using System.Globalization;
using System.Net.Sockets;

namespace Vigil.Control;

public sealed partial class ControlServer
{
    /// <summary>One admitted client: its requests in turn, each answered with one line, or one stream.</summary>
    private sealed class Connection(ControlServer server, Socket socket, Native.Credentials peer)
    {
        private readonly LineReader _reader = new(socket, ControlProtocol.MaxRequestBytes);
        private readonly CancellationTokenSource _closing = CancellationTokenSource.CreateLinkedTokenSource(server._stop.Token);
        private long _begunAt; // when the first byte of the request in progress came (TimeProvider timestamp)

        private ControlServerOptions Options => server._options;
        private IVigilControl Target => server._target;

        private enum Next { Line, End, TooLarge, Stalled }

        public async Task RunAsync()
        {
            try { await ServeAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
            {
                // The client went away, stopped reading, or the server is closing: nothing to answer.
            }
            catch (Exception e)
            {
                ControlLog.ConnectionFailed(server._options.Logger, peer.Pid, e.ToString(), e);
            }
            finally
            {
                socket.Dispose();
                _closing.Dispose();
            }
        }

        private async Task ServeAsync()
        {
            while (true)
            {
                var (next, line) = await NextLineAsync().ConfigureAwait(false);
                switch (next)
                {
                    case Next.End:
                        return;
                    case Next.TooLarge:
                        await SendAsync(ControlProtocol.ErrorLine(null, new WireError
                        {
                            Code = ControlErrors.TooLarge,
                            Message = string.Create(CultureInfo.InvariantCulture,
                                $"request line over the limit of {ControlProtocol.MaxRequestBytes} bytes; closing the connection (a line that long cannot be resynchronised)"),
                        })).ConfigureAwait(false);
                        return;
                    case Next.Stalled:
                        await SendAsync(ControlProtocol.ErrorLine(null, new WireError
                        {
                            Code = ControlErrors.BadRequest,
                            Message = $"request incomplete: no newline within {Vigil.Specs.Durations.Format(Options.RequestTimeout)} of its first byte; closing the connection",
                        })).ConfigureAwait(false);
                        return;
                }
                if (IsBlank(line.Span)) continue;
                var parsed = RequestParser.Parse(line.Span);
                if (!parsed.Ok)
                {
                    await SendAsync(ControlProtocol.ErrorLine(parsed.Id, parsed.Error!)).ConfigureAwait(false);
                    continue;
                }
                if (parsed.Request!.Follow == true)
                {
                    await StreamAsync(parsed).ConfigureAwait(false);
                    return;
                }
                var reply = await AnswerAsync(parsed).ConfigureAwait(false);
                await SendAsync(reply).ConfigureAwait(false);
            }
        }

        /// <summary>The next request line, with the idle and request timeouts.</summary>
        private async Task<(Next, ReadOnlyMemory<byte>)> NextLineAsync()
        {
            var time = Options.Time;
            while (true)
            {
                switch (_reader.TryTake(out var line))
                {
                    case LineReader.Result.Line:
                        _begunAt = _reader.Pending > 0 ? time.GetTimestamp() : 0;
                        return (Next.Line, line);
                    case LineReader.Result.TooLarge:
                        return (Next.TooLarge, default);
                }
                bool begun = _reader.Pending > 0;
                if (begun && _begunAt == 0) _begunAt = time.GetTimestamp();
                // A begun request has RequestTimeout from its first byte in all, however slowly its bytes come.
                var limit = begun ? Options.RequestTimeout - time.GetElapsedTime(_begunAt) : Options.IdleTimeout;
                if (limit <= TimeSpan.Zero) return (Next.Stalled, default);
                using var timer = new CancellationTokenSource(limit, time);
                using var either = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, _closing.Token);
                int n;
                try { n = await _reader.FillAsync(either.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) when (timer.IsCancellationRequested && !_closing.IsCancellationRequested)
                {
                    return (begun ? Next.Stalled : Next.End, default);
                }
                if (n == 0)
                {
                    // The client closed (or shut down its sending side): a last request without its newline still counts.
                    var rest = _reader.TakeRest();
                    return rest.IsEmpty ? (Next.End, default) : (Next.Line, rest);
                }
            }
        }

        /// <summary>Runs one request against the target; the reply line (an error reply for any failure).</summary>
        private async Task<byte[]> AnswerAsync(ParsedRequest p)
        {
            var id = p.Id;
            try
            {
                return await DispatchAsync(p, _closing.Token).ConfigureAwait(false);
            }
            catch (ControlException e)
            {
                return ControlProtocol.ErrorLine(id, WireError.From(e));
            }
            catch (OperationCanceledException) when (_closing.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e)
            {
                ControlLog.RequestFailed(server._options.Logger, p.Request!.Verb, e.ToString(), e);
                return ControlProtocol.ErrorLine(id, new WireError { Code = ControlErrors.Internal, Message = $"internal error in '{p.Request.Verb}': {e.GetType().Name}: {e.Message}" });
            }
        }

        private async Task<byte[]> DispatchAsync(ParsedRequest p, CancellationToken cancel)
        {
            var r = p.Request!;
            var id = p.Id;
            var json = ControlJson.Default;
            IReadOnlyList<string> names = r.Names ?? [];
            bool wait = r.Wait ?? true;
            switch (p.Verb)
            {
                case Verb.Info: return ControlProtocol.ResultLine(id, await Target.InfoAsync(cancel).ConfigureAwait(false), json.ServerInfo);
                case Verb.Ls: return ControlProtocol.ResultLine(id, await Target.ListAsync(cancel).ConfigureAwait(false), json.IReadOnlyListUnitInfo);
                case Verb.Status: return ControlProtocol.ResultLine(id, await Target.StatusAsync(r.Name!, cancel).ConfigureAwait(false), json.IReadOnlyListUnitDetail);
                case Verb.Start: return Outcomes(id, await Target.StartAsync(names, wait, cancel).ConfigureAwait(false));
                case Verb.Stop: return Outcomes(id, await Target.StopAsync(names, wait, cancel).ConfigureAwait(false));
                case Verb.Restart: return Outcomes(id, await Target.RestartAsync(names, wait, cancel).ConfigureAwait(false));
                case Verb.Kill: return Outcomes(id, await Target.KillAsync(names, wait, cancel).ConfigureAwait(false));
                case Verb.Signal: return Outcomes(id, await Target.SignalAsync(r.Signal!.Value, names, cancel).ConfigureAwait(false));
                case Verb.Logs: return ControlProtocol.ResultLine(id, await Target.LogsAsync(Query(r), cancel).ConfigureAwait(false), json.IReadOnlyListLogLine);
                case Verb.Events: return ControlProtocol.ResultLine(id, await Target.EventsAsync(r.Since, cancel).ConfigureAwait(false), json.IReadOnlyListEventInfo);
                case Verb.Reload: return ControlProtocol.ResultLine(id, await Target.ReloadAsync(r.DryRun ?? false, cancel).ConfigureAwait(false), json.ReloadResult);
                case Verb.Add: return Outcomes(id, await Target.AddAsync(r.Unit!, cancel).ConfigureAwait(false));
                case Verb.Remove: return Outcomes(id, await Target.RemoveAsync(names, cancel).ConfigureAwait(false));
                case Verb.Save: return ControlProtocol.ResultLine(id, await Target.SaveAsync(cancel).ConfigureAwait(false), json.SaveResult);
                case Verb.Templates: return ControlProtocol.ResultLine(id, await Target.TemplatesAsync(cancel).ConfigureAwait(false), json.IReadOnlyListTemplateInfo);
                case Verb.SaveTemplate: return ControlProtocol.ResultLine(id, await Target.SaveTemplateAsync(r.Name!, cancel).ConfigureAwait(false), json.TemplateSaveResult);
                case Verb.Report: return ControlProtocol.ResultLine(id, await Target.ReportAsync(r.Since, cancel).ConfigureAwait(false), json.ReliabilityReport);
                case Verb.Shutdown:
                {
                    // Who is going (its PID: the client waits for that process to end), then the request itself. The
                    // server may close this connection as soon as it is accepted, before this reply is written.
                    var info = await Target.InfoAsync(cancel).ConfigureAwait(false);
                    await Target.ShutdownAsync(cancel).ConfigureAwait(false);
                    return ControlProtocol.ResultLine(id, info, json.ServerInfo);
                }
                default: throw new ControlException(ControlErrors.UnknownVerb, $"unknown verb '{r.Verb}'");
            }
        }

        private static byte[] Outcomes(long? id, IReadOnlyList<ActionOutcome> outcomes) =>
            ControlProtocol.ResultLine(id, outcomes, ControlJson.Default.IReadOnlyListActionOutcome);

        private static LogQuery Query(ControlRequest r) => new() { Names = r.Names ?? [], Lines = r.Lines ?? 20, Since = r.Since };

        /// <summary>logs/events with follow: items until the client closes or the server ends (then an end line).</summary>
        private async Task StreamAsync(ParsedRequest p)
        {
            var id = p.Id;
            var r = p.Request!;
            using var stream = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
            var watching = WatchForCloseAsync(stream);
            try
            {
                if (p.Verb == Verb.Logs)
                {
                    await foreach (var line in Target.FollowLogsAsync(Query(r), stream.Token).ConfigureAwait(false))
                        await SendAsync(ControlProtocol.ItemLine(id, line, ControlJson.Default.LogLine), stream.Token).ConfigureAwait(false);
                }
                else
                {
                    await foreach (var ev in Target.FollowEventsAsync(r.Since, stream.Token).ConfigureAwait(false))
                        await SendAsync(ControlProtocol.ItemLine(id, ev, ControlJson.Default.EventInfo), stream.Token).ConfigureAwait(false);
                }
                await SendAsync(ControlProtocol.EndLine(id)).ConfigureAwait(false); // the source ended first
            }
            catch (OperationCanceledException) when (stream.IsCancellationRequested)
            {
                // The client closed (nothing to say), or the server is closing: say the stream ends, briefly.
                if (server._stop.IsCancellationRequested)
                    await SendQuietlyAsync(ControlProtocol.EndLine(id)).ConfigureAwait(false);
            }
            catch (ControlException e)
            {
                await SendAsync(ControlProtocol.ErrorLine(id, WireError.From(e))).ConfigureAwait(false);
            }
            finally
            {
                await stream.CancelAsync().ConfigureAwait(false);
                await watching.ConfigureAwait(false);
            }
        }

        /// <summary>While streaming, the client sends nothing more; reading tells when it closes (EOF), which ends the stream.</summary>
        private async Task WatchForCloseAsync(CancellationTokenSource stream)
        {
            var scratch = new byte[256];
            try
            {
                while (await socket.ReceiveAsync(scratch, SocketFlags.None, stream.Token).ConfigureAwait(false) > 0) { }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
            finally
            {
                try { await stream.CancelAsync().ConfigureAwait(false); }
                catch (ObjectDisposedException) { }
            }
        }

        private async Task SendAsync(byte[] bytes, CancellationToken also = default)
        {
            using var timer = new CancellationTokenSource(Options.WriteTimeout, Options.Time);
            using var either = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, _closing.Token, also);
            for (int sent = 0; sent < bytes.Length;)
                sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, either.Token).ConfigureAwait(false);
        }

        /// <summary>A last line as the server closes: bounded to a second, failures ignored.</summary>
        private async Task SendQuietlyAsync(byte[] bytes)
        {
            using var timer = new CancellationTokenSource(TimeSpan.FromSeconds(1), Options.Time);
            try
            {
                for (int sent = 0; sent < bytes.Length;)
                    sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, timer.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
        }

        private static bool IsBlank(ReadOnlySpan<byte> line)
        {
            foreach (var b in line)
                if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r')) return false;
            return true;
        }
    }
}
