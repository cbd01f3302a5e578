using Xunit;

namespace Vigil.Tests.Support;

/// <summary>
/// Integration tests that spawn real processes run one class at a time: ten .NET fixtures starting at once keep
/// both cores busy for a second, which would distort the timing that other classes observe.
/// </summary>
[CollectionDefinition("processes", DisableParallelization = true)]
public sealed class ProcessCollection;
