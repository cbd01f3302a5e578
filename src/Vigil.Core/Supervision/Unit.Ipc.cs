using System.Text.Json;
using Vigil.Launching;

namespace Vigil.Supervision;

// elife's clean shutdown (seed 001): a child forked with an IPC channel is first asked to stop with a message, which
// runs its onstopping hook, and is signalled only if it has not exited by then. Vigil keeps that order for any run with
// a channel (see CommandResolver.UsesIpc): the message, up to stop.timeout for the process to exit, then the usual
// tree stop (stop signal, stop.timeout, SIGKILL to the tree). A child that exits on the message is a clean stop; the
// tree stop then only has its leftovers (sub-processes) to end.
// The other way, the child may send {"notify": "READY=1\nSTATUS=…"}: an sd_notify message from the main process to the
// run's sd-notify probe (clients/node's ready() and watchdog(): Node has no Unix datagram sockets). Nothing else the
// child sends is used.
public sealed partial class Unit
{
    /// <summary>Reads one run's channel lines on the reactor thread: only <c>{"notify": "…"}</c> is acted on, by that run's
    /// sd-notify probe (which rate-limits it as its socket's datagrams). Made per run, bound to the run's probes before
    /// the spawn, so a child that says READY=1 at once is heard even if its line is read before the unit has recorded
    /// the spawn (it was lost then on a busy machine), and a late line of an ended run never reaches the next one.</summary>
    private sealed class ChannelMessages(Health.ProbeRunner probes) : IIpcReceiver
    {
        public void OnMessage(int pid, ReadOnlySpan<byte> line)
        {
            if (Notification(line) is { } state) probes.NotifyFromChannel(state);
        }

        /// <summary>The string of a top-level "notify" key, or null (not JSON, another message, garbage).</summary>
        internal static string? Notification(ReadOnlySpan<byte> line)
        {
            if (line.IndexOf("\"notify\""u8) < 0) return null; // most lines are not: skip the parse
            try
            {
                var reader = new Utf8JsonReader(line);
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    bool wanted = reader.ValueTextEquals("notify"u8) && reader.CurrentDepth == 1;
                    if (!reader.Read()) return null;
                    if (wanted) return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    reader.Skip();
                }
                return null;
            }
            catch (JsonException) { return null; }
        }
    }

    /// <summary>elife's stopping message, as its pm module sends it.</summary>
    internal static ReadOnlySpan<byte> StoppingMessage => """{"stopping":true}"""u8;

    /// <summary>Whether a stop with <paramref name="signal"/> begins with the stopping message: a graceful one, on a channel.</summary>
    private static bool SendsStoppingMessage(IProcessHandle p, int signal) => signal != Signals.SIGKILL && p.Ipc is not null;

    /// <summary>The tree stop of <paramref name="req"/>, after the stopping message when the process has a channel and the
    /// stop is graceful. Runs off the loop (the message wait is as long as the stop timeout).</summary>
    private async Task<TreeStopResult> TerminateAsync(IProcessHandle p, TreeStopRequest req)
    {
        if (SendsStoppingMessage(p, req.Signal) && !p.HasExited && p.Ipc!.TrySend(StoppingMessage))
        {
            using var cancel = new CancellationTokenSource();
            var timeout = Task.Delay(req.Grace, _time, cancel.Token);
            await Task.WhenAny(p.Exited, timeout).ConfigureAwait(false);
            cancel.Cancel();
        }
        return await _launcher.TerminateAsync(req, _time).ConfigureAwait(false);
    }
}
