import ArgumentParser
import NIOCore
import NIOPosix

// Swift concurrency's jobs run on the event loops that do the scheduler's I/O, so a task that
// answers a socket read or writes to a connection stays on that loop's thread: a switch's
// round trips (API request, routers' acks, commit) hop between fewer threads. Installed
// before any task exists.
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

/// `Schedd.main()` from an async function: top-level code would pick the synchronous overload.
func runSchedd() async {
  await Schedd.main()
}
await runSchedd()
