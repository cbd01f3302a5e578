using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Launching;

namespace Vigil.Tests.Support;

internal static class TestProcessHost
{
    /// <summary>
    /// The test host is a child subreaper (the in-process supervisors make it one), so the orphans of the real vigil
    /// executables the tests start (a `run -d` daemon, the units of a vigil the test killed) are reparented to it.
    /// Like the vigil executable, it reaps every such orphan; the zombie checks then see only what an in-process Vigil
    /// failed to reap. (Until issue 12 this happened by accident: the first in-process `vigil run` set a static flag.)
    /// </summary>
    [ModuleInitializer]
    internal static void ReapOrphansLikeTheExecutable() => ProcessHost.ForExecutable(NullLogger.Instance);
}
