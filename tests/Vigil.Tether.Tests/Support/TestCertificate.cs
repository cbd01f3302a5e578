using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Vigil.Tether.Tests.Support;

/// <summary>A self-signed server certificate for localhost / 127.0.0.1, written as PEM files mosquitto can load.</summary>
public sealed class TestCertificate : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("vigil-tls-").FullName;

    public TestCertificate()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false)); // server auth
        var now = DateTimeOffset.UtcNow;
        using var cert = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
        Certificate = X509CertificateLoader.LoadCertificate(cert.RawData);
        CertPemFile = Path.Combine(_dir, "cert.pem");
        KeyPemFile = Path.Combine(_dir, "key.pem");
        File.WriteAllText(CertPemFile, cert.ExportCertificatePem());
        File.WriteAllText(KeyPemFile, rsa.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>The public certificate, to trust as a custom root.</summary>
    public X509Certificate2 Certificate { get; }
    public string CertPemFile { get; }
    public string KeyPemFile { get; }

    public void Dispose()
    {
        Certificate.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
