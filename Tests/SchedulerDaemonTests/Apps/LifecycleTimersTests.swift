import Lifecycle
import SchedTestSupport
import SchedulerDaemon
import Synchronization
import Testing

@Suite("Lifecycle timers")
struct LifecycleTimersTests {
  @Test("a sleeping timer fires once after its delay; a cancelled or replaced one never does")
  func sleepingTimers() async {
    let timers = SleepingTimers()
    let fired = Mutex<[String]>([])
    let a = LifecycleTimer.keepWarm(app: "a", deployment: "d1")
    let b = LifecycleTimer.keepWarm(app: "b", deployment: "d1")
    // Delays far above a busy machine's pauses between two lines: the first timer must be
    // replaced before it is due, or this would test the machine's load, not the timers.
    timers.schedule(a, afterMillis: 400) { fired.withLock { $0.append("a first") } }
    timers.schedule(a, afterMillis: 450) { fired.withLock { $0.append("a again") } }
    timers.schedule(b, afterMillis: 400) { fired.withLock { $0.append("b") } }
    timers.cancel(b)
    #expect(await eventually(timeout: .seconds(5)) { fired.withLock { $0 } == ["a again"] })
    try? await Task.sleep(for: .milliseconds(100))
    #expect(fired.withLock { $0 } == ["a again"])
  }

  @Test("manual timers show what is pending and fire it on demand")
  func manualTimers() async {
    let timers = ManualTimers()
    let fired = Mutex(0)
    let timer = LifecycleTimer.keepWarm(app: "a", deployment: "d1")
    timers.schedule(timer, afterMillis: 400) { fired.withLock { $0 += 1 } }
    #expect(timers.scheduled == [timer: 400])
    await timers.fireAll()
    #expect(fired.withLock { $0 } == 1)
    #expect(timers.scheduled.isEmpty)
  }
}
