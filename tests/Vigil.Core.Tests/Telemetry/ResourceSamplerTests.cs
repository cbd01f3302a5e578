using Vigil.Telemetry;
using Xunit;

namespace Vigil.Tests.Telemetry;

/// <summary>The files the resource sampler reads: a cgroup's cpu.stat and memory.current, and /proc/PID/fd.</summary>
public sealed class ResourceSamplerTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-cgroup-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void A_cgroup_gives_its_cpu_usage_and_memory()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "cpu.stat"), "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n");
        File.WriteAllText(Path.Combine(_dir.FullName, "memory.current"), "8388608\n");

        Assert.True(ResourceSampler.ReadCgroup(_dir.FullName, out ulong usec, out long memory));
        Assert.Equal(1234567UL, usec);
        Assert.Equal(8388608L, memory);
    }

    [Fact]
    public void A_cgroup_without_the_memory_controller_is_not_read_so_proc_is()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "cpu.stat"), "usage_usec 10\n");
        Assert.False(ResourceSampler.ReadCgroup(_dir.FullName, out _, out _));
        Assert.False(ResourceSampler.ReadCgroup(Path.Combine(_dir.FullName, "gone"), out _, out _));
    }

    [Fact]
    public void Open_fds_are_counted_from_proc_and_a_gone_process_has_none()
    {
        using var extra = File.OpenRead(typeof(ResourceSamplerTests).Assembly.Location);
        Assert.InRange(ResourceSampler.CountFds(Environment.ProcessId), 4, 100_000);
        Assert.Equal(0, ResourceSampler.CountFds(int.MaxValue));
    }
}
