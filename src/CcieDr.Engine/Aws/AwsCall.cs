using System;
using System.Threading;
using System.Threading.Tasks;

namespace CcieDr.Engine.Aws
{
    /// <summary>
    /// The one error-wrapping helper: runs an AWS call and turns any failure but a cancellation into a
    /// <see cref="CcieException"/> through <see cref="AwsErrorMapper.Map"/>, once, instead of a catch at every call site.
    /// </summary>
    public static class AwsCall
    {
        /// <summary>Runs <paramref name="call"/>; a failure becomes the mapped error of <paramref name="operation"/> on <paramref name="target"/>.</summary>
        /// <param name="operation">The AWS action as an operator knows it, e.g. "ec2:DescribeSnapshots".</param>
        /// <param name="target">What the call was about (an id or a list of ids); shown in the error.</param>
        /// <param name="call">The call; receives <paramref name="ct"/>.</param>
        /// <param name="ct">Cancellation: once it is cancelled, an <see cref="OperationCanceledException"/> passes through unmapped.</param>
        public static async Task<T> RunAsync<T>(string operation, object? target, Func<CancellationToken, Task<T>> call, CancellationToken ct)
        {
            if (call is null)
            {
                throw new ArgumentNullException(nameof(call));
            }

            try
            {
                return await call(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // A cancellation the caller did not ask for is the SDK's own request timeout: mapped like one.
                throw AwsErrorMapper.Map(e, operation, target);
            }
        }

        /// <summary>Runs <paramref name="call"/>; a failure becomes the mapped error of <paramref name="operation"/> on <paramref name="target"/>.</summary>
        public static Task RunAsync(string operation, object? target, Func<CancellationToken, Task> call, CancellationToken ct)
        {
            if (call is null)
            {
                throw new ArgumentNullException(nameof(call));
            }

            return RunAsync<bool>(
                operation,
                target,
                async token =>
                {
                    await call(token).ConfigureAwait(false);
                    return true;
                },
                ct);
        }

        /// <summary>
        /// The collecting form, for operations that go on past one failed call and report every failure at the end
        /// (deleting many snapshots): runs <paramref name="call"/> and returns null when it succeeded, else its
        /// mapped error (the same one <see cref="RunAsync{T}"/> would throw). A cancellation still throws.
        /// </summary>
        public static async Task<CcieException?> TryRunAsync(string operation, object? target, Func<CancellationToken, Task> call, CancellationToken ct)
        {
            try
            {
                await RunAsync(operation, target, call, ct).ConfigureAwait(false);
                return null;
            }
            catch (CcieException e)
            {
                return e;
            }
        }
    }
}
