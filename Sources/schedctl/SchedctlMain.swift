import SchedCtlCommands

@main
enum SchedctlMain {
  static func main() async {
    await Schedctl.mainNamingUnknownCommands()
  }
}
