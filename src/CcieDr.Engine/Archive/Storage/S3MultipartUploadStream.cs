using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using CcieDr.Engine.Aws;

namespace CcieDr.Engine.Archive.Storage
{
    /// <summary>Options of <see cref="S3MultipartUploadStream"/>.</summary>
    public sealed class S3UploadOptions
    {
        /// <summary>Minimum part size S3 accepts (except for the last part).</summary>
        public const int MinPartSize = 5 * 1024 * 1024;

        /// <summary>Bytes per part (default 16 MiB; at least 5 MiB). Grown automatically past part 10,000 is impossible, so set <see cref="ExpectedSize"/> for huge objects.</summary>
        public int PartSize { get; set; } = 16 * 1024 * 1024;

        /// <summary>Parts uploading at once (default 2). Memory is about (this + 1) × <see cref="PartSize"/>.</summary>
        public int MaxPartsInFlight { get; set; } = 2;

        /// <summary>Attempts per part (default 4) before the whole upload is aborted.</summary>
        public int MaxAttempts { get; set; } = 4;

        /// <summary>Backoff before the first retry, doubled for each further one (at most 30 s); each delay is jittered between half and all of it (<see cref="Aws.AwsRetryPolicy"/>), and shortened by CCIEDR_POLL_SCALE as every retry delay is.</summary>
        public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(500);

        /// <summary>Server-side encryption: "AES256" (default), "aws:kms" (set with <see cref="KmsKeyId"/>) or null for none.</summary>
        public string? ServerSideEncryption { get; set; } = "AES256";

        /// <summary>KMS key id or ARN; implies "aws:kms".</summary>
        public string? KmsKeyId { get; set; }

        /// <summary>Content type of the object.</summary>
        public string ContentType { get; set; } = "application/x-bzip2";

        /// <summary>User metadata (stored as x-amz-meta-*).</summary>
        public IDictionary<string, string> Metadata { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        /// <summary>Expected object size, if known: the part size grows so the upload stays under 10,000 parts.</summary>
        public long? ExpectedSize { get; set; }

        /// <summary>Test hook: runs before each part attempt (part number, attempt); throwing simulates a failed attempt.</summary>
        internal Func<int, int, Task>? BeforePartAttempt { get; set; }
    }

    /// <summary>The multipart upload could not be aborted: no object was written, but its parts remain (the message says how to remove them).</summary>
    public sealed class S3UploadNotAbortedException : IOException
    {
        /// <summary>Creates the exception.</summary>
        public S3UploadNotAbortedException(string message, Exception? inner)
            : base(message, inner)
        {
        }
    }

    /// <summary>
    /// Write-only stream that uploads what is written to it as an S3 multipart upload with bounded memory
    /// (parts of <see cref="S3UploadOptions.PartSize"/>, at most <see cref="S3UploadOptions.MaxPartsInFlight"/>
    /// uploading). Each part is retried; the object only comes into existence on <see cref="CompleteAsync"/>.
    /// Any failure, cancellation, or disposal before completion ABORTS the multipart upload, so no partial
    /// object and no orphaned parts remain. A failed call is reported with its S3 action (s3:CreateMultipartUpload,
    /// s3:UploadPart, s3:CompleteMultipartUpload). Lost answers are recovered: an upload S3 created while the answer to
    /// CreateMultipartUpload was lost (the SDK retried and got another) is aborted, and a CompleteMultipartUpload whose
    /// answer was lost (its retry says NoSuchUpload) counts as done when the object under the key carries this
    /// stream's upload token and size.
    /// </summary>
    public sealed class S3MultipartUploadStream : Stream
    {
        private const int MaxParts = 10000;

        private readonly IAmazonS3 _s3;
        private readonly S3UploadOptions _options;
        private const int AbortAttempts = 5;
        private const string UploadTokenKey = "ccie-upload-token";
        private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);
        private static readonly TimeSpan AbortGracePeriod = TimeSpan.FromSeconds(30);

        private readonly CancellationTokenSource _cts;
        private readonly CancellationTokenSource _hardCts = new CancellationTokenSource();
        private readonly List<Task<PartETag>> _inFlight = new List<Task<PartETag>>();
        private readonly List<PartETag> _done = new List<PartETag>();
        private readonly int _partSize;
        private byte[] _buffer;
        private int _bufferLength;
        private int _nextPart = 1;
        private string? _uploadId;
        private DateTime? _initiateStarted;
        private readonly string _uploadToken = Guid.NewGuid().ToString("N");
        private bool _completed;
        private bool _aborted;
        private bool _disposed;

        /// <summary>Creates the stream; the multipart upload starts with the first part (or <see cref="InitiateAsync"/>).</summary>
        public S3MultipartUploadStream(IAmazonS3 s3, string bucket, string key, S3UploadOptions? options = null, CancellationToken cancellationToken = default)
        {
            _s3 = s3 ?? throw new ArgumentNullException(nameof(s3));
            BucketName = string.IsNullOrEmpty(bucket) ? throw new ArgumentException("A bucket name is required.", nameof(bucket)) : bucket;
            Key = string.IsNullOrEmpty(key) ? throw new ArgumentException("An object key is required.", nameof(key)) : key;
            _options = options ?? new S3UploadOptions();
            if (_options.PartSize < S3UploadOptions.MinPartSize)
            {
                throw new ArgumentOutOfRangeException(nameof(options), $"PartSize must be at least {S3UploadOptions.MinPartSize} bytes.");
            }

            var partSize = (long)_options.PartSize;
            if (_options.ExpectedSize is { } expected && expected / partSize >= MaxParts - 100)
            {
                partSize = Math.Min(5L * 1024 * 1024 * 1024, (expected / (MaxParts - 100)) + 1);
            }

            _partSize = (int)Math.Min(int.MaxValue - 64, partSize);
            _cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _buffer = new byte[_partSize];
        }

        /// <summary>Bucket.</summary>
        public string BucketName { get; }

        /// <summary>Object key.</summary>
        public string Key { get; }

        /// <summary>Multipart upload id once initiated.</summary>
        public string? UploadId => _uploadId;

        /// <summary>Bytes accepted by <see cref="Write"/>.</summary>
        public long BytesWritten { get; private set; }

        /// <summary>Parts uploaded successfully so far.</summary>
        public int PartsUploaded
        {
            get
            {
                lock (_done)
                {
                    return _done.Count;
                }
            }
        }

        /// <summary>Part size in use.</summary>
        public int PartSize => _partSize;

        /// <summary>ETag of the completed object.</summary>
        public string? ETag { get; private set; }

        /// <inheritdoc/>
        public override bool CanRead => false;

        /// <inheritdoc/>
        public override bool CanSeek => false;

        /// <inheritdoc/>
        public override bool CanWrite => !_completed && !_aborted && !_disposed;

        /// <inheritdoc/>
        public override long Length => throw new NotSupportedException();

        /// <inheritdoc/>
        public override long Position
        {
            get => BytesWritten;
            set => throw new NotSupportedException();
        }

        /// <summary>Starts the multipart upload (done automatically by the first part otherwise).</summary>
        public async Task InitiateAsync(CancellationToken cancellationToken = default)
        {
            if (_uploadId != null)
            {
                return;
            }

            var request = new InitiateMultipartUploadRequest
            {
                BucketName = BucketName,
                Key = Key,
                ContentType = _options.ContentType,
            };
            if (!string.IsNullOrEmpty(_options.KmsKeyId))
            {
                request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.AWSKMS;
                request.ServerSideEncryptionKeyManagementServiceKeyId = _options.KmsKeyId;
            }
            else if (!string.IsNullOrEmpty(_options.ServerSideEncryption))
            {
                request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.FindValue(_options.ServerSideEncryption);
            }

            foreach (var kv in _options.Metadata)
            {
                request.Metadata[kv.Key] = kv.Value;
            }

            // The token tells this upload's object from any other under the key (see CompleteAsync).
            request.Metadata[UploadTokenKey] = _uploadToken;
            _initiateStarted ??= DateTime.UtcNow;
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token, cancellationToken);
            var response = await AwsCall.RunAsync("s3:CreateMultipartUpload", Uri, t => _s3.InitiateMultipartUploadAsync(request, t), linked.Token).ConfigureAwait(false);
            _uploadId = response.UploadId;
        }

        private string Uri => "s3://" + BucketName + "/" + Key;

        /// <inheritdoc/>
        public override void Write(byte[] buffer, int offset, int count)
        {
            ValidateWrite(buffer, offset, count);
            while (count > 0)
            {
                var n = Math.Min(count, _partSize - _bufferLength);
                Buffer.BlockCopy(buffer, offset, _buffer, _bufferLength, n);
                _bufferLength += n;
                offset += n;
                count -= n;
                BytesWritten += n;
                if (_bufferLength == _partSize)
                {
                    RunGuarded(() => StartPartAsync(isLast: false, CancellationToken.None)).GetAwaiter().GetResult();
                }
            }
        }

        /// <inheritdoc/>
        public override async Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            ValidateWrite(buffer, offset, count);
            while (count > 0)
            {
                var n = Math.Min(count, _partSize - _bufferLength);
                Buffer.BlockCopy(buffer, offset, _buffer, _bufferLength, n);
                _bufferLength += n;
                offset += n;
                count -= n;
                BytesWritten += n;
                if (_bufferLength == _partSize)
                {
                    await RunGuarded(() => StartPartAsync(isLast: false, cancellationToken)).ConfigureAwait(false);
                }
            }
        }

        /// <summary>Parts are uploaded as they fill; nothing else to flush before <see cref="CompleteAsync"/>.</summary>
        public override void Flush()
        {
        }

        /// <summary>Uploads the last part, waits for every part and completes the upload: only now does the object exist. On failure the upload is aborted and the exception rethrown.</summary>
        public async Task CompleteAsync(CancellationToken cancellationToken = default)
        {
            if (_completed)
            {
                return;
            }

            ThrowIfUnusable();
            await RunGuarded(async () =>
            {
                if (_bufferLength > 0 || _nextPart == 1)
                {
                    await StartPartAsync(isLast: true, cancellationToken).ConfigureAwait(false);
                }

                await WaitForAllAsync(cancellationToken).ConfigureAwait(false);
                List<PartETag> parts;
                lock (_done)
                {
                    parts = _done.OrderBy(p => p.PartNumber).ToList();
                }

                using var linked = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token, cancellationToken);
                try
                {
                    var response = await _s3.CompleteMultipartUploadAsync(
                        new CompleteMultipartUploadRequest
                        {
                            BucketName = BucketName,
                            Key = Key,
                            UploadId = _uploadId,
                            PartETags = parts,
                        },
                        linked.Token).ConfigureAwait(false);
                    ETag = response.ETag;
                }
                catch (Exception ex) when (!(ex is OperationCanceledException && linked.IsCancellationRequested))
                {
                    // The answer may have been lost after S3 completed the upload (the SDK's retry then meets
                    // NoSuchUpload, or every answer was lost): the object under the key says whether it did.
                    ETag = await CompletedObjectETagAsync(linked.Token).ConfigureAwait(false)
                        ?? throw AwsErrorMapper.Map(ex, "s3:CompleteMultipartUpload", Uri);
                }

                _completed = true;
                _buffer = Array.Empty<byte>();
            }).ConfigureAwait(false);
            await AbortStrayUploadsAsync().ConfigureAwait(false);
        }

        /// <summary>The ETag of the object under the key when it is this upload's (its token and size), else null.</summary>
        private async Task<string?> CompletedObjectETagAsync(CancellationToken cancellationToken)
        {
            try
            {
                var head = await _s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = BucketName, Key = Key }, cancellationToken).ConfigureAwait(false);
                return string.Equals(head.Metadata[UploadTokenKey], _uploadToken, StringComparison.Ordinal) && head.ContentLength == BytesWritten ? head.ETag : null;
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                return null;
            }
        }

        /// <summary>
        /// Aborts the other multipart uploads of this key started since this stream's first CreateMultipartUpload:
        /// ones S3 made while the SDK never heard the answer (it retried and got another). Best effort; a bucket
        /// lifecycle rule (AbortIncompleteMultipartUpload) removes whatever remains.
        /// </summary>
        private async Task AbortStrayUploadsAsync()
        {
            if (_initiateStarted is not { } since)
            {
                return;
            }

            try
            {
                var uploads = await _s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = BucketName, Prefix = Key }, CancellationToken.None).ConfigureAwait(false);
                foreach (var u in uploads.MultipartUploads ?? new List<MultipartUpload>())
                {
                    if (u.Key == Key && u.UploadId != _uploadId && (u.Initiated is null || u.Initiated.Value.ToUniversalTime() >= since - ClockSkew))
                    {
                        await _s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = BucketName, Key = Key, UploadId = u.UploadId }, CancellationToken.None).ConfigureAwait(false);
                    }
                }
            }
#pragma warning disable CA1031 // Best effort: the upload itself is complete or aborted either way.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }

        /// <summary>
        /// Cancels parts in flight and aborts the multipart upload (with retries, not cancellable), then checks that no
        /// part is left. Safe to call more than once; does nothing after a successful <see cref="CompleteAsync"/>.
        /// </summary>
        public async Task AbortAsync()
        {
            if (_completed || _aborted)
            {
                return;
            }

            _aborted = true;

            // Stop retries and new parts, but let a part whose body is already on the wire finish (for a bounded
            // time): a request cancelled on our side may still be completed by the server after the abort.
            _cts.Cancel();
            var pending = Task.WhenAll(_inFlight.ToArray());
            if (await Task.WhenAny(pending, Task.Delay(AbortGracePeriod)).ConfigureAwait(false) != pending)
            {
                _hardCts.Cancel();
            }

            try
            {
                await pending.ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Parts in flight are being abandoned: their outcome does not matter.
            catch (Exception)
#pragma warning restore CA1031
            {
            }

            _inFlight.Clear();
            _buffer = Array.Empty<byte>();
            await AbortStrayUploadsAsync().ConfigureAwait(false);
            if (_uploadId is null)
            {
                return;
            }

            // S3: parts still uploading while the abort happens may survive it; abort again until ListParts says
            // NoSuchUpload. This runs after a cancellation too (it is the clean-up), so it is not cancellable, but
            // it is bounded: AbortAttempts tries with short backoff.
            Exception? last = null;
            var scale = AwsRetryPolicy.PollScale() ?? 1;
            var policy = new AwsRetryPolicy { MaxAttempts = AbortAttempts, BaseDelay = TimeSpan.FromMilliseconds(200 * scale), MaxDelay = TimeSpan.FromSeconds(2 * scale) };
            try
            {
                if (await policy.UntilAsync((_, _) => AbortOnceAsync(), gone => gone, ex => AwsRetry.IsTransient(ex, CancellationToken.None), CancellationToken.None).ConfigureAwait(false))
                {
                    return;
                }
            }
#pragma warning disable CA1031 // Reported below with the advice to remove the upload by hand.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                last = ex;
            }

            var cause = last is null ? "parts kept reappearing" : AwsErrorMapper.Map(last, "s3:AbortMultipartUpload", Uri).Message;
            throw new S3UploadNotAbortedException($"Could not abort the multipart upload {_uploadId} of {Uri} ({cause}); remove it with s3:AbortMultipartUpload (aws s3api abort-multipart-upload --bucket {BucketName} --key {Key} --upload-id {_uploadId}) or a bucket lifecycle rule.", last);
        }

        /// <summary>One AbortMultipartUpload and a ListParts check: true when the upload is gone.</summary>
        private async Task<bool> AbortOnceAsync()
        {
            Exception? failure = null;
            try
            {
                await _s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = BucketName, Key = Key, UploadId = _uploadId }, CancellationToken.None).ConfigureAwait(false);
            }
            catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
            {
                return true;
            }
#pragma warning disable CA1031 // Rethrown below unless ListParts shows the abort happened (its answer was lost).
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failure = ex;
            }

            ListPartsResponse parts;
            try
            {
                parts = await _s3.ListPartsAsync(new ListPartsRequest { BucketName = BucketName, Key = Key, UploadId = _uploadId }, CancellationToken.None).ConfigureAwait(false);
            }
            catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
            {
                return true;
            }
#pragma warning disable CA1031 // Best effort check: after an abort that answered, the upload is taken as gone.
            catch (Exception) when (failure is null)
#pragma warning restore CA1031
            {
                return true;
            }
#pragma warning disable CA1031 // Neither call answered: the abort's own failure is the one to retry or report.
            catch (Exception)
#pragma warning restore CA1031
            {
                parts = null!;
            }

            if (failure != null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
            }

            return parts.Parts is null || parts.Parts.Count == 0;
        }

        /// <inheritdoc/>
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        /// <inheritdoc/>
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        /// <inheritdoc/>
        public override void SetLength(long value) => throw new NotSupportedException();

        /// <summary>Aborts the upload unless <see cref="CompleteAsync"/> succeeded.</summary>
        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                _disposed = true;
                if (!_completed)
                {
                    try
                    {
                        Task.Run(AbortAsync).GetAwaiter().GetResult();
                    }
#pragma warning disable CA1031 // Dispose must not mask the exception that caused it; call AbortAsync to observe failures.
                    catch (Exception)
#pragma warning restore CA1031
                    {
                    }
                }

                _cts.Dispose();
                _hardCts.Dispose();
            }

            base.Dispose(disposing);
        }

        private void ValidateWrite(byte[] buffer, int offset, int count)
        {
            if (buffer is null)
            {
                throw new ArgumentNullException(nameof(buffer));
            }

            if (offset < 0 || count < 0 || offset + count > buffer.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(count));
            }

            ThrowIfUnusable();
        }

        private void ThrowIfUnusable()
        {
            if (_disposed)
            {
                throw new ObjectDisposedException(nameof(S3MultipartUploadStream));
            }

            if (_aborted)
            {
                throw new InvalidOperationException($"The upload to s3://{BucketName}/{Key} was aborted.");
            }

            if (_completed)
            {
                throw new InvalidOperationException("The upload is already complete.");
            }

            _cts.Token.ThrowIfCancellationRequested();
        }

        private async Task RunGuarded(Func<Task> action)
        {
            try
            {
                await action().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                if (ex is OperationCanceledException)
                {
                    // Ctrl+C: stop parts on the wire at once (the abort below repeats until no part is left).
                    _hardCts.Cancel();
                }

                try
                {
                    await AbortAsync().ConfigureAwait(false);
                }
                catch (S3UploadNotAbortedException abortFailure) when (!(ex is OperationCanceledException))
                {
                    // Both matter: why the upload stopped, and that its parts are still there.
                    throw new S3UploadNotAbortedException(ex.Message + " " + abortFailure.Message, ex);
                }

                throw;
            }
        }

        private async Task StartPartAsync(bool isLast, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _cts.Token.ThrowIfCancellationRequested();
            if (_nextPart > MaxParts)
            {
                throw new IOException($"The upload exceeds {MaxParts} parts of {_partSize} bytes; set an expected size so larger parts are used.");
            }

            await InitiateAsync(cancellationToken).ConfigureAwait(false);

            // Bounded memory: wait for a slot before handing over this buffer.
            while (_inFlight.Count >= Math.Max(1, _options.MaxPartsInFlight))
            {
                var finished = await WhenAnyAsync(cancellationToken).ConfigureAwait(false);
                _inFlight.Remove(finished);
                await finished.ConfigureAwait(false); // Rethrows a part's final failure.
            }

            var data = _buffer;
            var length = _bufferLength;
            var partNumber = _nextPart++;
            _inFlight.Add(Task.Run(() => UploadPartWithRetriesAsync(partNumber, data, length, isLast)));
            _buffer = isLast ? Array.Empty<byte>() : new byte[_partSize];
            _bufferLength = 0;

            // Surface a failure early rather than at the next slot wait.
            foreach (var t in _inFlight.Where(t => t.IsFaulted).ToList())
            {
                await t.ConfigureAwait(false);
            }
        }

        private async Task WaitForAllAsync(CancellationToken cancellationToken)
        {
            while (_inFlight.Count > 0)
            {
                var finished = await WhenAnyAsync(cancellationToken).ConfigureAwait(false);
                _inFlight.Remove(finished);
                await finished.ConfigureAwait(false);
            }
        }

        /// <summary>The first part in flight to finish; a cancellation (of the caller or of the stream) ends the wait at once.</summary>
        private async Task<Task<PartETag>> WhenAnyAsync(CancellationToken cancellationToken)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token, cancellationToken);
            var cancelled = Task.Delay(Timeout.Infinite, linked.Token);
            var first = await Task.WhenAny(_inFlight.Cast<Task>().Append(cancelled)).ConfigureAwait(false);
            if (first == cancelled)
            {
                linked.Token.ThrowIfCancellationRequested();
            }

            return (Task<PartETag>)first;
        }

        private async Task<PartETag> UploadPartWithRetriesAsync(int partNumber, byte[] data, int length, bool isLast)
        {
            var token = _cts.Token;
            var scale = AwsRetryPolicy.PollScale() ?? 1;
            var policy = new AwsRetryPolicy { MaxAttempts = _options.MaxAttempts, BaseDelay = TimeSpan.FromMilliseconds(_options.RetryDelay.TotalMilliseconds * scale), MaxDelay = TimeSpan.FromSeconds(30 * scale) };
            var attempts = 0;
            try
            {
                return await policy.UntilAsync(
                    async (attempt, _) =>
                    {
                        attempts = attempt;
                        if (_options.BeforePartAttempt != null)
                        {
                            await _options.BeforePartAttempt(partNumber, attempt).ConfigureAwait(false);
                        }

                        using var body = new MemoryStream(data, 0, length, writable: false);
                        var response = await _s3.UploadPartAsync(
                            new UploadPartRequest
                            {
                                BucketName = BucketName,
                                Key = Key,
                                UploadId = _uploadId,
                                PartNumber = partNumber,
                                PartSize = length,
                                InputStream = body,
                                IsLastPart = isLast,
                                UseChunkEncoding = false,
                            },
                            _hardCts.Token).ConfigureAwait(false);
                        var etag = new PartETag(partNumber, response.ETag);
                        lock (_done)
                        {
                            _done.Add(etag);
                        }

                        return etag;
                    },
                    null,
                    ex => AwsRetry.IsTransient(ex, token),
                    token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && token.IsCancellationRequested))
            {
                var mapped = AwsErrorMapper.Map(ex, "s3:UploadPart", $"part {partNumber} of {Uri}");
                throw new IOException($"{mapped.Message} Gave up after {attempts} attempt(s).", ex);
            }
        }
    }
}
