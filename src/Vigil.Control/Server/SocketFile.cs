using System.Net.Sockets;
using System.Text;
using Vigil.Launching;

namespace Vigil.Control;

/// <summary>
/// The control socket's file: made only in a folder that is Vigil's own (mode 0700, owned by Vigil's user, not a
/// symbolic link: <see cref="PrivateFolder"/>), so nobody else can reach the socket or plant something at its path.
/// A stale socket (nothing answers: ECONNREFUSED) is replaced; a live one (another Vigil) is a refusal.
/// </summary>
/// <remarks>
/// The listener is bound at a temporary name beside the path, made 0600, then renamed over the path: the socket is
/// never reachable with a wider mode, a stale one is replaced atomically, and .NET's own clean-up (Socket.Dispose
/// unlinks the path it bound, whoever's file is there by then) only ever touches the temporary name. The real path is
/// removed by <see cref="Remove"/>, only while it is still the file this server made (same inode).
/// </remarks>
internal static class SocketFile
{
    /// <summary>sun_path holds 108 bytes with the terminating NUL (unix(7)).</summary>
    public const int MaxPathBytes = 107;

    private const int ENOENT = 2;

    /// <summary>Binds and listens at <paramref name="path"/> (absolute); throws ControlException(Refused) saying why not.</summary>
    public static (Socket Listener, Native.FileId Id) Bind(string path, TimeProvider time)
    {
        if (Encoding.UTF8.GetByteCount(path) > MaxPathBytes)
            throw Refuse($"the socket path {path} is too long for a Unix socket ({Encoding.UTF8.GetByteCount(path)} bytes, at most {MaxPathBytes}); give a shorter --socket");
        var dir = Path.GetDirectoryName(path) ?? "/";
        if (PrivateFolder.MakeOrCheck(dir) is { } why)
            throw Refuse($"refusing to serve on {path}: folder {dir}: {why} (the socket's folder must be Vigil's own: mode 0700, not a symbolic link)");

        CheckExisting(path, time);

        // Random.Shared, not RandomNumberGenerator: the name only has to differ from another's in Vigil's own 0700
        // folder, and the cryptographic generator loads OpenSSL (3.8 MiB of resident memory) for it.
        var temporary = Path.Combine(dir, "." + Random.Shared.Next().ToString("x8", System.Globalization.CultureInfo.InvariantCulture));
        if (Encoding.UTF8.GetByteCount(temporary) > MaxPathBytes)
            throw Refuse($"the socket path {path} is too close to the {MaxPathBytes}-byte limit of a Unix socket; give a shorter --socket");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(temporary));
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.Move(temporary, path, overwrite: true); // rename(2): atomic, and replaces a stale socket
            listener.Listen(128);
            var id = Native.Identify(path, out int errno) ?? throw Refuse($"cannot check {path} after binding it: errno {errno}");
            return (listener, id);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            listener.Dispose();
            try { File.Delete(temporary); } catch (IOException) { }
            throw Refuse($"cannot serve on {path}: {e.Message}");
        }
    }

    /// <summary>Nothing at the path, or a stale socket: fine. Anything else is a refusal.</summary>
    private static void CheckExisting(string path, TimeProvider time)
    {
        var existing = Native.Identify(path, out int errno);
        if (existing is null)
        {
            if (errno == ENOENT) return;
            throw Refuse($"cannot check {path}: errno {errno}");
        }
        if (!existing.Value.IsSocket) throw Refuse($"{path} exists and is not a socket; remove it or give another --socket");
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // Bounded: a Vigil whose accept queue is full would leave a blocking connect waiting.
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2), time);
            probe.ConnectAsync(new UnixDomainSocketEndPoint(path), cts.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
        {
            return; // stale: the Vigil that made it is gone (or it went meanwhile); the rename replaces it
        }
        catch (SocketException e)
        {
            throw Refuse($"cannot tell whether another vigil is answering on {path}: {e.Message}");
        }
        catch (OperationCanceledException)
        {
            // Something listens there but does not accept: another Vigil, busy.
        }
        throw Refuse($"another vigil is answering on {path}");
    }

    /// <summary>Removes the socket file if it is still the one this server made.</summary>
    public static void Remove(string path, Native.FileId ours)
    {
        if (Native.Identify(path, out _) is { } now && now.SameFile(ours))
        {
            try { File.Delete(path); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    private static ControlException Refuse(string message) => new(ControlErrors.Refused, message);
}
