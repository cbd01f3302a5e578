using System.Text;
using Vigil.Launching;
using Vigil.Specs;
using Vigil.Supervision;
using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Launching;

/// <summary>An OOM kill is told apart from any other SIGKILL (issue 13): parsing of the two sources, and a real OOM kill
/// of a fixture in a memory-limited cgroup.</summary>
[Collection("processes")]
public sealed class OomKillTests
{
    [Theory]
    [InlineData("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n", 1L)]
    [InlineData("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n", 0L)]
    [InlineData("low 0\nhigh 0\n", null)]
    public void Memory_events_give_the_oom_kill_count(string text, long? expected) =>
        Assert.Equal(expected, OomKills.OomKillCount(text));

    private static ReadOnlySpan<byte> Rec(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void Kernel_log_records_name_the_victim_by_pid_and_not_before_it_started()
    {
        // As this machine's kernel writes them (6.18, a memory cgroup's OOM).
        const string killed = "3,423,31692677238,-;Memory cgroup out of memory: Killed process 23573 (python3) total-vm:323768kB, anon-rss:65020kB, file-rss:6568kB, shmem-rss:0kB, UID:0 pgtables:188kB oom_score_adj:0\n";
        const string summary = "6,422,31692677202,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a/vt,task_memcg=/a/vt,task=python3,pid=23573,uid=0\n";
        Assert.True(OomKills.Names(Rec(killed), 23573, 0));
        Assert.True(OomKills.Names(Rec(summary), 23573, 0));
        Assert.False(OomKills.Names(Rec(killed), 2357, 0), "a PID that is a prefix of the victim's");
        Assert.False(OomKills.Names(Rec(summary), 2357, 0), "a PID that is a prefix of the victim's");
        Assert.False(OomKills.Names(Rec(killed), 23573, 31692677239), "a record older than the process (a reused PID)");
        Assert.False(OomKills.Names(Rec("6,1,5,-;Killed process 23573 by someone\n"), 23573, 0), "not the OOM killer's wording");
        Assert.False(OomKills.Names(Rec("garbage without header"), 23573, 0));
    }

    /// <summary>A memory cgroup this test may limit: cgroup v1's memory hierarchy (hybrid hosts, as here), or a v2
    /// folder whose parent offers the memory controller. Null when neither can be made.</summary>
    private static string? MakeLimitedCgroup(long bytes)
    {
        string name = $"vigil-oom-test-{Environment.ProcessId}-{Guid.NewGuid():N}";
        foreach (var line in File.ReadAllLines("/proc/self/cgroup"))
        {
            var parts = line.Split(':', 3);
            if (parts.Length == 3 && parts[1].Split(',').Contains("memory"))
            {
                var dir = $"/sys/fs/cgroup/memory{parts[2].TrimEnd('/')}/{name}";
                try
                {
                    Directory.CreateDirectory(dir);
                    File.WriteAllText(Path.Combine(dir, "memory.limit_in_bytes"), bytes.ToString());
                    return dir;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
        foreach (var root in new[] { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" })
        {
            try
            {
                if (!File.Exists(Path.Combine(root, "cgroup.controllers")) || !File.ReadAllText(Path.Combine(root, "cgroup.controllers")).Split(' ', '\n').Contains("memory"))
                    continue;
                File.WriteAllText(Path.Combine(root, "cgroup.subtree_control"), "+memory");
                var dir = Path.Combine(root, name);
                Directory.CreateDirectory(dir);
                File.WriteAllText(Path.Combine(dir, "memory.max"), bytes.ToString());
                return dir;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return null;
    }

    [Fact]
    public async Task A_real_OOM_kill_reads_killed_by_SIGKILL_oom_and_a_plain_SIGKILL_does_not()
    {
        var cg = MakeLimitedCgroup(96L << 20);
        Assert.True(cg is not null, "no memory cgroup could be limited here (cgroup v1 memory or v2 with the memory controller; as root)");
        try
        {
            await using var sup = new Supervisor();
            using var rec = new Recorder(sup);
            // The child joins the limited cgroup itself, then allocates past the limit, touching every page. The .NET
            // fixture would see the cgroup's limit and throw OutOfMemoryException itself (SIGABRT): its GC is told of a
            // larger one, so the kernel's OOM killer is what stops it.
            var alloc = string.Join(" ", Enumerable.Repeat("alloc 16", 16));
            sup.Start(new ProcessSpec
            {
                Name = "hog",
                Command = ["sh", "-c", $"echo $$ > {cg}/cgroup.procs && exec {Fixture.Path} marker joined {alloc} hang"],
            
                Env = System.Collections.Immutable.ImmutableDictionary<string, string?>.Empty.Add("DOTNET_GCHeapHardLimit", "0x40000000"),
                Restart = RestartSpec.Default with { Policy = RestartPolicyKind.Never },
            });
            await rec.Marker("joined");
            var exited = await rec.Event<Exited>(timeout: TimeSpan.FromSeconds(60));
            Assert.Equal(Signals.SIGKILL, exited.Status.Signal);
            Assert.True(exited.Status.OomKilled, $"not recognised as an OOM kill: {exited.Reason}");
            Assert.Contains("killed by SIGKILL (oom)", exited.Reason);

            sup.Start(Fixture.Spec("plain", "signal", "KILL").WithSchedule(0));
            var plain = await rec.Event<Exited>(e => e.Name == "plain");
            Assert.Equal(Signals.SIGKILL, plain.Status.Signal);
            Assert.False(plain.Status.OomKilled);
            Assert.DoesNotContain("(oom)", plain.Reason);
        }
        finally
        {
            await Procs.Eventually(() => { try { Directory.Delete(cg!); return true; } catch (IOException) { return false; } });
        }
    }
}
