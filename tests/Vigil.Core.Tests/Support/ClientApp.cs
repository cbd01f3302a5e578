namespace Vigil.Tests.Support;

/// <summary>The two apps on the client libraries, which take the same options and print the same lines: the .NET one on
/// Vigil.Client (tests/fixtures/Vigil.ClientApp, run from its own output folder: the test projects build it but do not
/// reference it, see their .csproj) and the Node one on vigil-client (tests/fixtures/node/client-app.cjs).</summary>
public static class ClientApp
{
    /// <summary>The folder of Vigil.slnx.</summary>
    public static string Repo { get; } = FindRepo();

    /// <summary>…/tests/fixtures/Vigil.ClientApp/bin/CONFIG/TFM/vigil-client-app, for the configuration and framework these
    /// tests were built with (read from their own folder: …/bin/CONFIG/TFM/).</summary>
    public static string Path { get; } = FindDotnetApp();

    /// <summary>The Node app's script.</summary>
    public static string NodeScript { get; } = System.IO.Path.Combine(Repo, "tests", "fixtures", "node", "client-app.cjs");

    /// <summary>A unit's command lines (at the indentation of a <c>processes:</c> entry's keys) for the app in
    /// <paramref name="lang"/> (node or dotnet), with or without the IPC channel: a node script gets it by elife's rule,
    /// the .NET app with <c>ipc: true</c>.</summary>
    public static string Command(string lang, bool ipc, params string[] args)
    {
        var argList = args.Length == 0 ? "" : $"\n    args: [{string.Join(", ", args.Select(a => $"\"{a}\""))}]";
        return lang switch
        {
            "node" => (ipc ? $"script: {NodeScript}" : $"command: [node, {NodeScript}]") + argList,
            "dotnet" => $"command: [{Path}]" + (ipc ? "\n    ipc: true" : "") + argList,
            _ => throw new ArgumentException("node or dotnet, not " + lang, nameof(lang)),
        };
    }

    private static string FindRepo()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Vigil.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Vigil.slnx not found above " + AppContext.BaseDirectory);
    }

    private static string FindDotnetApp()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        return System.IO.Path.Combine(Repo, "tests", "fixtures", "Vigil.ClientApp", "bin", here.Parent!.Name, here.Name, "vigil-client-app");
    }
}
