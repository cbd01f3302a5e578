using Vigil.Tests.Support;
using Xunit;

namespace Vigil.Tests.Cli;

/// <summary>
/// What ships: the Native AOT executable (VIGIL_AOT, published by .ci/run) has no diagnostic IPC, installs with
/// scripts/install and uninstalls leaving nothing of its own, and packs into a Debian package that runs from a scratch root.
/// </summary>
[Collection("processes")]
public sealed class ShippedBuildTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vigil-shipped-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Sub(string name) => Directory.CreateDirectory(Path.Combine(_dir.FullName, name)).FullName;

    [ShippedFact]
    public async Task The_published_binary_opens_no_diagnostic_socket_or_fifo_in_TMPDIR_even_when_asked()
    {
        // DOTNET_EnableDiagnostics=1 also stops Vigil from deleting the runtime's endpoints at start (Diagnostics.cs), so
        // an empty TMPDIR means the runtime made none: the AOT build has no diagnostic server.
        var aotTmp = Sub("tmp-aot");
        var token = Procs.UniqueSleep();
        await using (var aot = VigilProcess.StartExecutable(ShippedBinary.Path, Sub("aot"),
            new Dictionary<string, string?> { ["TMPDIR"] = aotTmp, ["DOTNET_EnableDiagnostics"] = "1" }, "run", "--", "sleep", token))
        {
            await aot.WaitLine(l => l.Contains(" spawned: "), "the unit's spawned line", TimeSpan.FromSeconds(60));
            Assert.True(Directory.GetFileSystemEntries(aotTmp).Length == 0,
                "the AOT vigil wrote to TMPDIR: " + string.Join(", ", Directory.GetFileSystemEntries(aotTmp).Select(Path.GetFileName)));
            aot.Signal(15);
            Assert.Equal(0, await aot.WaitExit());
        }
        Assert.Empty(Directory.GetFileSystemEntries(aotTmp));

        // The same look sees them where the runtime has them: the framework-dependent build, diagnostics on.
        var jitTmp = Sub("tmp-jit");
        await using var jit = VigilProcess.StartExecutable(Path.Combine(AppContext.BaseDirectory, "vigil"), Sub("jit"),
            new Dictionary<string, string?> { ["TMPDIR"] = jitTmp, ["DOTNET_EnableDiagnostics"] = "1" }, "run", "--", "sleep", token);
        await jit.WaitLine(l => l.Contains(" spawned: "), "the unit's spawned line", TimeSpan.FromSeconds(60));
        Assert.Contains(Directory.GetFileSystemEntries(jitTmp), e => Path.GetFileName(e).StartsWith("dotnet-diagnostic-", StringComparison.Ordinal));
        jit.Signal(15);
        Assert.Equal(0, await jit.WaitExit());
        Assert.Empty(await Procs.LeftWithArg(token));
    }

    /// <summary>Every file scripts/install puts under PREFIX, relative to it.</summary>
    private static readonly string[] Installed =
    [
        "bin/vigil",
        "share/bash-completion/completions/vigil",
        "share/zsh/site-functions/_vigil",
        "share/fish/vendor_completions.d/vigil.fish",
        "share/man/man1/vigil.1",
    ];

    [ShippedFact]
    public async Task Install_puts_binary_completions_and_man_page_under_the_prefix_and_uninstall_removes_only_them()
    {
        var prefix = Sub("prefix");
        // Something of someone else's in a folder the install shares: it must survive the uninstall.
        Directory.CreateDirectory(Path.Combine(prefix, "bin"));
        File.WriteAllText(Path.Combine(prefix, "bin", "other-tool"), "#!/bin/sh\n");
        var env = new Dictionary<string, string?> { ["VIGIL_BIN"] = ShippedBinary.Path };
        var script = Path.Combine(ShippedBinary.Repo, "scripts", "install");

        var (code, output, err) = await ShippedBinary.Run(script, [prefix], env);
        Assert.True(code == 0, $"scripts/install exited {code}: {err}{output}");
        foreach (var f in Installed) Assert.True(File.Exists(Path.Combine(prefix, f)), $"scripts/install did not write {f}:\n{output}");
        var (vcode, version, _) = await ShippedBinary.Run(Path.Combine(prefix, "bin", "vigil"), ["--version"]);
        Assert.Equal(0, vcode);
        Assert.StartsWith("vigil ", version);
        Assert.Contains(".SH EXIT STATUS", File.ReadAllText(Path.Combine(prefix, "share/man/man1/vigil.1")));
        Assert.Contains("complete -o default -F _vigil_complete vigil", File.ReadAllText(Path.Combine(prefix, "share/bash-completion/completions/vigil")));

        (code, output, err) = await ShippedBinary.Run(script, ["--uninstall", prefix], env);
        Assert.True(code == 0, $"scripts/install --uninstall exited {code}: {err}{output}");
        var left = Directory.GetFileSystemEntries(prefix, "*", SearchOption.AllDirectories).Select(e => Path.GetRelativePath(prefix, e)).Order().ToList();
        Assert.Equal(["bin", "bin/other-tool"], left);

        // Nothing installed: nothing to remove, said, exit 1.
        (code, _, err) = await ShippedBinary.Run(script, ["--uninstall", prefix], env);
        Assert.Equal(1, code);
        Assert.Contains("nothing to uninstall", err);
    }

    [ShippedFact]
    public async Task The_deb_holds_binary_completions_man_page_and_template_unit_and_runs_from_a_scratch_root()
    {
        var outDir = Sub("out");
        var (code, output, err) = await ShippedBinary.Run(Path.Combine(ShippedBinary.Repo, "scripts", "package"), ["deb", outDir],
            new Dictionary<string, string?> { ["VIGIL_BIN"] = ShippedBinary.Path });
        Assert.True(code == 0, $"scripts/package deb exited {code}: {err}");
        var deb = output.Trim();
        var (_, version, _) = await ShippedBinary.Run(ShippedBinary.Path, ["--version"]);
        var (_, arch, _) = await ShippedBinary.Run("dpkg", ["--print-architecture"]);
        Assert.Equal(Path.Combine(outDir, $"vigil_{version.Trim()["vigil ".Length..].Split('+')[0]}_{arch.Trim()}.deb"), deb);

        var (ccode, contents, cerr) = await ShippedBinary.Run("dpkg-deb", ["--contents", deb]);
        Assert.True(ccode == 0, cerr);
        // "-rwxr-xr-x root/root 19600736 2026-12-03 15:30 ./usr/bin/vigil": mode, owner and path of each entry.
        var entries = contents.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToDictionary(f => f[^1], f => (Mode: f[0], Owner: f[1]));
        foreach (var (path, mode) in new[]
        {
            ("./usr/bin/vigil", "-rwxr-xr-x"),
            ("./usr/share/bash-completion/completions/vigil", "-rw-r--r--"),
            ("./usr/share/zsh/vendor-completions/_vigil", "-rw-r--r--"),
            ("./usr/share/fish/vendor_completions.d/vigil.fish", "-rw-r--r--"),
            ("./usr/share/man/man1/vigil.1.gz", "-rw-r--r--"),
            ("./lib/systemd/system/vigil@.service", "-rw-r--r--"),
        })
        {
            Assert.True(entries.TryGetValue(path, out var e), $"the package lacks {path}:\n{contents}");
            Assert.Equal((mode, "root/root"), e);
        }

        var root = Sub("root");
        var (xcode, _, xerr) = await ShippedBinary.Run("dpkg-deb", ["-x", deb, root]);
        Assert.True(xcode == 0, xerr);
        var (rcode, rversion, rerr) = await ShippedBinary.Run(Path.Combine(root, "usr/bin/vigil"), ["--version"]);
        Assert.True(rcode == 0, rerr);
        Assert.Equal(version, rversion);
        var unit = File.ReadAllText(Path.Combine(root, "lib/systemd/system/vigil@.service")).Split('\n');
        Assert.Contains("Type=notify", unit);
        Assert.Contains("ExecStart=/usr/bin/vigil run -c /etc/vigil/%i.yaml", unit);
        Assert.Contains("ExecReload=/bin/kill -HUP $MAINPID", unit);
        Assert.Contains("WantedBy=multi-user.target", unit);
        var (gcode, page, _) = await ShippedBinary.Run("gzip", ["-dc", Path.Combine(root, "usr/share/man/man1/vigil.1.gz")]);
        Assert.Equal(0, gcode);
        Assert.StartsWith(".TH VIGIL 1 ", page);
    }

    [Fact]
    [Trait("Category", VigilProcess.Smoke)]
    public async Task Version_and_pinger_help_answer_without_a_config()
    {
        await using var version = VigilProcess.Start(_dir.FullName, "--version");
        Assert.Equal(0, await version.WaitExit());
        Assert.Matches(@"^vigil \d+\.\d+\.\d+", Assert.Single(version.Out));

        await using var pinger = VigilProcess.Start(_dir.FullName, "pinger", "--help");
        Assert.Equal(0, await pinger.WaitExit());
        Assert.Contains(pinger.Out, l => l.StartsWith("Usage: vigil pinger", StringComparison.Ordinal));
        Assert.Contains(pinger.Out, l => l.Contains("tether.host", StringComparison.Ordinal));
    }
}
