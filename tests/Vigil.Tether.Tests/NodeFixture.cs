namespace Vigil.Tether.Tests;

/// <summary>Where the npm peers (tether-agent, mqtt, @msgpack/msgpack, pm2) are installed by .ci/run (npm ci).</summary>
public static class NodeFixture
{
    public static string Folder { get; } = Find();

    static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Vigil.slnx")))
            dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException("Vigil.slnx not found above " + AppContext.BaseDirectory);
        return Path.Combine(dir.FullName, "tests", "fixtures", "node");
    }

    public static string NodeModules => Path.Combine(Folder, "node_modules");
}
