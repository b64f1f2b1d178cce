using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Amazon.Runtime;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Aws.Query;

namespace CcieDr.Engine.Tests.Query;

/// <summary>One request the stub received.</summary>
public sealed record StubRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body)
{
    /// <summary>The form body as name → value (decoded).</summary>
    public Dictionary<string, string> Form =>
        Body.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .ToDictionary(p => Uri.UnescapeDataString(p[0]), p => Uri.UnescapeDataString(p.Length > 1 ? p[1] : ""));
}

/// <summary>
/// An HTTP server on 127.0.0.1 (HttpListener) that answers with canned responses in order and records every
/// request, for testing the Query client against the real wire format.
/// </summary>
public sealed class QueryStub : IDisposable
{
    private readonly HttpListener listener = new();
    private readonly ConcurrentQueue<(int Status, string Body, DateTime? Date, TimeSpan Delay)> answers = new();
    private readonly CancellationTokenSource stop = new();

    public QueryStub()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Url = new Uri($"http://127.0.0.1:{port}/");
        listener.Prefixes.Add(Url.ToString());
        listener.Start();
        _ = Task.Run(LoopAsync);
    }

    public Uri Url { get; }

    public ConcurrentQueue<StubRequest> Requests { get; } = new();

    public QueryStub Answer(int status, string xml, DateTime? date = null, TimeSpan delay = default)
    {
        answers.Enqueue((status, xml, date, delay));
        return this;
    }

    /// <summary>A CloudWatch client on this stub with fixed test credentials and a fast retry policy.</summary>
    public QueryClient Client(QueryService? service = null, string? sessionToken = null, int attempts = 3) =>
        new(service ?? QueryService.CloudWatch, "us-east-1", Url,
            _ => Task.FromResult(new ImmutableCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken)),
            new AwsRetryPolicy { MaxAttempts = attempts, BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(2) },
            TimeSpan.FromSeconds(30));

    private async Task LoopAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await listener.GetContextAsync();
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }

            using var reader = new StreamReader(ctx.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var headers = ctx.Request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => ctx.Request.Headers[k]!, StringComparer.OrdinalIgnoreCase);
            Requests.Enqueue(new StubRequest(ctx.Request.HttpMethod, ctx.Request.Url!.AbsolutePath, headers, body));
            var (status, xml, date, delay) = answers.TryDequeue(out var a) ? a : (500, "<ErrorResponse><Error><Type>Receiver</Type><Code>StubEmpty</Code><Message>no canned answer</Message></Error></ErrorResponse>", null, TimeSpan.Zero);
            try
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, stop.Token);
                }

                var bytes = Encoding.UTF8.GetBytes(xml);
                ctx.Response.StatusCode = status;
                ctx.Response.ContentType = "text/xml";
                if (date is { } d)
                {
                    ctx.Response.Headers["Date"] = d.ToString("r");
                }

                ctx.Response.ContentLength64 = bytes.Length;
                await ctx.Response.OutputStream.WriteAsync(bytes);
                ctx.Response.Close();
            }
            catch (Exception)
            {
                // The client went away (cancellation test) or the stub is stopping.
            }
        }
    }

    public void Dispose()
    {
        stop.Cancel();
        listener.Close();
        stop.Dispose();
    }
}
