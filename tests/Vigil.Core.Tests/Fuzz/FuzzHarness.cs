using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CsCheck;

namespace Vigil.Tests.Fuzz;

// Overview
//
// A bounded fuzz run for the decoders of untrusted input (config loader, MQTT packet reader, MessagePack reader).
// CsCheck generates the inputs (structure-aware generators plus the mutations below); this driver feeds them one by one
// to a worker thread so each input can be held to a deadline (a hang) and an allocation cap
// (GC.GetAllocatedBytesForCurrentThread on that thread: runaway allocation), which CsCheck's Sample cannot do. Inputs
// come from one PCG stream seeded by FUZZ_SEED (fixed by default), so a CI run sees the same inputs in the same order;
// FUZZ_SECONDS sets how long each target runs (bench/fuzz.sh runs longer with random seeds). A failing input is written
// to FUZZ_OUT (default .artifacts/fuzz/ under the repository) and named in the assertion, to be fixed and added to the
// target's corpus/ folder, which a normal test replays.

/// <summary>What a target made of one input: a value, or the decoder's documented error.</summary>
public enum FuzzOutcome { Value, Error }

public static class FuzzHarness
{
    /// <summary>Default seed: CI runs the same inputs every time.</summary>
    public const ulong DefaultSeed = 0x5EED_0010;

    /// <summary>Most one input may allocate (on the decoding thread): 64 MB, or FUZZ_ALLOC_CAP bytes (to look for
    /// inputs that allocate more than they should, below the cap that fails CI).</summary>
    public static readonly long AllocationCap =
        Environment.GetEnvironmentVariable("FUZZ_ALLOC_CAP") is { Length: > 0 } c ? long.Parse(c, CultureInfo.InvariantCulture) : 64L << 20;

    /// <summary>Longest one input may take. Inputs take micro- to milliseconds; the margin is for a loaded CI machine.</summary>
    public static readonly TimeSpan InputTimeout = TimeSpan.FromSeconds(10);

    public static ulong Seed =>
        Environment.GetEnvironmentVariable("FUZZ_SEED") is { Length: > 0 } s
            ? ulong.Parse(s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? s[2..] : s,
                s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? NumberStyles.HexNumber : NumberStyles.None, CultureInfo.InvariantCulture)
            : DefaultSeed;

    /// <summary>Seconds per target: FUZZ_SECONDS, else <paramref name="ciDefault"/>.</summary>
    public static double Seconds(double ciDefault) =>
        Environment.GetEnvironmentVariable("FUZZ_SECONDS") is { Length: > 0 } s ? double.Parse(s, CultureInfo.InvariantCulture) : ciDefault;

    public sealed record Report(string Target, ulong Seed, int Inputs, int Values, int Errors, TimeSpan Elapsed, long MaxAllocated, List<string> Failures)
    {
        public double PerSecond => Inputs / Elapsed.TotalSeconds;
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"{Target}: seed 0x{Seed:X}, {Inputs:N0} inputs in {Elapsed.TotalSeconds:0.0}s ({PerSecond:N0}/s), {Values:N0} values, {Errors:N0} errors, max {MaxAllocated:N0} bytes allocated by one input, {Failures.Count} failure(s)");
    }

    /// <summary>Runs <paramref name="target"/> on inputs from <paramref name="gen"/> for <paramref name="seconds"/>.
    /// The target returns the outcome, after checking the error is a clear one; any exception that escapes it, a
    /// hang, or an allocation over the cap is a failure (collected, up to 10).</summary>
    public static Report Run<T>(string target, Gen<T> gen, Func<T, byte[]> bytesOf, Func<T, FuzzOutcome> run, double seconds, ulong? seed = null)
    {
        ulong s = seed ?? Seed;
        var pcg = new PCG(1, s);
        var failures = new List<string>();
        int inputs = 0, values = 0, errors = 0;
        long maxAllocated = 0;
        using var worker = new Worker();
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds && failures.Count < 10)
        {
            var input = gen.Generate(pcg, null!, out _);
            inputs++;
            var r = worker.Run(() => run(input), InputTimeout);
            string? problem = r switch
            {
                { TimedOut: true } => $"no outcome within {InputTimeout.TotalSeconds}s (a hang?)",
                { Thrown: { } e } => $"threw {e.GetType().Name}: {e.Message}\n{e.StackTrace}",
                { Allocated: var a } when a > AllocationCap => $"allocated {r.Allocated:N0} bytes (cap {AllocationCap:N0})",
                _ => null,
            };
            if (problem is not null)
            {
                failures.Add($"{problem}\n  input saved as {Save(target, bytesOf(input))}");
                if (r.TimedOut) break;   // the worker is stuck in it
                continue;
            }
            maxAllocated = Math.Max(maxAllocated, r.Allocated);
            if (r.Outcome == FuzzOutcome.Value) values++; else errors++;
        }
        return new Report(target, s, inputs, values, errors, sw.Elapsed, maxAllocated, failures);
    }

    /// <summary>Runs one input under the same deadline and cap; the failure text, or null.</summary>
    public static string? Check(Func<FuzzOutcome> run)
    {
        using var worker = new Worker();
        var r = worker.Run(run, InputTimeout);
        return r switch
        {
            { TimedOut: true } => $"no outcome within {InputTimeout.TotalSeconds}s",
            { Thrown: { } e } => $"threw {e.GetType().Name}: {e.Message}\n{e.StackTrace}",
            { Allocated: var a } when a > AllocationCap => $"allocated {r.Allocated:N0} bytes (cap {AllocationCap:N0})",
            _ => null,
        };
    }

    static string Save(string target, byte[] input)
    {
        var dir = Environment.GetEnvironmentVariable("FUZZ_OUT") is { Length: > 0 } o ? o : Path.Combine(RepoRoot(), ".artifacts", "fuzz");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"{target}-{Convert.ToHexStringLower(SHA256.HashData(input))[..12]}.bin");
        File.WriteAllBytes(path, input);
        return path;
    }

    static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Vigil.slnx"))) return d.FullName;
        return Path.GetTempPath();
    }

    /// <summary>The corpus files of a target, copied next to the test assembly (the folder's README.md aside). The
    /// folder must exist: a corpus that was not copied would otherwise replay nothing and pass.</summary>
    public static string[] CorpusFiles(string target)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "Fuzz", "corpus", target);
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"no fuzz corpus folder {dir} (is Fuzz/corpus/** copied to the output?)");
        return [.. Directory.GetFiles(dir).Where(f => !f.EndsWith(".md", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
    }

    /// <summary>Replays every corpus file of <paramref name="target"/>; the failures, each naming its file.</summary>
    public static List<string> Replay(string target, Func<byte[], FuzzOutcome> run)
    {
        var failures = new List<string>();
        foreach (var file in CorpusFiles(target))
        {
            var input = File.ReadAllBytes(file);
            if (Check(() => run(input)) is { } problem) failures.Add($"{Path.GetFileName(file)}: {problem}");
        }
        return failures;
    }

    readonly record struct Result(bool TimedOut, Exception? Thrown, long Allocated, FuzzOutcome Outcome);

    /// <summary>One thread that runs inputs handed to it, measuring what each allocates. A 1 MiB stack, less than the
    /// main thread's 8 MiB, so deep recursion shows up here first.</summary>
    sealed class Worker : IDisposable
    {
        readonly SemaphoreSlim _go = new(0), _done = new(0);
        readonly Thread _thread;
        Func<FuzzOutcome>? _job;
        Result _result;
        bool _stop;

        public Worker()
        {
            _thread = new Thread(Loop, 1 << 20) { IsBackground = true, Name = "fuzz worker" };
            _thread.Start();
        }

        void Loop()
        {
            while (true)
            {
                _go.Wait();
                if (_stop) return;
                long before = GC.GetAllocatedBytesForCurrentThread();
                Exception? thrown = null;
                FuzzOutcome outcome = default;
                try { outcome = _job!(); }
                catch (Exception e) { thrown = e; }
                _result = new Result(false, thrown, GC.GetAllocatedBytesForCurrentThread() - before, outcome);
                _done.Release();
            }
        }

        public Result Run(Func<FuzzOutcome> job, TimeSpan timeout)
        {
            _job = job;
            _go.Release();
            return _done.Wait(timeout) ? _result : new Result(true, null, 0, default);
        }

        public void Dispose()
        {
            _stop = true;
            _go.Release();
        }
    }
}

/// <summary>Structure-aware mutation of valid inputs: bit flips, interesting bytes, truncation, deletion, duplication,
/// repetition, cutting or padding to a buffer boundary, splicing with another input, insertion of tokens of the format (big numbers, aliases, nesting,
/// length fields).</summary>
public static class Mutations
{
    static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xC1, (byte)'\n', (byte)' ', (byte)':', (byte)'-', (byte)'[', (byte)'{', (byte)'&', (byte)'*', (byte)'"', (byte)'\\', (byte)'\t', (byte)'%', (byte)'!'];

    /// <summary>A generator of inputs: one of <paramref name="bases"/> (or <paramref name="fresh"/>), then 0-5 mutations,
    /// splicing from another base and inserting tokens from <paramref name="tokens"/>; a sixth of the inputs are left unmutated.</summary>
    public static Gen<byte[]> Of(byte[][] bases, Gen<byte[]> fresh, byte[][] tokens, Func<int, byte[]> nest) =>
        Gen.Select(
            Gen.Frequency((2, Gen.OneOf(bases)), (1, fresh)),
            Gen.OneOf(bases),
            Gen.Int[0, 5],
            Gen.UInt.Array[24],
            (input, other, count, r) => Apply(input, other, count, r, tokens, nest));

    static byte[] Apply(byte[] input, byte[] other, int count, uint[] r, byte[][] tokens, Func<int, byte[]> nest)
    {
        var b = new List<byte>(input);
        int k = 0;
        uint Next() => r[k++ % r.Length];
        int Pos(int extra = 0) => b.Count + extra == 0 ? 0 : (int)(Next() % (uint)(b.Count + extra));
        for (int m = 0; m < count; m++)
        {
            switch (Next() % 11)
            {
                case 0 when b.Count > 0: { int p = Pos(); b[p] ^= (byte)(1 << (int)(Next() % 8)); break; }
                case 1 when b.Count > 0: b[Pos()] = Interesting[Next() % (uint)Interesting.Length]; break;
                case 2: { int p = Pos(1); b.RemoveRange(p, b.Count - p); break; }
                case 3 when b.Count > 0: { int p = Pos(); b.RemoveRange(p, (int)Math.Min(Next() % 16 + 1, (uint)(b.Count - p))); break; }
                case 4 when b.Count > 0: { int p = Pos(); var piece = b.GetRange(p, (int)Math.Min(Next() % 64 + 1, (uint)(b.Count - p))); b.InsertRange(Pos(1), piece); break; }
                case 5 when other.Length > 0: { int p = Pos(1), q = (int)(Next() % (uint)other.Length); b.RemoveRange(p, b.Count - p); b.AddRange(other.AsSpan(q).ToArray()); break; }
                case 6: b.InsertRange(Pos(1), tokens[Next() % (uint)tokens.Length]); break;
                case 7: b.InsertRange(Pos(1), nest((int)(Next() % 200) + 1)); break;
                case 8 when b.Count > 0:
                {
                    // A piece repeated up to 1,000 times (inputs up to ~70 KB): work that grows faster than the input
                    // shows up against the deadline and the allocation cap. Not longer: the loader allocates up to
                    // ~300 bytes per byte of input in linear work (YAML events, the tree, specs), and 64 MB at 70 KB
                    // is then a clear sign of more than linear growth.
                    int p = Pos();
                    var piece = b.GetRange(p, (int)Math.Min(Next() % 64 + 1, (uint)(b.Count - p)));
                    int times = (int)(Next() % 1000) + 2;
                    var repeated = new List<byte>(piece.Count * times);
                    for (int i = 0; i < times; i++) repeated.AddRange(piece);
                    b.InsertRange(Pos(1), repeated);
                    break;
                }
                case 9 when b.Count > 0:
                {
                    // Cut or pad to a multiple of 1 KiB, where readers' buffers end (a YamlDotNet hang hid there).
                    int size = (int)(Next() % 4 + 1) * 1024;
                    if (b.Count > size) b.RemoveRange(size, b.Count - size);
                    else b.AddRange(Enumerable.Repeat(b[(int)(Next() % (uint)b.Count)], size - b.Count));
                    break;
                }
                default: b.InsertRange(Pos(1), Encoding.ASCII.GetBytes(BigNumbers[Next() % (uint)BigNumbers.Length])); break;
            }
        }
        return [.. b];
    }

    static readonly string[] BigNumbers = ["99999999999999999999999", "2147483648", "-2147483649", "9223372036854775808", "1e308", "1e309", "-0", "0.0000001", "4294967296", "18446744073709551616"];

    /// <summary>For messages: printable ASCII as is, the rest as \xNN.</summary>
    public static string Show(byte[] input, int max = 300)
    {
        var sb = new StringBuilder();
        foreach (var c in input.Take(max)) sb.Append(c is >= 0x20 and < 0x7F ? ((char)c).ToString() : c == '\n' ? "\\n" : $"\\x{c:X2}");
        return sb.Append(input.Length > max ? "…" : "").ToString();
    }
}
