using System;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace CcieDr.Loading
{
    /// <summary>
    /// Entry point used by CcieDr.psm1. Loads the cmdlet assembly (and through it the engine and every
    /// third-party assembly) so that they cannot clash with other modules in the same session.
    /// This assembly stays in the default load context: it also holds the public output types.
    /// </summary>
    public static class ModuleLoader
    {
        /// <summary>Name of the assembly that holds the cmdlets.</summary>
        public const string CommandsAssemblyName = "CcieDr";

        private static readonly object Gate = new object();
        private static Assembly? _commands;

        /// <summary>
        /// PowerShell 7+: loads the cmdlet assembly into a private AssemblyLoadContext rooted at
        /// <paramref name="libDirectory"/>. Repeated calls return the same assembly.
        /// </summary>
        public static Assembly LoadIsolated(string libDirectory)
        {
            lock (Gate)
            {
                return _commands ??= LoadIntoPrivateContext(Path.GetFullPath(libDirectory));
            }
        }

        /// <summary>
        /// Windows PowerShell 5.1: no AssemblyLoadContext there, so dependencies are resolved from
        /// <paramref name="libDirectory"/> on demand through AppDomain.AssemblyResolve.
        /// </summary>
        private static Assembly LoadWithResolver(string libDirectory)
        {
            lock (Gate)
            {
                if (_commands is null)
                {
                    string dir = Path.GetFullPath(libDirectory);
                    AppDomain.CurrentDomain.AssemblyResolve += (_, args) => ResolveFrom(dir, args.Name);
                    _commands = Assembly.LoadFrom(Path.Combine(dir, CommandsAssemblyName + ".dll"));
                }

                return _commands;
            }
        }

        /// <summary>
        /// The one call CcieDr.psm1 makes before importing the cmdlets: remembers the format file (see
        /// <see cref="FormatFile"/>) and loads the cmdlet assembly from <c>bin/lib</c> under
        /// <paramref name="moduleRoot"/>, into a private load context where the runtime has one (PowerShell 7),
        /// else through an assembly resolver (Windows PowerShell 5.1, or CCIEDR_LOADER=resolver for diagnostics).
        /// Done here rather than in the script because every script statement costs start-up time.
        /// </summary>
        public static Assembly Load(string moduleRoot)
        {
            if (moduleRoot is null)
            {
                throw new ArgumentNullException(nameof(moduleRoot));
            }

            FormatFile = Path.Combine(moduleRoot, "CcieDr.format.ps1xml");
            string libDirectory = Path.Combine(moduleRoot, "bin", "lib");
            bool resolverAsked = string.Equals(Environment.GetEnvironmentVariable("CCIEDR_LOADER"), "resolver", StringComparison.OrdinalIgnoreCase);
            // In the core library on .NET (PowerShell 7); absent on .NET Framework (Windows PowerShell).
            bool hasLoadContexts = Type.GetType("System.Runtime.Loader.AssemblyLoadContext", throwOnError: false) != null;
            return hasLoadContexts && !resolverAsked ? LoadIsolated(libDirectory) : LoadWithResolver(libDirectory);
        }

        /// <summary>
        /// Makes every cmdlet of <paramref name="inner"/> (the cmdlet assembly imported as a nested module) an export
        /// of <paramref name="outer"/> (CcieDr itself), so that Get-Command -Module CcieDr, help, CmdletsToExport and
        /// Import-Module -Force behave as for any binary module. Both are PSModuleInfo; they are taken as object so
        /// that this assembly, which holds the output types, needs no PowerShell reference.
        /// </summary>
        public static void Export(object outer, object inner)
        {
            if (outer is null)
            {
                throw new ArgumentNullException(nameof(outer));
            }

            if (inner is null)
            {
                throw new ArgumentNullException(nameof(inner));
            }

            const BindingFlags Flags = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;
            MethodInfo add = outer.GetType().GetMethod("AddExportedCmdlet", Flags)
                ?? throw new InvalidOperationException("This PowerShell has no PSModuleInfo.AddExportedCmdlet: CcieDr cannot export its cmdlets.");
            var exported = (System.Collections.IDictionary?)inner.GetType().GetProperty("ExportedCmdlets")?.GetValue(inner)
                ?? throw new InvalidOperationException("The cmdlet assembly exported no cmdlets.");
            foreach (object cmdlet in exported.Values)
            {
                add.Invoke(outer, new[] { cmdlet });
            }
        }

        /// <summary>
        /// The module's format file, loaded by the first CcieDr cmdlet that runs in a runspace instead of through
        /// FormatsToProcess, so that Import-Module does not pay for PowerShell rebuilding its whole format table.
        /// </summary>
        internal static string? FormatFile { get; private set; }

        /// <summary>The load context name of an assembly (diagnostics and tests).</summary>
        public static string DescribeLoadContext(Assembly assembly)
        {
            if (assembly is null)
            {
                throw new ArgumentNullException(nameof(assembly));
            }

            return DescribeLoadContextCore(assembly);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static string DescribeLoadContextCore(Assembly assembly)
            => System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(assembly)?.ToString() ?? "(none)";

        // Kept in its own method so Windows PowerShell never JITs a reference to AssemblyLoadContext.
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static Assembly LoadIntoPrivateContext(string dir)
        {
            var context = new ModuleLoadContext(dir);
            return context.LoadFromAssemblyPath(Path.Combine(dir, CommandsAssemblyName + ".dll"));
        }

        private static Assembly? ResolveFrom(string dir, string fullName)
        {
            string simpleName = new AssemblyName(fullName).Name ?? string.Empty;
            string candidate = Path.Combine(dir, simpleName + ".dll");
            return File.Exists(candidate) ? Assembly.LoadFrom(candidate) : null;
        }
    }
}
