using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using CcieDr.Engine.Archive.Backup;
using CcieDr.Engine.Archive.Retention;
using CcieDr.Engine.Archive.Storage;
using CcieDr.Engine.Recovery;
using Xunit;

namespace CcieDr.Engine.Tests.Infrastructure;

/// <summary>
/// The S3 fault matrix: every mutating S3 call of the data backup straight to S3 (CreateMultipartUpload, UploadPart,
/// CompleteMultipartUpload, and AbortMultipartUpload as the clean-up of a backup whose every UploadPart fails), of the
/// backup catalog (PutObject of a test record) and of removal by retention (DeleteObject of an archive and its record)
/// × {throttle, internal-error, drop-after, timeout} × {once, persistent}: 6 × 4 × 2 = 48 cells, injected by
/// <see cref="S3FaultProxy"/> between the engine's S3 client (standard retries, 2 SDK retries) and s3rver.
/// A cell passes when the operation completes (once; and drop-after on CompleteMultipartUpload even persistently: the
/// object is recognised by its upload token and size) or fails with a CcieException whose id is the operation's
/// (BackupFailed, BackupRemoveFailed, Aws.SlowDown / Aws.InternalError / AwsEndpointUnreachable) and whose message
/// names the S3 call and the AWS error; when afterwards the final key holds a whole object byte-identical to a local
/// backup of the same tree, or nothing, and s3rver itself lists no multipart upload (an abort that keeps failing is
/// reported with the one upload left, which the test then removes as the message says); and when a rerun (faults gone)
/// leaves exactly the expected objects: one archive byte-identical to the local backup, one whole record, only the
/// kept archive. Plus Ctrl+C under a slow CreateMultipartUpload, UploadPart or CompleteMultipartUpload: the backup
/// ends with OperationCanceledException within 10 s, the slow call never reaches s3rver, no object and no upload
/// remain, and a rerun leaves one good archive. DeleteObjects is made by no engine operation, so it has no cell.
/// </summary>
[Collection(S3rverTests.Name)]
public sealed class S3FaultMatrixTests
{
    private const int Persistent = 1000;
    private const int ShortTimeoutMs = 600;
    private static readonly DateTimeOffset BackupTime = new(2026, 11, 28, 15, 0, 0, TimeSpan.Zero);
    private static readonly Lazy<(string Tree, byte[] Archive)> Reference = new(BuildReference);

    private readonly S3rverFixture s3;

    static S3FaultMatrixTests()
    {
        Environment.SetEnvironmentVariable("CCIEDR_POLL_SCALE", "0.02");
    }

    public S3FaultMatrixTests(S3rverFixture s3) => this.s3 = s3;

    /// <summary>The operations and the S3 call each one's fault is put on.</summary>
    public static readonly IReadOnlyDictionary<string, string> Operations = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["backup-create-upload"] = "CreateMultipartUpload",
        ["backup-upload-part"] = "UploadPart",
        ["backup-complete-upload"] = "CompleteMultipartUpload",
        ["backup-abort-upload"] = "AbortMultipartUpload", // the clean-up of a backup whose every UploadPart fails
        ["record-test"] = "PutObject",
        ["remove-by-retention"] = "DeleteObject",
    };

    public static TheoryData<string, string, string> Cells()
    {
        var data = new TheoryData<string, string, string>();
        foreach (string op in Operations.Keys)
        {
            foreach (string fault in new[] { S3FaultProxy.Throttle, S3FaultProxy.InternalError, S3FaultProxy.DropAfter, S3FaultProxy.Timeout })
            {
                data.Add(op, fault, "once");
                data.Add(op, fault, "persistent");
            }
        }

        return data;
    }

    public static TheoryData<string> BackupOperations() => new() { "backup-create-upload", "backup-upload-part", "backup-complete-upload" };

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task Completes_or_fails_clearly_and_a_rerun_leaves_exactly_the_expected_objects(string operation, string fault, string dose)
    {
        await using Cell cell = await Cell.StartAsync(s3, operation, fault == S3FaultProxy.Timeout ? ShortTimeoutMs : 30_000);
        string action = Operations[operation];
        cell.Proxy.Inject(action, fault, dose == "once" ? 1 : Persistent, holdMilliseconds: ShortTimeoutMs * 3);
        bool aborting = action == "AbortMultipartUpload";
        if (aborting)
        {
            cell.Proxy.Inject("UploadPart", S3FaultProxy.InternalError, Persistent);
        }

        Failure? failure = await cell.RunAsync(CancellationToken.None);

        Assert.True(cell.Proxy.Served(action, fault) >= 1, $"the {fault} fault on {action} was never served");
        bool mustComplete = dose == "once" || (action == "CompleteMultipartUpload" && fault == S3FaultProxy.DropAfter);
        if (aborting)
        {
            // The backup fails (its parts do); the abort either got through (once; drop-after: it happened, and
            // ListParts says so) or is reported with the upload to remove, which must be the one left.
            Assert.True(failure is not null, "the backup succeeded although every UploadPart failed");
            Assert.Equal("BackupFailed", failure.ErrorId);
            Assert.Contains("s3:UploadPart", failure.Message, StringComparison.Ordinal);
            bool abortReported = dose == "persistent" && fault != S3FaultProxy.DropAfter;
            Assert.True(abortReported == failure.Message.Contains("s3:AbortMultipartUpload", StringComparison.Ordinal), $"the abort failure is {(abortReported ? "not " : string.Empty)}reported: {failure.Message}");
            Assert.True(abortReported != failure.Message.Contains("Nothing was left at the destination", StringComparison.Ordinal), $"the message says nothing was left although parts were: {failure.Message}");
            if (abortReported)
            {
                await cell.RemoveReportedUploadAsync(failure.Message); // what the message tells the operator to do
            }
        }
        else if (mustComplete)
        {
            Assert.True(failure is null, $"{dose} {fault} on {action} should not fail {operation}: {failure?.ErrorId}: {failure?.Message}");
        }
        else
        {
            Assert.True(failure is not null, $"{operation} succeeded although every {action} call met {fault}");
            Assert.Contains("s3:" + action, failure.Message, StringComparison.Ordinal);
            Assert.True(ExpectedErrorId(operation, fault) == failure.ErrorId, $"expected {ExpectedErrorId(operation, fault)}, got {failure.ErrorId}: {failure.Message}");
            Assert.True(failure.Message.Contains(ExpectedCause(fault), StringComparison.Ordinal), $"the message does not say {ExpectedCause(fault)}: {failure.Message}");
        }

        await cell.AssertNoPartialStateAsync(completed: failure is null);

        cell.Proxy.ClearFaults();
        Failure? rerun = await cell.RunAsync(CancellationToken.None);

        Assert.True(rerun is null, $"the rerun of {operation} failed: {rerun?.Message}");
        await cell.AssertExpectedAsync();
    }

    [Theory]
    [MemberData(nameof(BackupOperations))]
    public async Task Ctrl_C_during_a_slow_call_stops_at_once_aborts_the_upload_and_a_rerun_finishes_the_job(string operation)
    {
        await using Cell cell = await Cell.StartAsync(s3, operation, 30_000);
        string action = Operations[operation];
        cell.Proxy.Inject(action, S3FaultProxy.Delay, 1, holdMilliseconds: 60_000);
        using var cts = new CancellationTokenSource();

        Task<Failure?> running = cell.RunAsync(cts.Token);
        for (int i = 0; cell.Proxy.Served(action, S3FaultProxy.Delay) == 0; i++)
        {
            Assert.False(running.IsCompleted, $"{operation} ended before calling {action}: {(running.IsCompleted ? (await running)?.Message : null)}");
            Assert.True(i < 3000, $"{action} was never called");
            await Task.Delay(10);
        }

        cts.Cancel();
        Task first = await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(10)));

        Assert.True(first == running, $"{operation} did not end within 10 s of Ctrl+C (the slow call holds 60 s)");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        for (int i = 0; cell.Proxy.ClientCancelled(action) == 0; i++)
        {
            Assert.True(i < 500, $"the slow {action} was not hung up by the client: the proxy still holds it");
            await Task.Delay(10);
        }

        await cell.AssertNoPartialStateAsync(completed: false);

        cell.Proxy.ClearFaults();
        Failure? rerun = await cell.RunAsync(CancellationToken.None);

        Assert.True(rerun is null, $"the rerun of {operation} after Ctrl+C failed: {rerun?.Message}");
        await cell.AssertExpectedAsync();
    }

    [Fact]
    public void The_proxy_classifies_S3_calls_by_method_and_query()
    {
        Assert.Equal("CreateMultipartUpload", S3FaultProxy.Classify("POST", "/b/k?uploads"));
        Assert.Equal("UploadPart", S3FaultProxy.Classify("PUT", "/b/k?partNumber=1&uploadId=x"));
        Assert.Equal("CompleteMultipartUpload", S3FaultProxy.Classify("POST", "/b/k?uploadId=x"));
        Assert.Equal("AbortMultipartUpload", S3FaultProxy.Classify("DELETE", "/b/k?uploadId=x"));
        Assert.Equal("DeleteObjects", S3FaultProxy.Classify("POST", "/b?delete"));
        Assert.Equal("DeleteObject", S3FaultProxy.Classify("DELETE", "/b/k"));
        Assert.Equal("PutObject", S3FaultProxy.Classify("PUT", "/b/k"));
        Assert.Equal("ListMultipartUploads", S3FaultProxy.Classify("GET", "/b?uploads&prefix=k"));
    }

    private static string ExpectedErrorId(string operation, string fault)
    {
        if (operation.StartsWith("backup-", StringComparison.Ordinal))
        {
            return "BackupFailed";
        }

        if (operation == "remove-by-retention")
        {
            return "BackupRemoveFailed";
        }

        return fault switch
        {
            S3FaultProxy.Throttle => "Aws.SlowDown",
            S3FaultProxy.InternalError => "Aws.InternalError",
            _ => "AwsEndpointUnreachable",
        };
    }

    private static string ExpectedCause(string fault) => fault switch
    {
        S3FaultProxy.Throttle => "SlowDown",
        S3FaultProxy.InternalError => "InternalError",
        _ => string.Empty, // the transport's own words: the id (or the call's name) carries it
    };

    /// <summary>A small data tree and its archive backed up locally: what every S3 archive must equal byte for byte.</summary>
    private static (string Tree, byte[] Archive) BuildReference()
    {
        string root = Path.Combine(Path.GetTempPath(), "ccie-s3fault-" + Guid.NewGuid().ToString("N")[..8]);
        string tree = Path.Combine(root, "data");
        Directory.CreateDirectory(Path.Combine(tree, "mongo"));
        Directory.CreateDirectory(Path.Combine(tree, "postgres", "base"));
        File.WriteAllBytes(Path.Combine(tree, "mongo", "collection-1.wt"), Archive.BackupTestSupport.TextLike(200_000, 1));
        File.WriteAllBytes(Path.Combine(tree, "postgres", "base", "random"), Archive.BackupTestSupport.Random(100_000, 2));
        File.WriteAllText(Path.Combine(tree, "postgres", "PG_VERSION"), "15\n");
        string local = Path.Combine(root, "local");
        Directory.CreateDirectory(local);
        DataBackupResult r = new DataBackup().RunAsync(Options(tree, local)).GetAwaiter().GetResult();
        return (tree, File.ReadAllBytes(r.Location));
    }

    private static DataBackupOptions Options(string tree, string destination)
    {
        DataBackupOptions o = Archive.BackupTestSupport.Options(tree, destination);
        o.Clock = () => BackupTime;
        o.S3PartSize = S3UploadOptions.MinPartSize;
        return o;
    }

    /// <summary>How an operation failed: a CcieException's id and message.</summary>
    internal sealed record Failure(string? ErrorId, string Message);

    /// <summary>One cell's proxy, client and prefix, the objects the operation starts from, the operation, and what must exist after it.</summary>
    private sealed class Cell : IAsyncDisposable
    {
        private const string Bucket = S3rverFixture.BucketName;
        private const string OldArchive = "circleci-data-export-20261101T000000Z.tar.bz2";
        private const string NewArchive = "circleci-data-export-20261102T000000Z.tar.bz2";
        private readonly S3rverFixture s3;
        private readonly string operation;
        private readonly string prefix = "fm-" + Guid.NewGuid().ToString("N")[..8] + "/";
        private AmazonS3Client client = null!;

        private Cell(S3rverFixture s3, string operation)
        {
            this.s3 = s3;
            this.operation = operation;
        }

        public S3FaultProxy Proxy { get; private set; } = null!;

        private IAmazonS3 Direct => s3.Client;

        private string ArchiveKey => prefix + DataBackupOptions.DefaultFileName;

        public static async Task<Cell> StartAsync(S3rverFixture s3, string operation, int timeoutMs)
        {
            var cell = new Cell(s3, operation) { Proxy = new S3FaultProxy(s3.Port) };
            cell.client = new AmazonS3Client(new BasicAWSCredentials("S3RVER", "S3RVER"), new AmazonS3Config
            {
                ServiceURL = cell.Proxy.ServiceUrl,
                ForcePathStyle = true,
                AuthenticationRegion = "us-east-1",
                RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
                ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
                RetryMode = RequestRetryMode.Standard,
                MaxErrorRetry = 2,
                Timeout = TimeSpan.FromMilliseconds(timeoutMs),
            });
            _ = Reference.Value;
            switch (operation)
            {
                case "record-test":
                    await PutArchiveAsync(s3.Client, cell.prefix + NewArchive);
                    break;
                case "remove-by-retention":
                    await PutArchiveAsync(s3.Client, cell.prefix + OldArchive);
                    await PutArchiveAsync(s3.Client, cell.prefix + NewArchive);
                    await s3.Client.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = cell.prefix + OldArchive + BackupTestRecord.Suffix, ContentBody = Record().ToJson() });
                    break;
            }

            return cell;
        }

        /// <summary>Runs the operation once; null when it completed.</summary>
        public async Task<Failure?> RunAsync(CancellationToken ct)
        {
            try
            {
                await RunOnceAsync(ct);
                return null;
            }
            catch (CcieException e)
            {
                return new Failure(e.ErrorId, e.Message);
            }
        }

        /// <summary>Asserts the one upload left is the one <paramref name="message"/> names, and aborts it on s3rver directly.</summary>
        public async Task RemoveReportedUploadAsync(string message)
        {
            ListMultipartUploadsResponse uploads = await Direct.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = Bucket, Prefix = prefix });
            MultipartUpload left = Assert.Single(uploads.MultipartUploads ?? new List<MultipartUpload>());
            Assert.Contains("--upload-id " + left.UploadId, message, StringComparison.Ordinal);
            await Direct.AbortMultipartUploadAsync(Bucket, left.Key, left.UploadId);
        }

        /// <summary>After the faulted run: a whole object or none under the final key, and no multipart upload.</summary>
        public async Task AssertNoPartialStateAsync(bool completed)
        {
            await AssertNoUploadsAsync();
            if (!operation.StartsWith("backup-", StringComparison.Ordinal))
            {
                return;
            }

            byte[]? body = await GetOrNullAsync(ArchiveKey);
            if (completed)
            {
                Assert.True(body is not null, "the backup completed but there is no object under its key");
            }

            if (body is not null)
            {
                Assert.True(Reference.Value.Archive.AsSpan().SequenceEqual(body), $"the object under {ArchiveKey} is not the archive ({body.Length} bytes, expected {Reference.Value.Archive.Length})");
            }

            if (!completed)
            {
                Assert.True(body is null, $"the backup failed but left an object under {ArchiveKey}");
            }
        }

        public async Task AssertExpectedAsync()
        {
            await AssertNoUploadsAsync();
            List<string> keys = await KeysAsync();
            switch (operation)
            {
                case "record-test":
                    {
                        Assert.Equal(new[] { prefix + NewArchive, prefix + NewArchive + BackupTestRecord.Suffix }, keys);
                        string json = System.Text.Encoding.UTF8.GetString((await GetOrNullAsync(keys[1]))!);
                        BackupTestRecord? read = BackupTestRecord.Parse(json);
                        Assert.True(read is not null && read.Passed && read.Size == Reference.Value.Archive.Length, "the test record is not whole: " + json);
                        break;
                    }

                case "remove-by-retention":
                    Assert.Equal(new[] { prefix + NewArchive }, keys); // the old archive and its record are gone, the newest kept
                    break;
                default:
                    Assert.Equal(new[] { ArchiveKey }, keys);
                    byte[] body = (await GetOrNullAsync(ArchiveKey))!;
                    Assert.True(Reference.Value.Archive.AsSpan().SequenceEqual(body), "the archive is not byte-identical to the local backup of the same tree");
                    break;
            }
        }

        public async ValueTask DisposeAsync()
        {
            client.Dispose();
            await Proxy.DisposeAsync();
        }

        private async Task RunOnceAsync(CancellationToken ct)
        {
            switch (operation)
            {
                case "record-test":
                    await Record().WriteAsync($"s3://{Bucket}/{prefix}{NewArchive}", client, ct);
                    return;
                case "remove-by-retention":
                    {
                        var remover = new DataBackupRemover(client);
                        IReadOnlyList<DataBackupRemoval> plan = await remover.PlanAsync($"s3://{Bucket}/{prefix}", new RetentionOptions { KeepLast = 1 }, verify: false, BackupTime, ct);
                        foreach (DataBackupRemoval d in plan.Where(d => !d.Keep))
                        {
                            await remover.RemoveAsync(d, ct);
                        }

                        return;
                    }

                default:
                    {
                        DataBackupOptions o = Options(Reference.Value.Tree, $"s3://{Bucket}/{prefix}");
                        try
                        {
                            DataBackupResult r = await new DataBackup(client).RunAsync(o, ct);
                            Assert.Equal(Reference.Value.Archive.Length, r.ArchiveSize);
                        }
                        catch (DataBackupException e)
                        {
                            throw DataBackupPlan.Create(o, BackupTime).ToError(e); // what Backup-CcieData reports
                        }

                        return;
                    }
            }
        }

        private static BackupTestRecord Record() => new()
        {
            Archive = NewArchive,
            TestedAt = BackupTime,
            Verdict = "Passed",
            Size = Reference.Value.Archive.Length,
            Members = 5,
        };

        private static async Task PutArchiveAsync(IAmazonS3 direct, string key)
        {
            var put = new PutObjectRequest { BucketName = Bucket, Key = key, InputStream = new MemoryStream(Reference.Value.Archive), UseChunkEncoding = false };
            put.Metadata["ccie-manifest"] = "yes";
            await direct.PutObjectAsync(put);
        }

        private async Task AssertNoUploadsAsync()
        {
            ListMultipartUploadsResponse uploads = await Direct.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = Bucket, Prefix = prefix });
            Assert.True((uploads.MultipartUploads ?? new List<MultipartUpload>()).Count == 0, "orphaned multipart uploads: " + string.Join(", ", (uploads.MultipartUploads ?? new List<MultipartUpload>()).Select(u => u.Key + " " + u.UploadId)));
        }

        private async Task<List<string>> KeysAsync()
        {
            ListObjectsV2Response r = await Direct.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix });
            return (r.S3Objects ?? new List<S3Object>()).Select(o => o.Key).OrderBy(k => k, StringComparer.Ordinal).ToList();
        }

        private async Task<byte[]?> GetOrNullAsync(string key)
        {
            try
            {
                using GetObjectResponse r = await Direct.GetObjectAsync(Bucket, key);
                using var ms = new MemoryStream();
                await r.ResponseStream.CopyToAsync(ms);
                return ms.ToArray();
            }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }
        }
    }
}
