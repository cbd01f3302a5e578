namespace Vigil.Tests.Support;

/// <summary>The .NET app on Vigil.Client (tests/fixtures/Vigil.ClientApp), in its own output folder: the test projects build it
/// but do not reference it (see their .csproj).</summary>
public static class ClientApp
{
    /// <summary>…/tests/fixtures/Vigil.ClientApp/bin/CONFIG/TFM/vigil-client-app, for the configuration and framework these
    /// tests were built with (read from their own folder: …/bin/CONFIG/TFM/).</summary>
    public static string Path { get; } = Find();

    private static string Find()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        string tfm = here.Name, config = here.Parent!.Name;
        var dir = here;
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Vigil.slnx"))) dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException("Vigil.slnx not found above " + AppContext.BaseDirectory);
        return System.IO.Path.Combine(dir.FullName, "tests", "fixtures", "Vigil.ClientApp", "bin", config, tfm, "vigil-client-app");
    }
}
