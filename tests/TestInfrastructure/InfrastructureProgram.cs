using System.ComponentModel;
using System.Diagnostics;

namespace EventBackbone.TestInfrastructure;

/// <summary>
/// Starts a program the suites take from the machine (rabbitmqctl, openssl, node): one that is not installed fails as
/// missing infrastructure, naming how to get it, instead of as a bare Win32Exception from deep inside a spec.
/// </summary>
public static class InfrastructureProgram
{
    public static Process Start(ProcessStartInfo start, string hint)
    {
        try
        {
            return Process.Start(start) ?? throw new InfrastructureUnavailableException($"{start.FileName} could not be started. {hint}");
        }
        catch (Win32Exception missing)
        {
            throw new InfrastructureUnavailableException($"{start.FileName} could not be started. {hint}", missing);
        }
    }
}
