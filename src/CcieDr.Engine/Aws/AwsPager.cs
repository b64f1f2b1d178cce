using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace CcieDr.Engine.Aws
{
    /// <summary>
    /// The one pagination helper: follows a list call's next token (EC2 NextToken, S3 continuation token, ...)
    /// until the last page and returns every item. An empty list the SDK leaves null counts as empty; a service
    /// that hands back the same token again (a loop) is an error rather than a hang.
    /// </summary>
    public static class AwsPager
    {
        /// <summary>Calls <paramref name="call"/> page after page and concatenates <paramref name="items"/> of each.</summary>
        /// <param name="request">The first page's request; its token is set by <paramref name="setToken"/> before each call.</param>
        /// <param name="call">The SDK call, e.g. <c>ec2.DescribeVolumesAsync</c>.</param>
        /// <param name="items">The items of one page (null: none).</param>
        /// <param name="nextToken">The token of the next page; null or empty on the last page.</param>
        /// <param name="setToken">Puts a token into the request (null for the first page).</param>
        /// <param name="ct">Cancels between and during pages.</param>
        public static async Task<IReadOnlyList<TItem>> AllAsync<TRequest, TResponse, TItem>(
            TRequest request,
            Func<TRequest, CancellationToken, Task<TResponse>> call,
            Func<TResponse, IEnumerable<TItem>?> items,
            Func<TResponse, string?> nextToken,
            Action<TRequest, string?> setToken,
            CancellationToken ct)
        {
            if (call is null || items is null || nextToken is null || setToken is null)
            {
                throw new ArgumentNullException(call is null ? nameof(call) : items is null ? nameof(items) : nextToken is null ? nameof(nextToken) : nameof(setToken));
            }

            var result = new List<TItem>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            string? token = null;
            do
            {
                ct.ThrowIfCancellationRequested();
                setToken(request, token);
                TResponse page = await call(request, ct).ConfigureAwait(false);
                IEnumerable<TItem>? pageItems = items(page);
                if (pageItems is not null)
                {
                    result.AddRange(pageItems);
                }

                token = nextToken(page);
                if (!string.IsNullOrEmpty(token) && !seen.Add(token!))
                {
                    throw new CcieException(
                        "AwsPaginationLoop",
                        CcieErrorCategory.InvalidData,
                        $"{typeof(TRequest).Name}: the service returned the same next-page token twice, so the listing would never end. Rerun; if it persists, the endpoint (-EndpointUrl) is not behaving like AWS.",
                        null);
                }
            }
            while (!string.IsNullOrEmpty(token));

            // Leave the caller's request as it was given (first page).
            setToken(request, null);
            return result;
        }
    }
}
