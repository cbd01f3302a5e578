using System.Reflection;
using System.Runtime.CompilerServices;

namespace Vigil.Logs;

/// <summary>
/// Compiles the output-capture path ahead of the first line. Its methods are marked AggressiveOptimization (a flood
/// is too short for tiered compilation to promote them), which also means they are never precompiled: the first
/// chunk of a child's output would otherwise wait on the reactor thread while they are compiled (measured: ~25 ms,
/// with the child blocked on its full pipe). A supervisor starts this on a pool thread when it is created, so the
/// work overlaps reading the config and spawning the children.
/// </summary>
internal static class CaptureWarmup
{
    private static int _started;

    public static void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
            ThreadPool.UnsafeQueueUserWorkItem(_ => Run(), null);
    }

    /// <summary>Compiles every AggressiveOptimization method of this assembly (and the splitter's generic feed for the
    /// unit log's sink); returns how many. Failures are ignored: the method is then compiled at its first call.</summary>
    internal static int Run()
    {
        int n = 0;
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var type in typeof(CaptureWarmup).Assembly.GetTypes())
        {
            if (type.ContainsGenericParameters) continue;
            foreach (var m in type.GetMethods(all))
            {
                if ((m.MethodImplementationFlags & MethodImplAttributes.AggressiveOptimization) == 0 || m.IsAbstract) continue;
                try
                {
                    if (!m.IsGenericMethodDefinition) RuntimeHelpers.PrepareMethod(m.MethodHandle);
                    else if (m.DeclaringType == typeof(LineSplitter) && Supervision.UnitLog.SinkType is { } sink)
                        RuntimeHelpers.PrepareMethod(m.MethodHandle, [sink.TypeHandle]);
                    else continue;
                    n++;
                }
                catch (Exception e) when (e is ArgumentException or NotSupportedException or InvalidOperationException) { }
            }
        }
        return n;
    }
}
