namespace EventBackbone.Deployment.Tests;

/// <summary>
/// Collects every problem a spec finds before failing, so one run names all the places a rename broke rather than the
/// first one only.
/// </summary>
internal sealed class Problems
{
    private readonly List<string> _items = [];

    public void Add(string problem) => _items.Add(problem);

    public void Check(bool ok, string problem)
    {
        if (!ok)
        {
            _items.Add(problem);
        }
    }

    public void AssertNone() =>
        Assert.True(_items.Count == 0, $"{_items.Count} problem(s):{Environment.NewLine}{string.Join(Environment.NewLine, _items)}");
}
