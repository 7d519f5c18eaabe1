import AgentCore
import SchedModel
import Testing

@Suite("Build transcript: the engine's build stream to lines, steps and a verdict")
struct BuildTranscriptTests {
  @Test("a build that ends with an image: steps, cached steps, the image id, lines as they end")
  func success() {
    var transcript = BuildTranscript()
    var shown: [String] = []
    for progress in [
      BuildProgress(stream: "Step 1/3 : FROM scratch\n"),
      BuildProgress(stream: " ---> \n"),
      BuildProgress(stream: "Step 2/3 : COPY busybox /bin/busybox\n ---> Using cache\n"),
      BuildProgress(stream: " ---> f05bdc6d2a08\nStep 3/3 : RUN make"),
      BuildProgress(stream: "\n ---> Running in 605b42338074\n"),
      BuildProgress(imageID: "sha256:abc"),
    ] {
      shown += transcript.take(progress)
    }
    #expect(shown.count == 7, "\(shown)")
    #expect(shown.contains("Step 3/3 : RUN make"), "a line split across messages is joined")
    #expect(transcript.step == 3)
    #expect(transcript.steps == 3)
    #expect(transcript.instruction == "RUN make")
    #expect(transcript.cachedSteps == 1)
    #expect(transcript.imageID == "sha256:abc")
    #expect(transcript.failure == nil)
  }

  @Test("a failed step: its number, instruction, message and the output's tail")
  func failure() {
    var transcript = BuildTranscript()
    _ = transcript.take(BuildProgress(stream: "Step 4/5 : RUN ./build.sh\n"))
    for index in 0..<40 { _ = transcript.take(BuildProgress(stream: "line \(index)\n")) }
    _ = transcript.take(
      BuildProgress(error: "The command '/bin/sh -c ./build.sh' returned a non-zero code: 2"))
    let failure = transcript.failure
    #expect(failure?.step == 4)
    #expect(failure?.steps == 5)
    #expect(failure?.instruction == "RUN ./build.sh")
    #expect(failure?.message.contains("non-zero code: 2") == true)
    #expect(failure?.tail.count == BuildTranscript.tailLines)
    #expect(failure?.tail.contains("line 39") == true)
    #expect(failure?.tail.contains("line 0") == false)
    #expect(
      failure?.summary
        == "step 4/5 (RUN ./build.sh): The command '/bin/sh -c ./build.sh' returned a non-zero code: 2"
    )
  }

  @Test("a stream that ends without an image is a failure too")
  func noImage() {
    var transcript = BuildTranscript()
    _ = transcript.take(BuildProgress(stream: "Step 1/1 : FROM scratch\n"))
    #expect(transcript.failure?.message == "the engine ended the build without an image")
  }
}

@Suite("Build cache policy: the oldest build images go first, never one in use")
struct BuildCachePolicyTests {
  func image(
    _ id: String, _ created: Int64, _ bytes: Int64, containers: Int = 0, build: String? = "b"
  )
    -> EngineImage
  {
    EngineImage(id: id, created: created, uniqueBytes: bytes, containers: containers, build: build)
  }

  @Test("under the limit nothing goes; over it, the oldest until under")
  func oldestFirst() {
    let images = [image("c", 30, 40), image("a", 10, 40), image("b", 20, 40)]
    #expect(
      BuildCachePolicy.prune(
        EngineDiskUsage(layersBytes: 100, images: images), limit: 100, keep: []) == [])
    #expect(
      BuildCachePolicy.prune(
        EngineDiskUsage(layersBytes: 130, images: images), limit: 100, keep: []) == ["a"])
    #expect(
      BuildCachePolicy.prune(EngineDiskUsage(layersBytes: 150, images: images), limit: 60, keep: [])
        == ["a", "b", "c"])
  }

  @Test("never an image a container uses, the one just built, or one no build made")
  func protectedImages() {
    let images = [
      image("used", 1, 50, containers: 1), image("base", 2, 50, build: nil), image("new", 3, 50),
      image("old", 4, 50),
    ]
    #expect(
      BuildCachePolicy.prune(
        EngineDiskUsage(layersBytes: 200, images: images), limit: 0, keep: ["new"])
        == ["old"])
  }
}

@Suite("Dockerfile bases: what a full build fetches afresh")
struct DockerfileBasesTests {
  @Test("FROM lines, without scratch, earlier stages, build arguments or repeats")
  func bases() {
    let text = """
      # syntax comment
      ARG BASE=debian:12
      FROM --platform=linux/amd64 golang:1.22 AS build
      RUN go build
      FROM $BASE
      FROM build AS test
      FROM registry.example.com:5000/base/web:3 \\
        AS final
      FROM scratch
      from golang:1.22
      """
    #expect(DockerfileBases.parse(text) == ["golang:1.22", "registry.example.com:5000/base/web:3"])
  }
}
