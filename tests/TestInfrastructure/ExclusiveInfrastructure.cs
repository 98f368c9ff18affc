namespace EventBackbone.TestInfrastructure;

/// <summary>
/// A machine-wide lock on one piece of expendable infrastructure. Test assemblies run in parallel processes, and two
/// suites that each stop and start the same expendable server would take it away from under each other; the lock
/// makes them take turns. It is an exclusively opened file, so a process that dies releases it with its handles.
/// </summary>
public sealed class ExclusiveInfrastructure : IDisposable
{
    private readonly FileStream _lock;

    private ExclusiveInfrastructure(FileStream fileLock)
    {
        _lock = fileLock;
    }

    public static async Task<ExclusiveInfrastructure> AcquireAsync(string name, TimeSpan timeout)
    {
        var path = Path.Combine(Path.GetTempPath(), $"eventbackbone-{name}.lock");
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return new ExclusiveInfrastructure(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
            }
            catch (IOException held)
            {
                throw new TimeoutException($"{name} was still in use by another test run after {timeout.TotalMinutes} min ({path}).", held);
            }
        }
    }

    public void Dispose() => _lock.Dispose();
}
