using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;

namespace Vigil.Tether.Mqtt;

/// <summary>
/// TLS for both transports (mqtts and wss). The broker's certificate is checked here, in MQTTnet's validation
/// callback, rather than through its <c>TrustChain</c> option, which only its TCP channel applies: a CA file must
/// work the same over wss. A rejection records why, so the connect error can say it.
/// </summary>
internal sealed class MqttTls(MqttClientOptions options)
{
    X509Certificate2Collection? _authorities;
    string? _rejection;

    /// <summary>Why the broker's certificate was last rejected, or null.</summary>
    public string? LastRejection => Volatile.Read(ref _rejection);

    /// <summary>Null when the TLS settings are usable, else what is wrong, naming the option.</summary>
    public static string? Check(MqttClientOptions o)
    {
        if (!o.UsesTls && (o.CaFile ?? o.CertFile ?? o.KeyFile) is not null)
            return $"CaFile, CertFile and KeyFile need a TLS transport (mqtts or wss), not {o.Transport}";
        if (!o.UsesTls && o.InsecureSkipVerify) return $"InsecureSkipVerify needs a TLS transport (mqtts or wss), not {o.Transport}";
        if (o.CertFile is not null && o.KeyFile is null) return $"CertFile {o.CertFile} needs a KeyFile (its private key)";
        if (o.KeyFile is not null && o.CertFile is null) return $"KeyFile {o.KeyFile} needs a CertFile (the certificate it belongs to)";
        foreach (var (name, file) in new[] { ("CaFile", o.CaFile), ("CertFile", o.CertFile), ("KeyFile", o.KeyFile) })
            if (file is not null && !File.Exists(file)) return $"{name} {file} does not exist";
        return null;
    }

    /// <summary>MQTTnet's TLS options: target host, client certificate, and this object's validation.</summary>
    public MqttClientTlsOptions Build()
    {
        if (options.CaFile is { } ca)
        {
            var authorities = new X509Certificate2Collection();
            try { authorities.ImportFromPemFile(ca); }
            catch (CryptographicException e) { throw new MqttException($"cannot read the CA file {ca}: {e.Message}", e); }
            if (authorities.Count == 0) throw new MqttException($"the CA file {ca} holds no PEM certificate");
            _authorities = authorities;
        }
        X509Certificate2? client = null;
        if (options.CertFile is { } certFile)
        {
            try { client = X509Certificate2.CreateFromPemFile(certFile, options.KeyFile); }
            catch (CryptographicException e) { throw new MqttException($"cannot load the client certificate {certFile} with the key {options.KeyFile}: {e.Message}", e); }
        }
        return new MqttClientTlsOptions
        {
            UseTls = true,
            TargetHost = options.Host,
            CertificateValidationHandler = Validate,
            ClientCertificatesProvider = client is null ? null : new ClientCertificate(client),
        };
    }

    bool Validate(MqttClientCertificateValidationEventArgs e)
    {
        if (options.InsecureSkipVerify) return true;
        string? why = null;
        if (e.SslPolicyErrors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)) why = "the broker sent no certificate";
        else if (e.SslPolicyErrors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch)) why = $"the broker's certificate is not for {options.Host}";
        else if (_authorities is null)
        {
            if (e.SslPolicyErrors != SslPolicyErrors.None) why = $"the broker's certificate is not trusted by the system ({Status(e.Chain)}); give the CA file";
        }
        else
        {
            // Trust exactly the CA file's certificates, as mqtt.js's `ca` option does.
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.CustomTrustStore.AddRange(_authorities);
            if (e.Chain is { } presented)
                foreach (var element in presented.ChainElements) chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            using var leaf = X509CertificateLoader.LoadCertificate(e.Certificate.GetRawCertData());
            if (!chain.Build(leaf)) why = $"the broker's certificate is not signed by the CA file {options.CaFile} ({Status(chain)})";
        }
        Volatile.Write(ref _rejection, why);
        return why is null;
    }

    static string Status(X509Chain? chain) =>
        chain is null || chain.ChainStatus.Length == 0 ? "no chain" : string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Distinct());

    sealed class ClientCertificate(X509Certificate2 certificate) : IMqttClientCertificatesProvider
    {
        public X509CertificateCollection GetCertificates() => [certificate];
    }
}
