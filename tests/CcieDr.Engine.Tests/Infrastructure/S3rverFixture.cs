using System.Diagnostics;
using Amazon.Runtime;
using Amazon.S3;
using Xunit;

namespace CcieDr.Engine.Tests.Infrastructure
{
    /// <summary>
    /// Starts s3rver (npm, pinned in tests/tools/s3rver/package.json) with node on 127.0.0.1 and a free port, in a
    /// temporary directory, with bucket <see cref="BucketName"/>; kills it by PID on dispose. Fails loudly (never
    /// skips) when node or s3rver is missing. s3rver accepts only the access key S3RVER / secret S3RVER.
    /// </summary>
    public sealed class S3rverFixture : IDisposable
    {
        public const string BucketName = "ccie-test";

        private readonly Process _process;

        public S3rverFixture()
        {
            var toolDir = FindToolDirectory();
            if (!File.Exists(Path.Combine(toolDir, "node_modules", "s3rver", "package.json")))
            {
                throw new InvalidOperationException(
                    $"s3rver is not installed in {toolDir}/node_modules. Run: npm ci --prefix {toolDir} (the CI script .ci/run does this).");
            }

            Directory = Path.Combine(Path.GetTempPath(), "ccie-s3rver-" + Guid.NewGuid().ToString("N")[..8]);
            System.IO.Directory.CreateDirectory(Directory);
            var psi = new ProcessStartInfo("node")
            {
                WorkingDirectory = toolDir,
                UseShellExecute = false,
                RedirectStandardInput = true, // server.js exits when this closes (test host gone).
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            psi.ArgumentList.Add(Path.Combine(toolDir, "server.js"));
            psi.ArgumentList.Add(Directory);
            psi.ArgumentList.Add(BucketName);
            try
            {
                _process = Process.Start(psi) ?? throw new InvalidOperationException("node did not start.");
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                throw new InvalidOperationException("Cannot run 'node' (Node.js is required by the S3 tests: apt-get install nodejs npm): " + ex.Message, ex);
            }

            var stderr = new System.Text.StringBuilder();
            _process.ErrorDataReceived += (_, e) => { lock (stderr) { stderr.AppendLine(e.Data); } };
            _process.BeginErrorReadLine();
            var lineTask = Task.Run(async () =>
            {
                string? line;
                while ((line = await _process.StandardOutput.ReadLineAsync()) != null)
                {
                    if (line.StartsWith("S3RVER_READY ", StringComparison.Ordinal))
                    {
                        return line;
                    }
                }

                return null;
            });
            if (!lineTask.Wait(TimeSpan.FromSeconds(30)) || lineTask.Result is null)
            {
                var err = stderr.ToString();
                Kill();
                throw new InvalidOperationException("s3rver did not start within 30 s: " + err);
            }

            Port = int.Parse(lineTask.Result.AsSpan("S3RVER_READY ".Length), System.Globalization.CultureInfo.InvariantCulture);
            Client = CreateClient();
        }

        public int Port { get; }

        public string Directory { get; }

        public string ServiceUrl => $"http://127.0.0.1:{Port}";

        public IAmazonS3 Client { get; }

        /// <summary>A client configured for s3rver (AWS SDK v4 emulator settings).</summary>
        public IAmazonS3 CreateClient()
        {
            var config = new AmazonS3Config
            {
                ServiceURL = ServiceUrl,
                ForcePathStyle = true,
                AuthenticationRegion = "us-east-1",
                RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
                ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
                MaxErrorRetry = 1,
            };
            return new AmazonS3Client(new BasicAWSCredentials("S3RVER", "S3RVER"), config);
        }

        public void Dispose()
        {
            Client.Dispose();
            Kill();
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private void Kill()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill();
                    _process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
            }

            _process.Dispose();
        }

        private static string FindToolDirectory()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "tests", "tools", "s3rver");
                if (File.Exists(Path.Combine(candidate, "package.json")))
                {
                    return candidate;
                }
            }

            throw new InvalidOperationException("tests/tools/s3rver/package.json not found above " + AppContext.BaseDirectory);
        }
    }

    [CollectionDefinition(Name)]
    public sealed class S3rverTests : ICollectionFixture<S3rverFixture>
    {
        public const string Name = "s3rver";
    }
}
