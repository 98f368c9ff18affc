using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EventBackbone.TestInfrastructure;

/// <summary>
/// A RabbitMQ node of its own that speaks TLS only (no plain listener, no plugins), with a private CA and a server
/// certificate for <c>localhost</c> and 127.0.0.1 made with openssl when it starts, on free ports and a node name of
/// its own, so it collides neither with the shared node nor with the fault-injection node (5673). Starting an Erlang
/// node needs the rights of the user that runs the servers (root in CI), as <see cref="ExpendableRabbitMq"/> does.
/// </summary>
public sealed class TlsRabbitMq : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    private TlsRabbitMq(string folder, string node, int port)
    {
        Folder = folder;
        Node = node;
        Port = port;
    }

    /// <summary>Where the certificates are: <c>ca.pem</c> (the private CA), <c>server.pem</c>, <c>server.key</c>.</summary>
    public string Folder { get; }

    public string CaCertificatePath => Path.Combine(Folder, "ca.pem");

    public string Node { get; }

    /// <summary>The TLS listener on 127.0.0.1; the node has no other.</summary>
    public int Port { get; }

    public static async Task<TlsRabbitMq> StartAsync()
    {
        // Readable by the rabbitmq user the node runs as (rabbitmq-server switches to it when started as root).
        var folder = Directory.CreateTempSubdirectory("eventbackbone-tls-rabbitmq-").FullName;
        Chmod(folder, (UnixFileMode)0b111_101_101);
        var name = $"tls{Guid.NewGuid():N}"[..16];
        var node = $"{name}@{Dns.GetHostName().Split('.')[0]}";
        var port = FreePort();
        var tls = new TlsRabbitMq(folder, node, port);
        try
        {
            await tls.MakeCertificatesAsync();
            foreach (var writable in new[] { "mnesia", "log" })
            {
                Directory.CreateDirectory(Path.Combine(folder, writable));
                Chmod(Path.Combine(folder, writable), (UnixFileMode)0b111_111_111);
            }

            tls.WriteReadable("rabbitmq.conf", string.Join('\n',
                "listeners.tcp = none",
                $"listeners.ssl.default = 127.0.0.1:{port}",
                $"ssl_options.cacertfile = {Path.Combine(folder, "ca.pem")}",
                $"ssl_options.certfile = {Path.Combine(folder, "server.pem")}",
                $"ssl_options.keyfile = {Path.Combine(folder, "server.key")}",
                "ssl_options.verify = verify_none",
                "ssl_options.fail_if_no_peer_cert = false",
                ""));
            // No plugins: the management plugin would take the shared node's port 15672.
            tls.WriteReadable("enabled_plugins", "[].\n");

            // In a session of its own and in the background, its output in a file: a pipe to this process would
            // block the node once full, or end it with this process.
            var start = new ProcessStartInfo("sh") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "-c", "command -v rabbitmq-server >/dev/null || exit 127; setsid rabbitmq-server >>\"$0\" 2>&1 &", Path.Combine(folder, "log", "start.log") })
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment["RABBITMQ_NODENAME"] = node;
            start.Environment["RABBITMQ_DIST_PORT"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
            start.Environment["RABBITMQ_MNESIA_BASE"] = Path.Combine(folder, "mnesia");
            start.Environment["RABBITMQ_LOG_BASE"] = Path.Combine(folder, "log");
            start.Environment["RABBITMQ_CONFIG_FILE"] = Path.Combine(folder, "rabbitmq.conf");
            start.Environment["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(folder, "enabled_plugins");
            start.Environment["RABBITMQ_PID_FILE"] = Path.Combine(folder, "mnesia", "pid");
            using (var shell = Process.Start(start) ?? throw new InfrastructureUnavailableException("sh could not be started."))
            {
                await shell.WaitForExitAsync();
                if (shell.ExitCode != 0)
                {
                    throw new InfrastructureUnavailableException($"rabbitmq-server is not installed. {InfrastructureSettings.StartHint}");
                }
            }

            await tls.WaitForListenerAsync();
            return tls;
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await RunAsync("rabbitmqctl", "-n", Node, "-q", "stop");
        }
        catch (InfrastructureUnavailableException)
        {
            // Not started, or already gone: nothing to stop.
        }

        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A file the stopping node still held; the temporary folder is cleaned with the machine.
        }
    }

    /// <summary>The node runs as the rabbitmq user: what it reads must be readable, what it writes writable, by it.</summary>
    private static void Chmod(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task MakeCertificatesAsync()
    {
        string At(string file) => Path.Combine(Folder, file);
        await RunAsync("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=EventBackbone test CA", "-keyout", At("ca.key"), "-out", At("ca.pem"));
        await RunAsync("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", At("server.key"), "-out", At("server.csr"));
        WriteReadable("server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
            + "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
        await RunAsync("openssl", "x509", "-req", "-in", At("server.csr"), "-CA", At("ca.pem"), "-CAkey", At("ca.key"),
            "-CAcreateserial", "-days", "2", "-extfile", At("server.ext"), "-out", At("server.pem"));
        foreach (var file in new[] { "ca.pem", "server.pem", "server.key" })
        {
            Chmod(At(file), (UnixFileMode)0b110_100_100);
        }
    }

    private void WriteReadable(string file, string text)
    {
        File.WriteAllText(Path.Combine(Folder, file), text);
        Chmod(Path.Combine(Folder, file), (UnixFileMode)0b110_100_100);
    }

    /// <summary>Until the TLS port takes connections; bounded, generous for a loaded machine (a node takes ~30 s there).</summary>
    private async Task WaitForListenerAsync()
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await InfrastructureProbe.EnsureRabbitMqReachableAsync("127.0.0.1", Port);
                return;
            }
            catch (InfrastructureUnavailableException) when (deadline.Elapsed < StartTimeout)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500));
            }
            catch (InfrastructureUnavailableException late)
            {
                throw new InfrastructureUnavailableException(
                    $"The TLS RabbitMQ node {Node} did not listen on 127.0.0.1:{Port} within {StartTimeout.TotalMinutes} min; see {Path.Combine(Folder, "log")}.", late);
            }
        }
    }

    private static async Task RunAsync(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using (var process = InfrastructureProgram.Start(start, InfrastructureSettings.StartHint))
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = await process.StandardError.ReadToEndAsync();
            await output;
            await process.WaitForExitAsync();
            if (process.ExitCode != 0)
            {
                throw new InfrastructureUnavailableException($"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {errors.Trim()}");
            }
        }
    }
}
