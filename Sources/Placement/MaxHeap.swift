/// A binary heap that hands out its greatest element first.
struct MaxHeap<Element: Comparable> {
  private var items: [Element]

  init(_ items: [Element] = []) {
    self.items = items
    var node = items.count / 2 - 1
    while node >= 0 {
      siftDown(node)
      node -= 1
    }
  }

  var isEmpty: Bool { items.isEmpty }
  var max: Element? { items.first }

  mutating func insert(_ item: Element) {
    items.append(item)
    var child = items.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard items[parent] < items[child] else { break }
      items.swapAt(parent, child)
      child = parent
    }
  }

  mutating func popMax() -> Element? {
    guard !items.isEmpty else { return nil }
    items.swapAt(0, items.count - 1)
    let top = items.removeLast()
    siftDown(0)
    return top
  }

  private mutating func siftDown(_ start: Int) {
    var parent = start
    while true {
      let left = 2 * parent + 1
      guard left < items.count else { return }
      var larger = left
      if left + 1 < items.count, items[left] < items[left + 1] { larger = left + 1 }
      guard items[parent] < items[larger] else { return }
      items.swapAt(parent, larger)
      parent = larger
    }
  }
}
