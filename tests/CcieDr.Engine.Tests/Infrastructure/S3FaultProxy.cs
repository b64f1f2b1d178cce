using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CcieDr.Engine.Tests.Infrastructure;

/// <summary>
/// A fault-injecting HTTP/1.1 forwarder on 127.0.0.1 (a free port) in front of s3rver: the engine's S3 client talks to
/// it as it would to S3. Each request is classified as an S3 operation from its method and query string
/// (<see cref="Classify"/>) and meets the first armed fault of that operation: throttle (503 SlowDown), internal-error
/// (500 InternalError), drop-after (forwarded to s3rver, then the connection is reset with no answer), timeout (held,
/// never forwarded, then reset) or delay (held, then forwarded; not forwarded when the client hangs up first: Ctrl+C).
/// One request per connection: the request goes upstream with Connection: close and the answer comes back with it,
/// so bodies are framed by Content-Length (requests; chunked uploads are refused) and by the end of the stream (answers).
/// Counters say how many requests of each operation arrived and how many met each fault.
/// </summary>
public sealed class S3FaultProxy : IAsyncDisposable
{
    /// <summary>Fault kinds, as in the simulator's FaultKinds.</summary>
    public const string Throttle = "throttle";
    public const string InternalError = "internal-error";
    public const string DropAfter = "drop-after";
    public const string Timeout = "timeout";
    public const string Delay = "delay";

    private readonly TcpListener listener;
    private readonly int upstreamPort;
    private readonly CancellationTokenSource stop = new();
    private readonly Task acceptLoop;
    private readonly List<Fault> faults = new();
    private readonly ConcurrentDictionary<string, int> calls = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> served = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> cancelled = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<Task> connections = new();

    public S3FaultProxy(int upstreamPort)
    {
        this.upstreamPort = upstreamPort;
        listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }

    public string ServiceUrl => $"http://127.0.0.1:{Port}";

    /// <summary>Arms a fault on <paramref name="operation"/> for its next <paramref name="count"/> requests; holds last <paramref name="holdMilliseconds"/> (timeout, delay).</summary>
    public void Inject(string operation, string kind, int count, int holdMilliseconds = 2000)
    {
        lock (faults)
        {
            faults.Add(new Fault(operation, kind, count, holdMilliseconds));
        }
    }

    public void ClearFaults()
    {
        lock (faults)
        {
            faults.Clear();
        }
    }

    /// <summary>Requests of <paramref name="operation"/> that arrived (whatever met them).</summary>
    public int Calls(string operation) => calls.GetValueOrDefault(operation);

    /// <summary>Requests of <paramref name="operation"/> that met fault <paramref name="kind"/>.</summary>
    public int Served(string operation, string kind) => served.GetValueOrDefault(operation + "/" + kind);

    /// <summary>Held requests of <paramref name="operation"/> whose client hung up before they were forwarded.</summary>
    public int ClientCancelled(string operation) => cancelled.GetValueOrDefault(operation);

    public void ResetCounters()
    {
        calls.Clear();
        served.Clear();
        cancelled.Clear();
    }

    /// <summary>The S3 operation of a request, from its method, path and query string.</summary>
    public static string Classify(string method, string target)
    {
        int q = target.IndexOf('?');
        string path = q < 0 ? target : target[..q];
        var query = new HashSet<string>(StringComparer.Ordinal);
        if (q >= 0)
        {
            foreach (string part in target[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = part.IndexOf('=');
                query.Add(eq < 0 ? part : part[..eq]);
            }
        }

        bool hasKey = path.TrimStart('/').Contains('/');
        return method switch
        {
            "POST" when query.Contains("uploads") => "CreateMultipartUpload",
            "POST" when query.Contains("uploadId") => "CompleteMultipartUpload",
            "POST" when query.Contains("delete") => "DeleteObjects",
            "PUT" when query.Contains("partNumber") && query.Contains("uploadId") => "UploadPart",
            "PUT" when hasKey => "PutObject",
            "DELETE" when query.Contains("uploadId") => "AbortMultipartUpload",
            "DELETE" when hasKey => "DeleteObject",
            "GET" when query.Contains("uploads") => "ListMultipartUploads",
            "GET" when query.Contains("uploadId") => "ListParts",
            "GET" when hasKey => "GetObject",
            "GET" => "ListObjects",
            "HEAD" when hasKey => "HeadObject",
            _ => method + " " + path,
        };
    }

    public async ValueTask DisposeAsync()
    {
        stop.Cancel();
        listener.Stop();
        try
        {
            await acceptLoop;
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException or OperationCanceledException)
        {
        }

        await Task.WhenAny(Task.WhenAll(connections), Task.Delay(5000));
        stop.Dispose();
    }

    private Fault? Take(string operation)
    {
        lock (faults)
        {
            Fault? f = faults.FirstOrDefault(x => x.Operation == operation && x.Remaining > 0);
            if (f is not null)
            {
                f.Remaining--;
            }

            return f;
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop.Token);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException or OperationCanceledException)
            {
                return;
            }

            connections.Add(Task.Run(() => ServeAsync(client)));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            client.NoDelay = true;
            NetworkStream down = client.GetStream();
            try
            {
                await ServeOneAsync(client, down);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // The client or s3rver went away: nothing to answer.
            }
        }
    }

    private async Task ServeOneAsync(TcpClient client, NetworkStream down)
    {
        var reader = new HeadReader(down);
        byte[]? headBytes = await reader.ReadHeadAsync(stop.Token);
        if (headBytes is null)
        {
            return;
        }

        string[] lines = Encoding.Latin1.GetString(headBytes).Split("\r\n");
        string[] requestLine = lines[0].Split(' ');
        string method = requestLine[0];
        string target = requestLine.Length > 1 ? requestLine[1] : "/";
        var headers = lines.Skip(1).Where(l => l.Length > 0).ToList();
        long length = 0;
        foreach (string h in headers)
        {
            if (h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                length = long.Parse(h["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (h.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase))
            {
                await WriteAsync(down, Error(501, "NotImplemented", "The fault proxy takes Content-Length bodies only (no chunked encoding)."));
                return;
            }
        }

        if (headers.Any(h => h.StartsWith("Expect:", StringComparison.OrdinalIgnoreCase) && h.Contains("100-continue", StringComparison.OrdinalIgnoreCase)))
        {
            await WriteAsync(down, "HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray()); // s3rver's own 100 is dropped in ForwardAsync
        }

        string operation = Classify(method, target);
        calls.AddOrUpdate(operation, 1, (_, n) => n + 1);
        byte[] body = await reader.ReadBodyAsync(length, stop.Token);
        Fault? fault = Take(operation);
        if (fault is not null)
        {
            served.AddOrUpdate(operation + "/" + fault.Kind, 1, (_, n) => n + 1);
        }

        switch (fault?.Kind)
        {
            case Throttle:
                await WriteAsync(down, Error(503, "SlowDown", "Please reduce your request rate."));
                return;
            case InternalError:
                await WriteAsync(down, Error(500, "InternalError", "We encountered an internal error. Please try again."));
                return;
            case Timeout:
                await HoldAsync(down, fault.HoldMilliseconds);
                Reset(client);
                return;
            case Delay:
                if (!await HoldAsync(down, fault.HoldMilliseconds))
                {
                    cancelled.AddOrUpdate(operation, 1, (_, n) => n + 1);
                    return; // The client hung up (Ctrl+C): the request never reaches s3rver.
                }

                break;
        }

        byte[] answer = await ForwardAsync(headers, lines[0], body);
        if (fault?.Kind == DropAfter)
        {
            Reset(client); // s3rver did it; the client never hears.
            return;
        }

        await WriteAsync(down, answer);
    }

    /// <summary>Waits <paramref name="milliseconds"/>; false when the client hung up first.</summary>
    private async Task<bool> HoldAsync(NetworkStream down, int milliseconds)
    {
        var probe = new byte[1];
        Task<int> read = down.ReadAsync(probe, 0, 1, stop.Token);
        Task first = await Task.WhenAny(read, Task.Delay(milliseconds, stop.Token));
        return first != read;
    }

    private async Task<byte[]> ForwardAsync(List<string> headers, string requestLine, byte[] body)
    {
        using var up = new TcpClient { NoDelay = true };
        await up.ConnectAsync(IPAddress.Loopback, upstreamPort, stop.Token);
        NetworkStream stream = up.GetStream();
        var sb = new StringBuilder(requestLine).Append("\r\n");
        foreach (string h in headers.Where(h => !h.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase)))
        {
            sb.Append(h).Append("\r\n");
        }

        sb.Append("Connection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.Latin1.GetBytes(sb.ToString()), stop.Token);
        await stream.WriteAsync(body, stop.Token);

        // Until s3rver closes (Connection: close); interim 100 Continue heads are dropped.
        using var all = new MemoryStream();
        await stream.CopyToAsync(all, stop.Token);
        byte[] raw = all.ToArray();
        int start = 0;
        while (raw.Length - start > 12 && Encoding.ASCII.GetString(raw, start, 12) == "HTTP/1.1 100")
        {
            int end = IndexOf(raw, start, "\r\n\r\n"u8);
            start = end < 0 ? raw.Length : end + 4;
        }

        int headEnd = IndexOf(raw, start, "\r\n\r\n"u8);
        if (headEnd < 0)
        {
            throw new IOException("s3rver sent no complete answer");
        }

        string[] head = Encoding.Latin1.GetString(raw, start, headEnd - start).Split("\r\n");
        var rewritten = new StringBuilder();
        foreach (string h in head.Where(h => !h.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase) && !h.StartsWith("Keep-Alive:", StringComparison.OrdinalIgnoreCase)))
        {
            rewritten.Append(h).Append("\r\n");
        }

        rewritten.Append("Connection: close\r\n\r\n");
        byte[] prefix = Encoding.Latin1.GetBytes(rewritten.ToString());
        var answer = new byte[prefix.Length + raw.Length - (headEnd + 4)];
        prefix.CopyTo(answer, 0);
        Array.Copy(raw, headEnd + 4, answer, prefix.Length, raw.Length - (headEnd + 4));
        return answer;
    }

    private static byte[] Error(int status, string code, string message)
    {
        string xml = $"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>";
        string reason = status switch { 503 => "Slow Down", 500 => "Internal Server Error", _ => "Not Implemented" };
        string head = $"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {Encoding.UTF8.GetByteCount(xml)}\r\nx-amz-request-id: fault-proxy\r\nConnection: close\r\n\r\n";
        return Encoding.UTF8.GetBytes(head + xml);
    }

    private async Task WriteAsync(NetworkStream down, byte[] bytes)
    {
        await down.WriteAsync(bytes, stop.Token);
        await down.FlushAsync(stop.Token);
    }

    /// <summary>Ends the connection with a TCP reset: no answer, not even a clean close.</summary>
    private static void Reset(TcpClient client)
    {
        client.Client.LingerState = new LingerOption(true, 0);
        client.Client.Close();
    }

    private static int IndexOf(byte[] data, int from, ReadOnlySpan<byte> pattern)
    {
        int i = data.AsSpan(from).IndexOf(pattern);
        return i < 0 ? -1 : from + i;
    }

    private sealed class Fault(string operation, string kind, int count, int holdMilliseconds)
    {
        public string Operation { get; } = operation;

        public string Kind { get; } = kind;

        public int HoldMilliseconds { get; } = holdMilliseconds;

        public int Remaining { get; set; } = count;
    }

    /// <summary>Reads a request head (up to the blank line) and then exactly its Content-Length body.</summary>
    private sealed class HeadReader(NetworkStream stream)
    {
        private readonly byte[] buffer = new byte[64 * 1024];
        private int start;
        private int end;

        public async Task<byte[]?> ReadHeadAsync(CancellationToken ct)
        {
            while (true)
            {
                int i = buffer.AsSpan(start, end - start).IndexOf("\r\n\r\n"u8);
                if (i >= 0)
                {
                    byte[] head = buffer.AsSpan(start, i).ToArray();
                    start += i + 4;
                    return head;
                }

                if (end == buffer.Length)
                {
                    throw new IOException("request head too large");
                }

                int n = await stream.ReadAsync(buffer.AsMemory(end), ct);
                if (n == 0)
                {
                    return null;
                }

                end += n;
            }
        }

        public async Task<byte[]> ReadBodyAsync(long length, CancellationToken ct)
        {
            var body = new byte[length];
            int got = Math.Min(end - start, (int)length);
            Array.Copy(buffer, start, body, 0, got);
            start += got;
            while (got < length)
            {
                int n = await stream.ReadAsync(body.AsMemory(got), ct);
                if (n == 0)
                {
                    throw new IOException("the client closed before sending its whole body");
                }

                got += n;
            }

            return body;
        }
    }
}
