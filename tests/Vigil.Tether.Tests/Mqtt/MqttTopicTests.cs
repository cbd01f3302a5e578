using Vigil.Tether.Mqtt;
using Xunit;

namespace Vigil.Tether.Tests.Mqtt;

public class MqttTopicTests
{
    // The examples of MQTT 3.1.1 §4.7.1 and §4.7.2.
    [Theory]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/ranking", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true)]
    [InlineData("sport/#", "sport", true)]
    [InlineData("#", "a/b/c", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player1/ranking", false)]
    [InlineData("sport/+", "sport", false)]
    [InlineData("sport/+", "sport/", true)]
    [InlineData("+/+", "/finance", true)]
    [InlineData("/+", "/finance", true)]
    [InlineData("+", "/finance", false)]
    [InlineData("+/tennis/#", "sport/tennis/x", true)]
    [InlineData("a/b", "a/b", true)]
    [InlineData("a/b", "a/B", false)]
    [InlineData("a/b", "a/b/c", false)]
    [InlineData("#", "$SYS/broker/uptime", false)]
    [InlineData("+/monitor/Clients", "$SYS/monitor/Clients", false)]
    [InlineData("$SYS/#", "$SYS/monitor/Clients", true)]
    [InlineData("$SYS/monitor/+", "$SYS/monitor/Clients", true)]
    public void Matches_follows_the_spec_examples(string filter, string topic, bool expected) =>
        Assert.Equal(expected, MqttTopic.Matches(filter, topic));

    [Theory]
    [InlineData("sport/tennis#")]
    [InlineData("sport/#/ranking")]
    [InlineData("sport+")]
    [InlineData("")]
    [InlineData("a\0b")]
    public void Invalid_filters_are_named(string filter) => Assert.NotNull(MqttTopic.CheckFilter(filter));

    [Theory]
    [InlineData("+")]
    [InlineData("#")]
    [InlineData("+/tennis/#")]
    [InlineData("/")]
    public void Valid_filters_pass(string filter) => Assert.Null(MqttTopic.CheckFilter(filter));

    [Theory]
    [InlineData("a/+", false)]
    [InlineData("a/#", false)]
    [InlineData("", false)]
    [InlineData("a/b", true)]
    public void Topic_names_have_no_wildcards(string topic, bool valid) => Assert.Equal(valid, MqttTopic.CheckName(topic) is null);

    [Fact]
    public void A_lone_surrogate_is_not_a_topic() => Assert.Contains("lone surrogate", MqttTopic.CheckName("a/\ud800"));

    [Theory]
    [InlineData(0, 500)]
    [InlineData(1, 1000)]
    [InlineData(3, 4000)]
    [InlineData(6, 30000)]
    [InlineData(1000, 30000)]
    public void Reconnect_delay_doubles_up_to_the_cap(int attempt, int expectedMs)
    {
        var options = new MqttClientOptions { ReconnectDelay = TimeSpan.FromMilliseconds(500), MaxReconnectDelay = TimeSpan.FromSeconds(30) };
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), options.ReconnectDelayFor(attempt));
    }

    [Fact]
    public void Options_are_validated_with_the_option_named()
    {
        Assert.Contains("Password needs a Username", Assert.Throws<ArgumentException>(() => new MqttClient(new MqttClientOptions { Password = "x" })).Message);
        Assert.Contains("KeepAlive", Assert.Throws<ArgumentException>(() => new MqttClient(new MqttClientOptions { KeepAlive = TimeSpan.FromMilliseconds(1500) })).Message);
    }
}
