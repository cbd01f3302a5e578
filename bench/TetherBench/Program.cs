// The measuring program of bench/tether.sh, on Vigil's own Tether stack (src/Vigil.Tether: MQTT client, PingHub,
// TetherPinger), the same code a `kind: tether` probe and `vigil pinger` use. Not part of Vigil.slnx.
//
//   tether-bench rtt PORT TARGET_ID WARMUP_S N OUT
//       One PingHub on 127.0.0.1:PORT, one pinger (processPinger/bench-vigil/ping, pongs from +/TARGET_ID/pong).
//       Pings for WARMUP_S seconds first (not measured), then N sequential pings, each waiting for its pong (timeout 5 s).
//       Writes one line per measured ping to OUT: "<wall ms> <hub ms>" (wall = around PingAsync, as a caller sees
//       it; hub = the round trip the PingHub itself reports, publish to pong dispatch). Prints "done N answered A".
//   tether-bench hub PORT COUNT INTERVAL_MS TIMEOUT_MS
//       One PingHub, COUNT pingers (processPinger/target-I/ping, pongs from +/target-I/pong, I = 1..COUNT), each
//       pinging every INTERVAL_MS (fixed delay from the start of a check, as Vigil's probe runner) and waiting up
//       to TIMEOUT_MS. Prints "ready" once every pong filter is subscribed, then every second a cumulative line
//       "stats t=MS answered=A timedout=T offline=O pingers_answered=K" (MS = Unix time in ms; K = pingers with at
//       least one pong so far)
//       until SIGTERM/SIGINT.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Vigil.Tether.Agent;
using Vigil.Tether.Pinger;

var inv = CultureInfo.InvariantCulture;
if (args is not (["rtt", _, _, _, _, _] or ["hub", _, _, _, _])) return Usage();
var broker = TetherDefaults.Broker with { Host = "127.0.0.1", Port = int.Parse(args[1], inv) };
await using var hub = await PingHub.ConnectAsync(broker);
hub.Warning += w => Console.Error.WriteLine("warning: " + w);

switch (args[0])
{
    case "rtt":
    {
        string target = args[2];
        var warmup = TimeSpan.FromSeconds(double.Parse(args[3], inv));
        int n = int.Parse(args[4], inv);
        var pinger = hub.CreatePinger("processPinger", "bench-vigil", target);
        await pinger.ListenAsync();
        var timeout = TimeSpan.FromSeconds(5);
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed < warmup)
            if (await pinger.PingAsync(timeout) is not PingOutcome.Answered) Console.Error.WriteLine("warm-up ping not answered");
        var lines = new List<string>(n);
        int answered = 0;
        for (int i = 0; i < n; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            var outcome = await pinger.PingAsync(timeout);
            double wall = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            if (outcome is PingOutcome.Answered a)
            {
                answered++;
                lines.Add(string.Create(inv, $"{wall:0.0000} {a.RoundTrip.TotalMilliseconds:0.0000}"));
            }
            else Console.Error.WriteLine($"ping {i}: {outcome}");
        }
        await File.WriteAllLinesAsync(args[5], lines);
        Console.WriteLine($"done {n} answered {answered}");
        return answered == n ? 0 : 1;
    }
    case "hub":
    {
        int count = int.Parse(args[2], inv);
        var interval = TimeSpan.FromMilliseconds(int.Parse(args[3], inv));
        var timeout = TimeSpan.FromMilliseconds(int.Parse(args[4], inv));
        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        var pingers = Enumerable.Range(1, count).Select(i => hub.CreatePinger("processPinger", $"target-{i}", $"target-{i}")).ToArray();
        foreach (var p in pingers) await p.ListenAsync();
        Console.WriteLine("ready");
        long answered = 0, timedOut = 0, offline = 0;
        var got = new int[count];
        async Task Loop(int i)
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    long began = Stopwatch.GetTimestamp();
                    switch (await pingers[i].PingAsync(timeout, stop.Token))
                    {
                        case PingOutcome.Answered: Interlocked.Increment(ref answered); Volatile.Write(ref got[i], 1); break;
                        case PingOutcome.TimedOut: Interlocked.Increment(ref timedOut); break;
                        default: Interlocked.Increment(ref offline); break;
                    }
                    var wait = interval - Stopwatch.GetElapsedTime(began);
                    if (wait > TimeSpan.Zero) await Task.Delay(wait, stop.Token);
                }
            }
            catch (OperationCanceledException) { }
        }
        var loops = Enumerable.Range(0, count).Select(i => Task.Run(() => Loop(i))).ToArray();
        void Stats() => Console.WriteLine(string.Create(inv,
            $"stats t={DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()} answered={Interlocked.Read(ref answered)} timedout={Interlocked.Read(ref timedOut)} offline={Interlocked.Read(ref offline)} pingers_answered={got.Count(g => g != 0)}"));
        try
        {
            using var tick = new PeriodicTimer(TimeSpan.FromSeconds(1));
            while (await tick.WaitForNextTickAsync(stop.Token)) Stats();
        }
        catch (OperationCanceledException) { }
        await Task.WhenAll(loops);
        Stats();
        return 0;
    }
    default:
        return Usage();
}

static int Usage()
{
    Console.Error.WriteLine("usage: tether-bench rtt PORT TARGET_ID WARMUP_S N OUT | hub PORT COUNT INTERVAL_MS TIMEOUT_MS");
    return 2;
}
