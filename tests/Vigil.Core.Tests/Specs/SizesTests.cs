using Vigil.Specs;
using Xunit;

namespace Vigil.Tests.Specs;

public sealed class SizesTests
{
    [Theory]
    [InlineData("512", 512L)]
    [InlineData("64KB", 65536L)]
    [InlineData("64k", 65536L)]
    [InlineData("50MB", 52428800L)]
    [InlineData("50MiB", 52428800L)]
    [InlineData("1.5G", 1610612736L)]
    [InlineData(" 2 GB ", 2147483648L)]
    [InlineData("10B", 10L)]
    public void Sizes_parse_in_the_forms_users_write(string text, long bytes)
    {
        Assert.True(Sizes.TryParse(text, out var b));
        Assert.Equal(bytes, b);
    }

    [Theory]
    [InlineData("")]
    [InlineData("big")]
    [InlineData("5 parsecs")]
    [InlineData("-1")]
    [InlineData("99999999999T")]
    public void Bad_sizes_are_rejected(string text) => Assert.False(Sizes.TryParse(text, out _));

    [Theory]
    [InlineData(512L, "512B")]
    [InlineData(104857600L, "100MiB")]
    [InlineData(2147483648L, "2GiB")]
    [InlineData(2254857830L, "2.1GiB")]
    [InlineData(1536L, "1.5KiB")]
    public void Sizes_format_for_people(long bytes, string text) => Assert.Equal(text, Sizes.Format(bytes));
}
