using System;
using System.Collections.Generic;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using System.Xml;
using System.Xml.Linq;
using Amazon.Runtime;

namespace CcieDr.Engine.Aws.Query
{
    /// <summary>
    /// The one Query-protocol core (CloudWatch, Auto Scaling): a minimal hand-written client, because no SDK package
    /// is served for those services. It form-encodes a <see cref="QueryRequest"/>, signs it (SigV4 through AWSSDK.Core),
    /// POSTs it to the service's endpoint (or -EndpointUrl), retries throttling, 5xx and dropped connections with the
    /// shared <see cref="AwsRetryPolicy"/>, maps failures with <see cref="AwsCall"/>/<see cref="AwsErrorMapper"/>, and
    /// returns the XML answer. Thin service clients (<see cref="CloudWatchClient"/>) build requests and read answers.
    /// Safe to use from concurrent tasks.
    /// </summary>
    public sealed class QueryClient : IDisposable
    {
        private static readonly HttpClient SharedHttp = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };

        private readonly HttpClient _http;
        private readonly Func<CancellationToken, Task<ImmutableCredentials>> _credentials;
        private readonly TimeSpan _attemptTimeout;

        /// <summary>A client for <paramref name="service"/> in <paramref name="region"/>.</summary>
        /// <param name="service">Which service (signing name, version).</param>
        /// <param name="region">The region requests are signed for.</param>
        /// <param name="endpoint">Where to send them (the service's public endpoint, or an override).</param>
        /// <param name="credentials">Resolves the credentials for each attempt (the SDK caches and refreshes them).</param>
        /// <param name="retry">The retry policy (default: <see cref="AwsRetryPolicy.Default"/>).</param>
        /// <param name="attemptTimeout">Timeout of one HTTP attempt (default 60 s).</param>
        /// <param name="http">The HTTP client (default: one shared by every Query client); tests pass their own.</param>
        public QueryClient(
            QueryService service,
            string region,
            Uri endpoint,
            Func<CancellationToken, Task<ImmutableCredentials>> credentials,
            AwsRetryPolicy? retry = null,
            TimeSpan? attemptTimeout = null,
            HttpClient? http = null)
        {
            Service = service ?? throw new ArgumentNullException(nameof(service));
            Region = string.IsNullOrEmpty(region) ? throw new ArgumentException("A region is required.", nameof(region)) : region;
            Endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
            _credentials = credentials ?? throw new ArgumentNullException(nameof(credentials));
            Retry = retry ?? AwsRetryPolicy.Default();
            _attemptTimeout = attemptTimeout ?? TimeSpan.FromSeconds(60);
            _http = http ?? SharedHttp;
        }

        /// <summary>
        /// A client configured like the SDK clients of <paramref name="factory"/>: its region (or <paramref name="region"/>),
        /// credential chain or profile, -EndpointUrl, retries (MaxErrorRetry) and per-attempt timeout.
        /// </summary>
        public static QueryClient Create(AwsClientFactory factory, QueryService service, string? region = null)
        {
            if (factory is null)
            {
                throw new ArgumentNullException(nameof(factory));
            }

            if (service is null)
            {
                throw new ArgumentNullException(nameof(service));
            }

            string r = region ?? factory.Region;
            AWSCredentials credentials = factory.ResolveCredentials();
            AwsConnectionOptions o = factory.Options;
            return new QueryClient(
                service,
                r,
                o.EndpointUrl ?? service.EndpointFor(r),
                _ => credentials.GetCredentialsAsync(),
                AwsRetryPolicy.Default(Math.Max(1, o.MaxErrorRetry + 1)),
                o.RequestTimeout);
        }

        public QueryService Service { get; }

        public string Region { get; }

        public Uri Endpoint { get; }

        /// <summary>The retry policy of every call.</summary>
        public AwsRetryPolicy Retry { get; }

        /// <summary>Test hook: the signing time (default: now).</summary>
        internal Func<DateTime>? Clock { get; set; }

        /// <summary>
        /// Sends <paramref name="request"/> and returns the answer. Transient failures are retried; any failure ends as a
        /// <see cref="CcieException"/> (id <c>Aws.&lt;Code&gt;</c>, the service's error inside) naming
        /// "prefix:Action" and <paramref name="target"/>. Cancelling <paramref name="ct"/> stops at once.
        /// </summary>
        public Task<QueryResponse> SendAsync(QueryRequest request, CancellationToken ct, object? target = null)
        {
            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            return AwsCall.RunAsync(
                Service.ActionPrefix + ":" + request.Action,
                target,
                token => Retry.RunAsync(t => SendOnceAsync(request, t), null, token),
                ct);
        }

        /// <summary>
        /// Every page of a listing: sends <paramref name="request"/>, follows <c>NextToken</c> through the shared
        /// <see cref="AwsPager"/> and concatenates <paramref name="items"/> of each page.
        /// </summary>
        public Task<IReadOnlyList<T>> ListAllAsync<T>(QueryRequest request, Func<QueryResponse, IEnumerable<T>?> items, CancellationToken ct, object? target = null)
        {
            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            return AwsPager.AllAsync<QueryRequest, QueryResponse, T>(
                request,
                (r, t) => SendAsync(r, t, target),
                items,
                page => page.NextToken,
                (r, token) => r.NextToken = token,
                ct);
        }

        private async Task<QueryResponse> SendOnceAsync(QueryRequest request, CancellationToken ct)
        {
            byte[] body = Encoding.UTF8.GetBytes(request.ToFormBody(Service.Version));
            ImmutableCredentials credentials = await _credentials(ct).ConfigureAwait(false);
            IReadOnlyDictionary<string, string> auth = QuerySigner.Sign(
                Endpoint, body, QuerySigner.ContentType, credentials, Region, Service.SigningName, Clock?.Invoke() ?? DateTime.UtcNow);

            using var message = new HttpRequestMessage(HttpMethod.Post, Endpoint);
            var content = new ByteArrayContent(body);
            content.Headers.TryAddWithoutValidation("Content-Type", QuerySigner.ContentType);
            message.Content = content;
            foreach (KeyValuePair<string, string> h in auth)
            {
                message.Headers.TryAddWithoutValidation(h.Key, h.Value);
            }

            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
            attempt.CancelAfter(_attemptTimeout);
            using HttpResponseMessage response = await _http.SendAsync(message, HttpCompletionOption.ResponseContentRead, attempt.Token).ConfigureAwait(false);
            string text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw ParseError(text, response.StatusCode, request.Action);
            }

            try
            {
                return new QueryResponse(XDocument.Parse(text), request.Action, response.Headers.Date?.UtcDateTime);
            }
            catch (XmlException e)
            {
                throw new QueryServiceException($"The endpoint answered {request.Action} with something that is not XML ({e.Message}).", ErrorType.Receiver, "InvalidResponse", null, response.StatusCode);
            }
        }

        /// <summary>
        /// A Query error answer as an exception: <c>&lt;ErrorResponse&gt;&lt;Error&gt;&lt;Type/&gt;&lt;Code/&gt;&lt;Message/&gt;&lt;/Error&gt;&lt;RequestId/&gt;</c>
        /// (the EC2 form <c>&lt;Response&gt;&lt;Errors&gt;&lt;Error&gt;</c> too); a body that is not XML keeps only the HTTP status.
        /// </summary>
        internal static QueryServiceException ParseError(string body, HttpStatusCode status, string action)
        {
            XElement? error = null;
            string? requestId = null;
            try
            {
                XElement? root = XDocument.Parse(body).Root;
                error = root.Child("Error") ?? root.Child("Errors").Child("Error");
                requestId = root.Text("RequestId") ?? root.Text("RequestID");
            }
            catch (XmlException)
            {
            }

            string code = error.Text("Code") ?? string.Empty;
            string message = error.Text("Message") ?? $"{action} failed with HTTP {((int)status).ToString(CultureInfo.InvariantCulture)} {status}";
            ErrorType type = error.Text("Type") switch
            {
                "Sender" => ErrorType.Sender,
                "Receiver" => ErrorType.Receiver,
                _ => (int)status >= 500 ? ErrorType.Receiver : ErrorType.Sender,
            };
            return new QueryServiceException(message, type, code, requestId, status);
        }

        /// <summary>Nothing to release today (the HTTP client is shared or the caller's); kept so callers can scope clients with using.</summary>
        public void Dispose()
        {
        }
    }
}
