using CsCheck;
using Vigil.Config;
using Vigil.Specs;
using Xunit;

namespace Vigil.Tests.Ligato;


/// <summary>Unit: CPU lists and masks as taskset writes them, and the <c>cpuAffinity:</c> key of vigil.yaml.</summary>
public sealed class CpuAffinityParseTests
{
    [Theory]
    [InlineData("0-2,6", new[] { 0, 1, 2, 6 }, "0-2,6", "0x47")]
    [InlineData("3", new[] { 3 }, "3", "0x8")]
    [InlineData(" 1 , 0 ,1", new[] { 0, 1 }, "0-1", "0x3")]
    [InlineData("8-9,10", new[] { 8, 9, 10 }, "8-10", "0x700")]
    public void Lists_parse_sorted_and_format_back(string text, int[] cpus, string list, string mask)
    {
        Assert.True(CpuAffinity.TryParseList(text, out var parsed, out _));
        Assert.Equal(cpus, parsed.AsEnumerable());
        var a = new CpuAffinity { Cpus = parsed };
        Assert.Equal(list, a.ListText);
        Assert.Equal(mask, a.MaskText);
    }

    [Theory]
    [InlineData("0x47", new[] { 0, 1, 2, 6 })]
    [InlineData("47", new[] { 0, 1, 2, 6 })]
    [InlineData("1,00000000", new[] { 32 })]
    [InlineData("0xF", new[] { 0, 1, 2, 3 })]
    public void Masks_parse_as_taskset_takes_them(string text, int[] cpus)
    {
        Assert.True(CpuAffinity.TryParseMask(text, out var parsed, out _));
        Assert.Equal(cpus, parsed.AsEnumerable());
    }

    [Theory]
    [InlineData("2-1")]
    [InlineData("a")]
    [InlineData("1,,2")]
    [InlineData("99999")]
    [InlineData("-1")]
    public void Bad_lists_are_refused_with_a_reason(string text)
    {
        Assert.False(CpuAffinity.TryParseList(text, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Theory]
    [InlineData("0x0")]
    [InlineData("0xg")]
    [InlineData("")]
    public void Bad_masks_are_refused(string text) => Assert.False(CpuAffinity.TryParseMask(text, out _, out _));

    [Fact]
    public void Config_key_takes_a_list_a_mask_or_a_mapping_with_a_delay_and_writes_back()
    {
        var c = ConfigLoader.Parse("""
            processes:
              - { name: a, command: [x], cpuAffinity: "0-1" }
              - { name: b, command: [x], cpuAffinity: "0x6" }
              - { name: c, command: [x], cpuAffinity: { cpus: "2", delay: 500ms }, autostart: false, restart: { max: 3 } }
            """, "t.yaml", "/tmp");
        Assert.Equal([0, 1], c.Processes[0].CpuAffinity!.Cpus.AsEnumerable());
        Assert.Equal([1, 2], c.Processes[1].CpuAffinity!.Cpus.AsEnumerable());
        Assert.Equal(TimeSpan.FromMilliseconds(500), c.Processes[2].CpuAffinity!.Delay);
        Assert.False(c.Processes[2].Autostart);
        Assert.Equal(3, c.Processes[2].Restart.Max);
        var again = ConfigLoader.Parse(ConfigWriter.ToYaml("t", c.Processes), "t2.yaml", "/tmp");
        for (int i = 0; i < 3; i++) Assert.Empty(SpecDiff.Fields(c.Processes[i], again.Processes[i]));
        Assert.Equal(["autostart", "cpuAffinity"], SpecDiff.Fields(c.Processes[2], c.Processes[2] with { Autostart = true, CpuAffinity = null }));
    }

    [Fact]
    public void Generated_specs_with_the_ligato_keys_survive_vigil_save() =>
        Check.Sample(Vigil.Tests.Config.SpecGen.LigatoSpec.Array[1, 4], specs => { Vigil.Tests.Config.ConfigWriterTests.RoundTrip(specs); }, iter: 1000, threads: 1);

    [Fact]
    public void Bad_config_values_name_their_position()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("""
            processes:
              - name: a
                command: [x]
                cpuAffinity: "4-2"
                restart: { max: -2 }
            """, "t.yaml", "/tmp"));
        var lines = e.Errors.Select(x => x.ToString()).ToList();
        Assert.Contains(lines, l => l.StartsWith("t.yaml:4:5: processes[0].cpuAffinity: the range \"4-2\" goes backwards", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("t.yaml:5:16: processes[0].restart.max: must be 0 or more", StringComparison.Ordinal));
    }
}
