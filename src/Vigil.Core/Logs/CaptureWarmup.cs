using System.Reflection;
using System.Runtime.CompilerServices;

namespace Vigil.Logs;

/// <summary>
/// Compiles the output-capture path ahead of the first line. Its hot methods are marked AggressiveOptimization (a
/// flood is too short for tiered compilation to promote them), which also means they are never precompiled: the first
/// chunks of a child's output would otherwise wait on the reactor thread while they are compiled, with the child
/// blocked on its full pipe. <see cref="Start"/> compiles them on a pool thread; the launcher waits for that (bounded)
/// before the first spawn, so no child's output ever meets the compiler.
/// </summary>
/// <remarks>
/// The methods are listed, not searched for: scanning the assembly by reflection loaded every type and took 35–65 ms
/// of CPU, most of it while the first child was already writing. A test checks that the list holds every
/// AggressiveOptimization method of the assembly.
/// </remarks>
internal static class CaptureWarmup
{
    private static int _started;
    private static readonly ManualResetEventSlim Done = new(false);

    /// <summary>Starts compiling on a pool thread (once per process; later calls do nothing).</summary>
    public static void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
            ThreadPool.UnsafeQueueUserWorkItem(_ =>
            {
                // Only a speed-up: whatever goes wrong (a listed method renamed away) must not take Vigil down from a
                // pool thread. The capture path is then compiled at its first call, as without a warm-up.
                try { Run(); }
                catch (Exception e) { Console.Error.WriteLine($"vigil: capture warm-up skipped: {e.Message}"); }
                finally { Done.Set(); }
            }, null);
    }

    /// <summary>Waits up to <paramref name="bound"/> for a started warm-up to finish; returns at once when none was
    /// started (a bare launcher in a test) or it is done.</summary>
    public static void WaitDone(TimeSpan bound)
    {
        if (Volatile.Read(ref _started) != 0) Done.Wait(bound);
    }

    private const BindingFlags Any = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>The capture path: each method with the type arguments it is called with (generic ones, instantiated for
    /// the unit log's sink).</summary>
    internal static IEnumerable<(MethodInfo Method, Type[]? Instantiation)> Methods()
    {
        static MethodInfo M(Type t, string name) =>
            t.GetMethod(name, Any) ?? throw new MissingMethodException(t.FullName, name);
        Type[] sink = [Supervision.UnitLog.SinkType];
        yield return (M(typeof(Launching.ChildProcess).GetNestedType("PipeReader", BindingFlags.NonPublic)!, "OnReady"), null);
        yield return (M(typeof(Supervision.UnitLog), nameof(Supervision.UnitLog.Chunk)), null);
        yield return (M(typeof(Supervision.UnitLog), "FastChunk"), null);
        yield return (M(typeof(Supervision.UnitLog), "Line"), null);
        yield return (M(typeof(FastLines), nameof(FastLines.Format)), null);
        yield return (M(typeof(LineRing), nameof(LineRing.AddHeld)), null);
        yield return (M(typeof(LineRing), nameof(LineRing.AddBlockHeld)), null);
        yield return (M(typeof(LogFileWriter), nameof(LogFileWriter.AppendLines)), null);
        yield return (M(typeof(LogLineFormatter), nameof(LogLineFormatter.Format)), null);
        yield return (M(typeof(LineSplitter), nameof(LineSplitter.Feed)), sink);
        // Not AggressiveOptimization, but only ever called from Feed<ChunkSink>, which is never precompiled: so the
        // precompiler never sees this instantiation either.
        yield return (M(typeof(LineSplitter), "Append"), sink);
    }

    /// <summary>Compiles <see cref="Methods"/>; returns how many. A failure is ignored: that method is then compiled at
    /// its first call.</summary>
    internal static int Run()
    {
        int n = 0;
        foreach (var (m, inst) in Methods())
        {
            try
            {
                if (inst is null) RuntimeHelpers.PrepareMethod(m.MethodHandle);
                else RuntimeHelpers.PrepareMethod(m.MethodHandle, [.. inst.Select(t => t.TypeHandle)]);
                n++;
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or InvalidOperationException) { }
        }
        return n;
    }
}
