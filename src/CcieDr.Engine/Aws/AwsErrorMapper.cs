using System;
using System.Net;
using System.Net.Http;
using System.Threading.Tasks;
using Amazon.Runtime;

namespace CcieDr.Engine.Aws
{
    /// <summary>Turns AWS SDK failures into <see cref="CcieException"/>s with stable ids and categories.</summary>
    public static class AwsErrorMapper
    {
        /// <summary>Maps an exception raised by an AWS call made for <paramref name="target"/>.</summary>
        public static CcieException Map(Exception exception, string operation, object? target)
        {
            if (exception is null)
            {
                throw new ArgumentNullException(nameof(exception));
            }

            if (exception is CcieException already)
            {
                return already;
            }

            if (IsNoCredentials(exception))
            {
                return new CcieException(
                    "Aws.NoCredentials",
                    CcieErrorCategory.AuthenticationError,
                    $"{operation} failed for '{target}': no AWS credentials were found. " + NoCredentialsAdvice,
                    target,
                    exception);
            }

            if (exception is AmazonServiceException service)
            {
                string code = service.ErrorCode ?? string.Empty;
                CcieErrorCategory category = Categorize(code, service.StatusCode);
                string advice = Advice(category);
                string message = $"{operation} failed for '{target}': {service.Message} (AWS error {(code.Length == 0 ? ((int)service.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture) : code)}).{advice}";
                return new CcieException("Aws." + (code.Length == 0 ? "Http" + (int)service.StatusCode : code), category, message, target, exception);
            }

            // A lost connection reaches here as the transport's IOException ("Unable to read data from the transport
            // connection", a SocketException inside) when the SDK's retries ran out: the same advice as no answer.
            if (exception is TaskCanceledException or AmazonClientException || IsTransport(exception))
            {
                return new CcieException(
                    "AwsEndpointUnreachable",
                    CcieErrorCategory.ConnectionError,
                    $"{operation} failed for '{target}': the AWS endpoint could not be reached ({exception.Message}). Check network access, -Region and -EndpointUrl; the SDK already retried.",
                    target,
                    exception);
            }

            return new CcieException("UnexpectedError", CcieErrorCategory.NotSpecified, $"{operation} failed for '{target}': {exception.Message}", target, exception);
        }

        // Not any IOException: this mapper is also the cmdlets' last resort, and a full disk is no network problem.
        private static bool IsTransport(Exception? exception)
        {
            for (Exception? e = exception; e is not null; e = e.InnerException)
            {
                if (e is HttpRequestException or WebException or System.Net.Sockets.SocketException or TimeoutException || e.GetType().Name == "HttpIOException")
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>What to do when the SDK's credential chain found nothing.</summary>
        public const string NoCredentialsAdvice =
            "Give a profile with -ProfileName (or set AWS_PROFILE), set the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials), or create a profile with 'aws configure'. On EC2, attach an instance profile.";

        // The SDK's credential chain: v4's DefaultAWSCredentialsIdentityResolver ("Failed to resolve AWS
        // credentials. The credential providers used to search for credentials returned the following
        // errors: ...") and the older fallback factory ("Unable to find credentials"), both AmazonClientException.
        private static readonly string[] NoCredentialsMessages =
        {
            "Failed to resolve AWS credentials",
            "Unable to find credentials",
        };

        /// <summary>True when <paramref name="exception"/> (or an inner one) is the SDK's "no credentials anywhere" failure.</summary>
        public static bool IsNoCredentials(Exception? exception)
        {
            for (Exception? e = exception; e is not null; e = e.InnerException)
            {
                if (e is AmazonClientException or AmazonServiceException)
                {
                    foreach (string m in NoCredentialsMessages)
                    {
                        if ((e.Message ?? string.Empty).IndexOf(m, StringComparison.OrdinalIgnoreCase) >= 0)
                        {
                            return true;
                        }
                    }
                }
            }

            return false;
        }

        internal static CcieErrorCategory Categorize(string code, HttpStatusCode status)
        {
            if (code.EndsWith(".NotFound", StringComparison.Ordinal) || code.StartsWith("NoSuch", StringComparison.Ordinal) || code == "NotFound")
            {
                return CcieErrorCategory.ObjectNotFound;
            }

            switch (code)
            {
                case "UnauthorizedOperation":
                case "AccessDenied":
                case "AccessDeniedException":
                case "OptInRequired":
                    return CcieErrorCategory.PermissionDenied;
                case "AuthFailure":
                case "InvalidClientTokenId":
                case "SignatureDoesNotMatch":
                case "ExpiredToken":
                case "InvalidAccessKeyId":
                    return CcieErrorCategory.AuthenticationError;
                case "RequestLimitExceeded":
                case "Throttling":
                case "ThrottlingException":
                case "SlowDown":
                case "TooManyRequestsException":
                case "SnapshotCreationPerVolumeRateExceeded":
                case "InstanceLimitExceeded":
                case "VcpuLimitExceeded":
                    return CcieErrorCategory.LimitsExceeded;
                case "InsufficientInstanceCapacity":
                case "Unavailable":
                case "ServiceUnavailable":
                case "InternalError":
                case "Unsupported":
                    return CcieErrorCategory.ResourceUnavailable;
                case "IncorrectState":
                case "IncorrectInstanceState":
                    return CcieErrorCategory.InvalidOperation;
            }

            if (code.EndsWith(".InUse", StringComparison.Ordinal) || code.EndsWith(".Duplicate", StringComparison.Ordinal))
            {
                return CcieErrorCategory.ResourceExists;
            }

            if (code.StartsWith("Invalid", StringComparison.Ordinal) || code.EndsWith(".Malformed", StringComparison.Ordinal) || code == "MissingParameter" || code == "ValidationError")
            {
                return CcieErrorCategory.InvalidArgument;
            }

            int s = (int)status;
            if (s == 403)
            {
                return CcieErrorCategory.PermissionDenied;
            }

            if (s == 404)
            {
                return CcieErrorCategory.ObjectNotFound;
            }

            return s >= 500 ? CcieErrorCategory.ResourceUnavailable : CcieErrorCategory.NotSpecified;
        }

        private static string Advice(CcieErrorCategory category) => category switch
        {
            CcieErrorCategory.PermissionDenied => " The credentials in use lack this permission: grant it in IAM or use -ProfileName with a role that has it.",
            CcieErrorCategory.AuthenticationError => " Check the credentials (environment, -ProfileName, SSO session) and that the clock is right.",
            CcieErrorCategory.LimitsExceeded => " AWS is throttling or a quota is reached; the SDK retried with backoff. Wait and rerun, or raise the quota.",
            CcieErrorCategory.ResourceUnavailable => " AWS reported a temporary or capacity problem; rerun later or choose another subnet/AZ.",
            _ => string.Empty,
        };
    }
}
