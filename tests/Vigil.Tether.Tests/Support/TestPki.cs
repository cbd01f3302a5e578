using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Vigil.Tether.Tests.Support;

/// <summary>
/// A test CA, a server certificate it signed for localhost / 127.0.0.1, a client certificate it signed, and an
/// unrelated CA (for "wrong CA" tests), written as PEM files mosquitto and the client can load; deleted on dispose.
/// </summary>
public sealed class TestPki : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("vigil-pki-").FullName;

    public TestPki()
    {
        using var caKey = RSA.Create(2048);
        using var ca = SelfSignedCa("CN=Vigil test CA", caKey);
        CaPemFile = Write("ca.pem", ca.ExportCertificatePem());
        using (var other = SelfSignedCa("CN=Some other CA", caKey))
            OtherCaPemFile = Write("other-ca.pem", other.ExportCertificatePem());
        (ServerPemFile, ServerKeyPemFile) = Issue(ca, "server", "CN=localhost", "1.3.6.1.5.5.7.3.1", server: true);
        (ClientPemFile, ClientKeyPemFile) = Issue(ca, "client", "CN=vigil-test-client", "1.3.6.1.5.5.7.3.2", server: false);
    }

    public string CaPemFile { get; }
    /// <summary>A CA that signed nothing here: trusting only it must refuse the broker.</summary>
    public string OtherCaPemFile { get; }
    public string ServerPemFile { get; }
    public string ServerKeyPemFile { get; }
    public string ClientPemFile { get; }
    public string ClientKeyPemFile { get; }

    static X509Certificate2 SelfSignedCa(string name, RSA key)
    {
        var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddDays(-2), now.AddDays(60)); // outlives what it signs
    }

    (string Cert, string Key) Issue(X509Certificate2 ca, string file, string subject, string usage, bool server)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], critical: false));
        var now = DateTimeOffset.UtcNow;
        using var cert = request.Create(ca, now.AddDays(-1), now.AddDays(30), RandomNumberGenerator.GetBytes(8));
        return (Write(file + ".pem", cert.ExportCertificatePem()), Write(file + ".key", key.ExportPkcs8PrivateKeyPem()));
    }

    string Write(string name, string pem)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, pem);
        return path;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
