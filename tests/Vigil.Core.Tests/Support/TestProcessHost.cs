using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging.Abstractions;
using Vigil.Launching;

namespace Vigil.Tests.Support;

internal static class TestProcessHost
{
    /// <summary>
    /// The test host is a child subreaper (the in-process supervisors make it one), so the orphans of the real vigil
    /// executables the tests start (a `run -d` daemon, the units of a vigil the test killed) are reparented to it.
    /// It reaps every such orphan (they live in sessions of their own), but not the zombies in its own session: those are
    /// the children the tests start through System.Diagnostics.Process, whose exit status Process must collect itself
    /// (reaping them all made an untimed WaitForExit hang a loaded CI run). The zombie checks then see only what an
    /// in-process Vigil failed to reap.
    /// </summary>
    [ModuleInitializer]
    internal static void ReapOrphansOutsideOurSession() => ProcessHost.ForProgramUsingProcess(NullLogger.Instance);
}
