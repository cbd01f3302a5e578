using System.Globalization;
using System.Security.Cryptography;
using Vigil.Telemetry.DogStatsD;
using Vigil.Tether.Agent;
using Vigil.Tether.Mqtt;

namespace Vigil.Tether.Pinger;

/// <summary>
/// <c>vigil pinger</c>: the Tether Process Pinger. Pings every <c>ping.interval</c> as <c>processPinger</c>; a pong
/// within <c>ping.timeout</c> of its ping is a <c>heartbeat</c> (with the <c>ping</c> round trip and the pong's
/// numeric fields as gauges); none is a <c>timeout</c> event, declared the moment the timeout has passed, then a
/// restart through PM2 and/or <c>restart.exec</c>. PM2 unreachable, or without the process, exits 1 after
/// <c>exitPause</c> (as the original), with a <c>PM2 integration failure</c> event.
/// </summary>
public sealed class ProcessPinger(PingerSettings settings, TextWriter log, DogStatsDWriter? datadog, TimeProvider? time = null)
{
    readonly TimeProvider _time = time ?? TimeProvider.System;
    readonly Pm2? _pm2 = settings.Pm2Enabled ? new Pm2(settings.Pm2Bin) : null;
    readonly object _logGate = new();
    long _settledFrom;

    /// <summary>Runs until <paramref name="stop"/> (exit code 0) or a fatal failure (1).</summary>
    public async Task<int> RunAsync(CancellationToken stop)
    {
        Log(PingerLogLevel.Info, $"started: target app '{settings.TargetAppName}', broker {settings.Broker.Endpoint}, interval {Ms(settings.Interval)} ms, timeout {Ms(settings.Timeout)} ms");
        try
        {
            if (_pm2 is not null)
            {
                var (pid, error) = await _pm2.FindAsync(settings.Pm2ProcessName, stop).ConfigureAwait(false);
                if (error is not null) return await Pm2FailureAsync(error, stop).ConfigureAwait(false);
                Log(PingerLogLevel.Info, $"PM2 integration enabled; found process \"{settings.Pm2ProcessName}\" (pid {pid})");
            }

            var broker = settings.Broker with
            {
                ClientId = TetherDefaults.ClientId("processPinger"), TimeProvider = _time,
                MaxReconnectDelay = TimeSpan.FromSeconds(5),
                // A pong crosses the broker twice within ping.timeout, so the broker answering a SUBSCRIBE once within
                // it is a fair demand; a SUBACK that never comes is then logged and retried instead of waited for.
                RequestTimeout = settings.Timeout,
            };
            PingHub hub;
            try { hub = await PingHub.ConnectAsync(broker, stop).ConfigureAwait(false); }
            catch (MqttException e)
            {
                Log(PingerLogLevel.Error, $"cannot connect to the Tether broker: {e.Message}");
                await PauseAsync(stop).ConfigureAwait(false);
                return 1;
            }
            await using (hub.ConfigureAwait(false))
            {
                hub.Warning += w => Log(PingerLogLevel.Warn, w);
                hub.Client.Events += e => { if (e.Kind == MqttEventKind.Connected) Log(PingerLogLevel.Info, e.Message); };
                var id = string.IsNullOrEmpty(settings.AgentId) ? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)) : settings.AgentId;
                var pinger = _pinger = hub.CreatePinger("processPinger", id, settings.TetherAgentId);
                await ListenAsync(pinger, stop).ConfigureAwait(false);
                Log(PingerLogLevel.Info, $"pinging on {pinger.PingTopic}, listening on {pinger.PongFilter}");
                return await LoopAsync(hub, pinger, stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Log(PingerLogLevel.Info, "stopping" + (_pinger?.DroppedFields is > 0 and var n
                ? $"; {n} pong field value(s) beyond the first {TetherPinger.MaxFields} field names were dropped" : ""));
            return 0;
        }
    }

    TetherPinger? _pinger;

    /// <summary>Delay before subscription attempt <paramref name="attempt"/> + 1 after <paramref name="attempt"/> failed
    /// (1-based): 1 s doubling to at most 30 s. A refusal (ACL) needs an operator; a lost SUBACK may be one
    /// packet; either way the broker is not hammered and the log is not flooded.</summary>
    internal static TimeSpan SubscribeRetryDelay(int attempt) =>
        TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Clamp(attempt - 1, 0, 5))));

    /// <summary>
    /// Subscribes the pong filter, retrying with backoff until the broker grants it. No ping goes out meanwhile: with
    /// no subscription no pong could come, and every ping would be a false timeout (and a false restart). A refusal
    /// (SUBACK 0x80, an ACL) or a SUBACK that never comes is an error line on every attempt and one Datadog event per
    /// streak; the pinger never exits over it.
    /// </summary>
    async Task ListenAsync(TetherPinger pinger, CancellationToken stop)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await pinger.ListenAsync(stop).ConfigureAwait(false);
                if (attempt > 1) Log(PingerLogLevel.Warn, $"subscribed to {pinger.PongFilter} at attempt {attempt}; pinging again");
                return;
            }
            catch (MqttException e) when (!stop.IsCancellationRequested)
            {
                var delay = SubscribeRetryDelay(attempt);
                Log(PingerLogLevel.Error, $"{e.Message}; no pings until the subscription works; attempt {attempt}, retrying in {Ms(delay)} ms");
                if (attempt == 1)
                    datadog?.Event(new DogStatsDEvent("Tether subscription failure", $"TetherProcessPinger cannot listen for pongs: {e.Message}") { AlertType = EventAlertType.Error });
                await Task.Delay(delay, _time, stop).ConfigureAwait(false);
            }
        }
    }

    /// <summary>How long since the pinger started, the broker connection came back or the target was restarted.</summary>
    TimeSpan Settled(PingHub hub)
    {
        var sinceRestart = _time.GetElapsedTime(_settledFrom);
        return hub.ConnectedFor < sinceRestart ? hub.ConnectedFor : sinceRestart;
    }

    async Task<int> LoopAsync(PingHub hub, TetherPinger pinger, CancellationToken stop)
    {
        long next = _time.GetTimestamp();
        _settledFrom = next;
        while (true)
        {
            var wait = settings.Interval - _time.GetElapsedTime(next);
            if (wait > TimeSpan.Zero) await Task.Delay(wait, _time, stop).ConfigureAwait(false);
            if (!pinger.IsListening)
            {
                // The broker refused the subscription when it was renewed after a reconnect (its ACL changed).
                await ListenAsync(pinger, stop).ConfigureAwait(false);
                _settledFrom = _time.GetTimestamp(); // pongs could not come meanwhile: the target gets ping.grace again
            }
            next = _time.GetTimestamp();
            Log(PingerLogLevel.Debug, $"sending ping on {pinger.PingTopic}");
            switch (await pinger.PingAsync(settings.Timeout, stop).ConfigureAwait(false))
            {
                case PingOutcome.Answered a:
                    OnPong(a);
                    break;
                case PingOutcome.Offline o:
                    Log(PingerLogLevel.Warn, $"no verdict for this ping: {o.Reason}");
                    break;
                case PingOutcome.TimedOut when Settled(hub) - settings.Timeout is var settled && settled < settings.Grace:
                    Log(PingerLogLevel.Warn, $"no pong within {Ms(settings.Timeout)} ms, {Ms(settled)} ms after the pinger started, the broker " +
                        $"connection came back or the target was restarted; not a timeout within ping.grace ({Ms(settings.Grace)} ms)");
                    break;
                case PingOutcome.TimedOut:
                    if (await OnTimeoutAsync(stop).ConfigureAwait(false) is int exit) return exit;
                    break;
            }
        }
    }

    void OnPong(PingOutcome.Answered a)
    {
        var from = $"{a.Pong.From.Role}/{a.Pong.From.Id}";
        Log(PingerLogLevel.Debug, $"pong from {from} in {a.RoundTrip.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)} ms" +
            (a.Pong.Fields.Count > 0 ? ": " + string.Join(", ", a.Pong.Fields.Select(f => $"{f.Key}={f.Value.ToString(CultureInfo.InvariantCulture)}")) : ""));
        if (datadog is null) return;
        datadog.Count("heartbeat");
        datadog.Gauge("ping", a.RoundTrip.TotalMilliseconds);
        if (settings.DecodeStats)
            foreach (var (key, value) in a.Pong.Fields) datadog.Gauge(key, value);
    }

    /// <summary>The timeout event and the restarts; an exit code when the pinger must stop (PM2 failed).</summary>
    async Task<int?> OnTimeoutAsync(CancellationToken stop)
    {
        var who = settings.TetherAgentId is { } agent ? $"agent {agent}" : "any agent";
        Log(PingerLogLevel.Error, $"timeout: no pong from {who} within {Ms(settings.Timeout)} ms of the ping (target app '{settings.TargetAppName}')");
        datadog?.Event(new DogStatsDEvent("timeout", $"TetherProcessPinger timed out waiting for response: no pong within {Ms(settings.Timeout)} ms") { AlertType = EventAlertType.Error });
        bool restarted = false;
        if (_pm2 is not null)
        {
            Log(PingerLogLevel.Warn, $"PM2 integration enabled; restarting process \"{settings.Pm2ProcessName}\"");
            var error = await _pm2.RestartAsync(settings.Pm2ProcessName, stop).ConfigureAwait(false);
            if (error is not null) return await Pm2FailureAsync(error, stop).ConfigureAwait(false);
            Log(PingerLogLevel.Warn, $"restarted PM2 process \"{settings.Pm2ProcessName}\"");
            restarted = true;
        }
        if (!settings.RestartExec.IsDefaultOrEmpty)
        {
            var command = string.Join(' ', settings.RestartExec);
            var (exit, stdout, stderr) = await ShortCommand.RunAsync(settings.RestartExec[0], settings.RestartExec[1..], TimeSpan.FromSeconds(60), stop).ConfigureAwait(false);
            if (exit == 0)
            {
                Log(PingerLogLevel.Warn, $"restart.exec ran: {command}" + (stdout.Trim() is { Length: > 0 } o ? $": {o}" : ""));
                restarted = true;
            }
            else Log(PingerLogLevel.Error, $"restart.exec failed ({(exit == -1 ? "" : $"exit code {exit}: ")}{stderr.Trim()}): {command}");
        }
        if (restarted)
        {
            datadog?.Count("restartProcess");
            _settledFrom = _time.GetTimestamp(); // the restarted target gets ping.grace to come back
        }
        return null;
    }

    async Task<int> Pm2FailureAsync(string error, CancellationToken stop)
    {
        Log(PingerLogLevel.Error, $"PM2 integration failure: {error}; exiting with code 1 in {Ms(settings.ExitPause)} ms");
        datadog?.Event(new DogStatsDEvent("PM2 integration failure", $"PM2 integration enabled, but it failed: {error}") { AlertType = EventAlertType.Error });
        await PauseAsync(stop).ConfigureAwait(false);
        return 1;
    }

    Task PauseAsync(CancellationToken stop) => Task.Delay(settings.ExitPause, _time, stop);

    static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.#", CultureInfo.InvariantCulture);

    void Log(PingerLogLevel level, string message)
    {
        if (level < settings.LogLevel || settings.LogLevel == PingerLogLevel.Off) return;
        var line = $"{_time.GetLocalNow():yyyy-MM-ddTHH:mm:ss.fff} [{level.ToString().ToUpperInvariant()}] {PingerConfig.AppName} - {message}";
        lock (_logGate) { log.WriteLine(line); log.Flush(); }
    }
}
