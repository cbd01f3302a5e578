using Vigil.Tether.Agent;
using Xunit;

namespace Vigil.Tether.Tests.Agent;

/// <summary>The JS agent's own jest cases (tether-agent 3.2.1, src/index.test.ts), plus the edges read from src/Plug.ts.</summary>
public class TetherTopicTests
{
    [Fact]
    public void Topics_are_built_as_the_JS_agent_builds_them()
    {
        Assert.Equal("tester/any/somePlugName", TetherTopic.Output("tester", null, "somePlugName").ToString());
        Assert.Equal("tester/any/somePlugName", TetherTopic.Output("tester", "", "somePlugName").ToString());
        Assert.Equal("tester/specialGroup/somePlugName", TetherTopic.Output("tester", "specialGroup", "somePlugName").ToString());
        Assert.Equal("+/+/somePlugName", TetherTopic.Input("somePlugName").ToString());
        Assert.Equal("+/stillSpecial/somePlugName", TetherTopic.Input("somePlugName", id: "stillSpecial").ToString());
        Assert.Equal("specialRole/+/somePlugName", TetherTopic.Input("somePlugName", role: "specialRole").ToString());
        Assert.Equal("role2/id2/somePlugName", TetherTopic.Input("somePlugName", role: "role2", id: "id2").ToString());
    }

    [Theory]
    // "if Plug specified full topic, i.e. no wildcards, then only exact matches"
    [InlineData("someType/someGroup/somePlugName", "someType/someGroup/somePlugName", true)]
    [InlineData("someType/someGroup/somePlugName", "other/otherGroup/somePlugName", false)]
    // "if ONLY Plug Name specified, match any with same PlugName"
    [InlineData("+/+/somePlugName", "something/something/somePlugName", true)]
    [InlineData("+/+/somePlugName", "something/something/otherPlugName", false)]
    // "if Agent Type AND Plug Name specified, match any Group/ID"
    [InlineData("specificAgent/+/plugName", "specificAgent/something/plugName", true)]
    [InlineData("specificAgent/+/plugName", "specificAgent/somethingElse/plugName", true)]
    [InlineData("specificAgent/+/plugName", "differentAgent/anything/plugName", false)]
    // "# wildcard should match any topic"
    [InlineData("#", "something/something/something", true)]
    // "specific use case: agentType specified, no group/ID, plug name"
    [InlineData("LidarConsolidation/+/trackedPoints", "LidarConsolidation/e933b82f-cb0d-4f91-a4a7-5625ce3ed20b/clusters", false)]
    [InlineData("LidarConsolidation/+/trackedPoints", "LidarConsolidation/e933b82f-cb0d-4f91-a4a7-5625ce3ed20b/trackedPoints", true)]
    [InlineData("LidarConsolidation/+/trackedPoints", "SomethingElse/e933b82f-cb0d-4f91-a4a7-5625ce3ed20b/trackedPoints", false)]
    // "if GroupOrId and PlugName specified, but not AgentType, then match when these match"
    [InlineData("+/specificGroupOrId/plugName", "someAgent/specificGroupOrId/plugName", true)]
    [InlineData("+/specificGroupOrId/plugName", "anotherAgent/specificGroupOrId/plugName", true)]
    [InlineData("+/specificGroupOrId/plugName", "someAgent/wrongGroup/plugName", false)]
    // Edges of src/Plug.ts: split("/")[2] ignores extra levels; '#' inside a topic is no wildcard to the JS agent;
    // a part merely containing '+' counts as a wildcard; where JS throws (short topics) this is false.
    [InlineData("+/+/ping", "a/b/ping/extra", true)]
    [InlineData("a/#", "a/b/c", false)]
    [InlineData("a/#", "a/#", true)]
    [InlineData("x+/id/ping", "anything/id/ping", true)]
    [InlineData("something/something/+", "anything/anything/anything", false)]
    [InlineData("+/+/ping", "a/ping", false)]
    [InlineData("+", "a/b/c", false)]
    public void Incoming_topics_match_plugs_as_in_the_JS_agent(string plugTopic, string incoming, bool expected) =>
        Assert.Equal(expected, TetherTopic.PlugMatches(plugTopic, incoming));

    [Fact]
    public void Parse_takes_the_first_three_parts_like_the_JS_agent()
    {
        Assert.Equal(new TetherTopic("role", "id", "plug"), TetherTopic.Parse("role/id/plug"));
        Assert.Equal(new TetherTopic("role", "id", "plug"), TetherTopic.Parse("role/id/plug/more"));
        Assert.Null(TetherTopic.Parse("role/plug"));
    }

    [Fact]
    public void Client_ids_carry_the_role_and_a_random_suffix()
    {
        var a = TetherDefaults.ClientId("processPinger");
        var b = TetherDefaults.ClientId("processPinger");
        Assert.Matches("^tether-processPinger-[0-9a-f]{8}$", a);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void Broker_defaults_are_the_JS_agent_nodeJS_defaults()
    {
        var broker = TetherDefaults.Broker;
        Assert.Equal(("localhost", 1883, "tether", "sp_ceB0ss!"), (broker.Host, broker.Port, broker.Username, broker.Password));
        Assert.Equal("any", new TetherAgentOptions().Id);
    }
}
