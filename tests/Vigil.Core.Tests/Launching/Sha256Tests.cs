using System.Text;
using Vigil.Launching;
using Xunit;

namespace Vigil.Tests.Launching;

public sealed class Sha256Tests
{
    [Fact]
    public void The_digest_is_the_FIPS_one_for_the_standard_vectors()
    {
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Convert.ToHexStringLower(Sha256.HashData([])));
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Convert.ToHexStringLower(Sha256.HashData("abc"u8)));
        Assert.Equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            Convert.ToHexStringLower(Sha256.HashData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"u8)));
    }

    [Fact]
    public void The_digest_matches_the_BCL_for_every_length_across_the_block_and_padding_edges()
    {
        var random = new Random(12);
        for (int length = 0; length <= 300; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);
            Assert.Equal(System.Security.Cryptography.SHA256.HashData(data), Sha256.HashData(data));
        }
    }

    [Fact]
    public void An_instance_name_keeps_its_old_form_and_hash()
    {
        // The name a killed Vigil's leftovers are found by: unchanged from the BCL-hashed names of earlier versions.
        const string path = "/srv/shop/vigil.yaml";
        var old = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(path)), 0, 4);
        Assert.Equal("vigil-" + old, Membership.InstanceFor(path));
    }
}
