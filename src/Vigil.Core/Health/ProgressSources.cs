using System.Buffers;
using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Npgsql;
using Vigil.Specs;

namespace Vigil.Health;

/// <summary>A source failed to give a number for a reason the user should read as it is.</summary>
internal sealed class ProgressReadException(string message) : Exception(message);

/// <summary>
/// Reads the number of a progress probe's source. One reader per probe (so per run); readers throw on a failed read
/// (the probe turns any exception into a failed check with the reason) and honour the cancellation token, which is
/// the check's deadline.
/// </summary>
internal abstract class ProgressReader : IAsyncDisposable
{
    /// <summary>Names the source in a detail: <c>lines of /var/out.csv</c>. Never holds a connection string (passwords).</summary>
    public abstract string Describe { get; }

    public abstract ValueTask<double> ReadAsync(ProbeTarget target, CancellationToken cancel);

    /// <summary>For a file source, the modification time (UTC) seen by the last successful read: it dates an increase
    /// exactly (see <see cref="Stall.WhenWritten"/>). Null for the other sources, dated by the check.</summary>
    public DateTime? LastWriteUtc { get; protected set; }

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public static ProgressReader For(ProgressSource source) => source switch
    {
        ProgressSource.Exec s => new ExecReader(s),
        ProgressSource.FileSize s => new FileSizeReader(s.Path),
        ProgressSource.FileLines s => new FileLinesReader(s.Path),
        ProgressSource.HttpJson s => new HttpJsonReader(s),
        ProgressSource.Sql { Provider: SqlProvider.Sqlite } s => new SqliteReader(s),
        ProgressSource.Sql s => new PostgresReader(s),
        ProgressSource.Custom s => new CustomReader(s),
        _ => new UnknownReader(source.GetType().Name),
    };

    /// <summary>A source type this version does not read: every check fails with that reason (probes never throw).</summary>
    private sealed class UnknownReader(string type) : ProgressReader
    {
        public override string Describe => type;
        public override ValueTask<double> ReadAsync(ProbeTarget target, CancellationToken cancel) =>
            throw new ProgressReadException($"unknown progress source {type}");
    }

    /// <summary>A number in text (a command's output, a JSON string, a SQL text column), invariant culture.</summary>
    protected static bool TryNumber(string text, out double value) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
}

/// <summary>The first number in a command's stdout (e.g. <c>sh -c "wc -l &lt; out.csv"</c>), run like an exec probe.</summary>
internal sealed partial class ExecReader(ProgressSource.Exec source) : ProgressReader
{
    public override string Describe { get; } = "exec: " + string.Join(' ', source.Command);

    public override async ValueTask<double> ReadAsync(ProbeTarget target, CancellationToken cancel)
    {
        var r = await CommandRunner.RunAsync(target.Launcher, source.Command, target.WorkingDirectory, CommandRunner.ProbeEnvironment(target),
            target.Time, cancel).ConfigureAwait(false);
        cancel.ThrowIfCancellationRequested();
        var lines = r.FirstLines();
        if (!r.Succeeded)
            throw new ProgressReadException(r.Exit is { } exit
                ? $"command {exit}" + (lines.Length > 0 ? $": {lines}" : "")
                : $"command could not start: {r.Error}");
        var m = FirstNumber().Match(r.Output);
        if (!m.Success || !TryNumber(m.Value, out var v))
            throw new ProgressReadException(lines.Length > 0 ? $"no number in the output: {lines}" : "no output");
        return v;
    }

    [GeneratedRegex(@"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")]
    private static partial Regex FirstNumber();
}

/// <summary>A file's size in bytes.</summary>
internal sealed class FileSizeReader(string path) : ProgressReader
{
    public override string Describe { get; } = $"size of {path}";

    public override ValueTask<double> ReadAsync(ProbeTarget target, CancellationToken cancel)
    {
        var info = new FileInfo(Path.GetFullPath(path, target.WorkingDirectory));
        if (!info.Exists) throw new ProgressReadException($"{info.FullName} does not exist");
        LastWriteUtc = info.LastWriteTimeUtc; // the same stat
        return ValueTask.FromResult((double)info.Length);
    }
}

/// <summary>A file's line count: the newlines in it, counted as it streams past (never the whole file in memory).</summary>
internal sealed class FileLinesReader(string path) : ProgressReader
{
    private const int Chunk = 64 * 1024;

    public override string Describe { get; } = $"lines of {path}";

    public override async ValueTask<double> ReadAsync(ProbeTarget target, CancellationToken cancel)
    {
        var full = Path.GetFullPath(path, target.WorkingDirectory);
        if (!File.Exists(full)) throw new ProgressReadException($"{full} does not exist");
        var buf = ArrayPool<byte>.Shared.Rent(Chunk);
        try
        {
            // Shared for writing and deleting: the process is appending to it, or rotating it, while we count.
            var file = new FileStream(full, new FileStreamOptions
            {
                Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete,
                Options = FileOptions.SequentialScan, BufferSize = 0,
            });
            await using (file.ConfigureAwait(false))
            {
                long lines = 0;
                int n;
                while ((n = await file.ReadAsync(buf.AsMemory(0, Chunk), cancel).ConfigureAwait(false)) > 0)
                    lines += buf.AsSpan(0, n).Count((byte)'\n');
                // After counting (fstat of the open file): a line appended meanwhile is not dated too early.
                LastWriteUtc = File.GetLastWriteTimeUtc(file.SafeFileHandle);
                return lines;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buf); }
    }
}

/// <summary>A numeric field of the JSON answer to GET url: a dotted path (<c>stats.processed</c>, <c>queues.0.done</c>).</summary>
internal sealed class HttpJsonReader(ProgressSource.HttpJson source) : ProgressReader
{
    public override string Describe { get; } = $"{source.Field} from {source.Url}";

    public override async ValueTask<double> ReadAsync(ProbeTarget target, CancellationToken cancel)
    {
        var url = source.Url;
        JsonDocument doc;
        try
        {
            using var response = await ProbeHttp.GetAsync(url, cancel).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) throw new ProgressReadException($"HTTP {(int)response.StatusCode} from {url}");
            var stream = await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
                doc = await JsonDocument.ParseAsync(stream, default, cancel).ConfigureAwait(false);
        }
        catch (JsonException e) { throw new ProgressReadException($"the answer from {url} is not JSON: {e.Message}"); }
        catch (Exception e) when (e is not ProgressReadException)
        {
            throw new ProgressReadException(ProbeHttp.Describe(e, url, target.Spec.CheckDeadline, cancel));
        }
        using (doc) return Field(doc.RootElement);
    }

    private double Field(JsonElement e)
    {
        foreach (var part in source.Field.Split('.'))
        {
            if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty(part, out var child)) e = child;
            else if (e.ValueKind == JsonValueKind.Array && int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < e.GetArrayLength()) e = e[i];
            else throw new ProgressReadException($"no field '{source.Field}' in the JSON from {source.Url}");
        }
        if (e.ValueKind == JsonValueKind.Number) return e.GetDouble();
        if (e.ValueKind == JsonValueKind.String && TryNumber(e.GetString()!, out var v)) return v;
        throw new ProgressReadException($"field '{source.Field}' is {e.ValueKind.ToString().ToLowerInvariant()} {Trim(e.GetRawText())}, not a number");
    }

    private static string Trim(string s) => s.Length <= 40 ? s : s[..40] + "…";
}

/// <summary>The first column of the first row of a query; shared by the SQL readers.</summary>
internal abstract class SqlReader(ProgressSource.Sql source) : ProgressReader
{
    public override string Describe { get; } = $"{source.Provider.ToString().ToLowerInvariant()}: {source.Query}";

    protected ProgressSource.Sql Source => source;

    /// <summary>True when the user's connection string sets <paramref name="key"/> itself.</summary>
    protected static bool Sets(string connection, string key)
    {
        try { return new DbConnectionStringBuilder { ConnectionString = connection }.ContainsKey(key); }
        catch (ArgumentException) { return false; } // malformed: the provider's own builder says why
    }

    protected static async ValueTask<double> ScalarAsync(DbConnection connection, string query, CancellationToken cancel)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = query;
        var result = await command.ExecuteScalarAsync(cancel).ConfigureAwait(false);
        return result switch
        {
            null => throw new ProgressReadException("the query returned no rows"),
            DBNull => throw new ProgressReadException("the query returned NULL"),
            string s when TryNumber(s, out var v) => v,
            IConvertible c and not (string or DateTime or bool) => c.ToDouble(CultureInfo.InvariantCulture),
            _ => throw new ProgressReadException($"the query returned {result}, not a number"),
        };
    }
}

/// <summary>SQLite through Microsoft.Data.Sqlite. A relative Data Source resolves against the unit's working directory;
/// unless the connection string says otherwise the file is opened read-only (a missing file is an error, not a new
/// empty database) and without pooling (no handle kept on a file the process may replace).</summary>
internal sealed class SqliteReader(ProgressSource.Sql source) : SqlReader(source)
{
    public override async ValueTask<double> ReadAsync(ProbeTarget target, CancellationToken cancel)
    {
        var b = new SqliteConnectionStringBuilder(Source.Connection);
        if (b.DataSource is { Length: > 0 } ds && ds != ":memory:" && !ds.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
            b.DataSource = Path.GetFullPath(ds, target.WorkingDirectory);
        if (!Sets(Source.Connection, "mode")) b.Mode = SqliteOpenMode.ReadOnly;
        if (!Sets(Source.Connection, "pooling")) b.Pooling = false;
        var connection = new SqliteConnection(b.ConnectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancel).ConfigureAwait(false);
            return await ScalarAsync(connection, Source.Query, cancel).ConfigureAwait(false);
        }
    }
}

/// <summary>PostgreSQL through Npgsql: a new connection per check (no pool unless the connection string asks for one),
/// so a restarted server or a broken connection costs one check, not a stale pooled socket.</summary>
internal sealed class PostgresReader(ProgressSource.Sql source) : SqlReader(source)
{
    private string? _connection;

    public override async ValueTask<double> ReadAsync(ProbeTarget target, CancellationToken cancel)
    {
        // Built at the first check, not in the constructor: a malformed string is a failed check, never a throw.
        _connection ??= Sets(Source.Connection, "pooling")
            ? Source.Connection
            : new NpgsqlConnectionStringBuilder(Source.Connection) { Pooling = false }.ConnectionString;
        var connection = new NpgsqlConnection(_connection);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancel).ConfigureAwait(false);
            return await ScalarAsync(connection, Source.Query, cancel).ConfigureAwait(false);
        }
    }
}

/// <summary>A library delegate (the Process Watcher's <c>set_progress_checker</c>).</summary>
internal sealed class CustomReader(ProgressSource.Custom source) : ProgressReader
{
    public override string Describe => "custom";

    public override ValueTask<double> ReadAsync(ProbeTarget target, CancellationToken cancel) => source.Read(cancel);
}
