// metrics-bench LIB PORT N: a supervisor of N idle units (`sleep infinity`), its meter served on
// http://127.0.0.1:PORT/metrics by LIB (otel: the OpenTelemetry Prometheus exporter Vigil ships; prometheus-net: its
// MeterAdapter and MetricServer; none: not served). Prints "ready" once every unit runs; stops on SIGTERM/SIGINT.
using System.Runtime.InteropServices;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Telemetry;

if (args.Length != 3 || args[0] is not ("otel" or "prometheus-net" or "none"))
{
    Console.Error.WriteLine("usage: metrics-bench otel|prometheus-net|none PORT N");
    return 2;
}
string lib = args[0];
int port = int.Parse(args[1]), n = int.Parse(args[2]);

await using var sup = new Supervisor();
IAsyncDisposable? served = null;
IDisposable? adapter = null, server = null;
switch (lib)
{
    case "otel":
        served = TelemetryHost.Start(TelemetrySettings.Default with { Prometheus = new ListenAddress("127.0.0.1", port) }, sup);
        break;
    case "prometheus-net":
        Prometheus.Metrics.SuppressDefaultMetrics();
        adapter = Prometheus.MeterAdapter.StartListening(new Prometheus.MeterAdapterOptions
        {
            InstrumentFilterPredicate = i => i.Meter.Name == EngineMetrics.MeterName,
        });
        server = new Prometheus.MetricServer("127.0.0.1", port).Start();
        break;
}
for (int i = 0; i < n; i++) sup.Start(new ProcessSpec { Name = $"p{i}", Command = ["sleep", "infinity"] });
while (sup.Units.Any(u => u.State != UnitState.Running)) await Task.Delay(50);
Console.WriteLine("ready");

var stop = new TaskCompletionSource();
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
await stop.Task;
server?.Dispose();
adapter?.Dispose();
if (served is not null) await served.DisposeAsync();
return 0;
