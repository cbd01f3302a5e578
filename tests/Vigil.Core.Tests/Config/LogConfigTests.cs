using Vigil.Config;
using Xunit;

namespace Vigil.Tests.Config;

public sealed class LogConfigTests
{
    private static readonly string Dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cfg");

    private static string[] Errors(string text)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(text, "vigil.yaml", Dir));
        return [.. ex.Errors.Select(e => e.ToString())];
    }

    [Fact]
    public void Log_section_maps_every_key_with_paths_relative_to_the_config_file()
    {
        var cfg = ConfigLoader.Parse("""
            processes:
              - command: x
                log: { out: logs/x.out, err: /var/log/x.err, timestamps: false, stream: true, prefix: true,
                       stripAnsi: true, maxSize: 50MB, keep: 3, maxLine: 8KB, ringLines: 200 }
              - command: y
                log: { file: y.log }
            """, "vigil.yaml", Dir);
        var a = cfg.Processes[0].Log!;
        Assert.Equal(System.IO.Path.Combine(Dir, "logs/x.out"), a.Out);
        Assert.Equal("/var/log/x.err", a.Err);
        Assert.Null(a.File);
        Assert.False(a.Timestamps);
        Assert.True(a.Stream && a.Prefix && a.StripAnsi);
        Assert.Equal(50L * 1024 * 1024, a.MaxSize);
        Assert.Equal(3, a.Keep);
        Assert.Equal(8192, a.MaxLine);
        Assert.Equal(200, a.RingLines);
        var b = cfg.Processes[1].Log!;
        Assert.Equal(System.IO.Path.Combine(Dir, "y.log"), b.File);
        Assert.True(b.Timestamps); // on by default: logs without timestamps are a top complaint
        Assert.Null(b.MaxSize);
    }

    [Fact]
    public void Log_section_errors_name_the_key() =>
        Assert.Equal(
            [
                "vigil.yaml:3:12: processes[0].log.file: give either file (both streams) or out/err (separate files), not both",
                "vigil.yaml:3:29: processes[0].log.maxSize: expected a size like 512, 64KB, 50MB or 2GB, got 'huge'",
                "vigil.yaml:3:44: processes[0].log.kep: unknown key; did you mean 'keep'?",
            ],
            Errors("processes:\n  - command: x\n    log: { file: a, out: b, maxSize: huge, kep: 2 }\n"));
}
