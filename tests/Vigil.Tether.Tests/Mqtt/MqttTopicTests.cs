using Vigil.Tether.Mqtt;
using Xunit;

namespace Vigil.Tether.Tests.Mqtt;

public class MqttTopicTests
{
    // The examples of MQTT 3.1.1 §4.7.1 and §4.7.2.
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

    [Fact]
    public void TLS_options_are_checked_with_the_option_named()
    {
        static string Error(MqttClientOptions o) => Assert.Throws<ArgumentException>(() => new MqttClient(o)).Message;
        Assert.Contains("CaFile, CertFile and KeyFile need a TLS transport", Error(new() { CaFile = "/etc/hostname" }));
        Assert.Contains("InsecureSkipVerify needs a TLS transport", Error(new() { InsecureSkipVerify = true }));
        Assert.Contains("CaFile /nonexistent/ca.pem does not exist", Error(new() { Transport = MqttTransport.Tls, CaFile = "/nonexistent/ca.pem" }));
        Assert.Contains("CertFile /etc/hostname needs a KeyFile", Error(new() { Transport = MqttTransport.Tls, CertFile = "/etc/hostname" }));
        Assert.Contains("KeyFile /etc/hostname needs a CertFile", Error(new() { Transport = MqttTransport.SecureWebSocket, KeyFile = "/etc/hostname" }));
        Assert.Contains("ProtocolVersion 3", Error(new() { ProtocolVersion = 3 }));
    }

    [Theory]
    [InlineData("mqtt", MqttTransport.Tcp)]
    [InlineData("tcp", MqttTransport.Tcp)]
    [InlineData("MQTTS", MqttTransport.Tls)]
    [InlineData("ssl", MqttTransport.Tls)]
    [InlineData("ws", MqttTransport.WebSocket)]
    [InlineData("wss", MqttTransport.SecureWebSocket)]
    [InlineData("http", null)]
    public void Protocol_names_are_the_JS_agents(string name, MqttTransport? expected) => Assert.Equal(expected, MqttClientOptions.ParseTransport(name));

    [Fact]
    public void The_endpoint_and_WebSocket_URI_carry_the_scheme_and_path()
    {
        Assert.Equal("h:1883", new MqttClientOptions { Host = "h" }.Endpoint);
        Assert.Equal("mqtts://h:8883", new MqttClientOptions { Host = "h", Port = 8883, Transport = MqttTransport.Tls }.Endpoint);
        Assert.Equal("ws://h:15675/ws", new MqttClientOptions { Host = "h", Port = 15675, Transport = MqttTransport.WebSocket, Path = "/ws" }.WebSocketUri);
        Assert.Equal("wss://h:443/", new MqttClientOptions { Host = "h", Port = 443, Transport = MqttTransport.SecureWebSocket }.WebSocketUri);
    }
}
