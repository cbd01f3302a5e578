using System.Runtime.Versioning;
using Vigil.Config;
using Xunit;

namespace Vigil.Tests.Config;

[SupportedOSPlatform("linux")]
public class CommandLineTests
{
    [Theory]
    [InlineData("node server.js", new[] { "node", "server.js" })]
    [InlineData("  a \t b\n c  ", new[] { "a", "b", "c" })]
    [InlineData("sh -c 'echo $HOME; exit 1'", new[] { "sh", "-c", "echo $HOME; exit 1" })]
    [InlineData("echo \"a \\\"b\\\" \\\\ \\n\"", new[] { "echo", "a \"b\" \\ \\n" })]
    [InlineData("a\\ b c\\'d", new[] { "a b", "c'd" })]
    [InlineData("--name=\"a b\"x 'c'\"d\"", new[] { "--name=a bx", "cd" })]
    [InlineData("x '' \"\"", new[] { "x", "", "" })]
    [InlineData("'it\\'", new[] { "it\\" })]
    [InlineData("~/bin/app $X *", new[] { "~/bin/app", "$X", "*" })]
    [InlineData("", new string[0])]
    [InlineData("   ", new string[0])]
    public void Splits_like_a_shell_without_expansion(string text, string[] expected)
    {
        Assert.True(CommandLine.TrySplit(text, out var words, out var error));
        Assert.Null(error);
        Assert.Equal(expected, words);
    }

    [Theory]
    [InlineData("echo 'abc", "unterminated single quote (opened at character 6)")]
    [InlineData("echo \"abc\\\"", "unterminated double quote (opened at character 6)")]
    [InlineData("echo abc\\", "ends with a backslash that escapes nothing")]
    public void Reports_bad_quoting(string text, string expected)
    {
        Assert.False(CommandLine.TrySplit(text, out _, out var error));
        Assert.Equal(expected, error);
    }
}
