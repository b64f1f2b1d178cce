using System;
using System.Net;
using Amazon.Runtime;

namespace CcieDr.Engine.Aws.Query
{
    /// <summary>
    /// An error a Query-protocol service answered (<c>&lt;ErrorResponse&gt;&lt;Error&gt;&lt;Type/&gt;&lt;Code/&gt;&lt;Message/&gt;</c>).
    /// It is an <see cref="AmazonServiceException"/> so the one retry classifier (<see cref="AwsRetry"/>) and the one
    /// error mapping (<see cref="AwsErrorMapper"/>) treat it exactly like an SDK client's error.
    /// </summary>
    public sealed class QueryServiceException : AmazonServiceException
    {
        public QueryServiceException(string message, ErrorType errorType, string errorCode, string? requestId, HttpStatusCode statusCode)
            : base(message, null, errorType, errorCode, requestId, statusCode)
        {
        }

        public QueryServiceException()
        {
        }

        public QueryServiceException(string message)
            : base(message)
        {
        }

        public QueryServiceException(string message, Exception innerException)
            : base(message, innerException)
        {
        }
    }
}
