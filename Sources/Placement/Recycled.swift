/// An array whose freed places are handed out again: stable positions for values that come
/// and go, without a dictionary.
struct Recycled<Element: Sendable>: Sendable {
  private(set) var items: [Element] = []
  private var vacant: [Int] = []

  subscript(position: Int) -> Element {
    get { items[position] }
    _modify { yield &items[position] }
  }

  /// Stores `item` in a freed place, or a new one; returns its position.
  mutating func add(_ item: Element) -> Int {
    if let reused = vacant.popLast() {
      items[reused] = item
      return reused
    }
    items.append(item)
    return items.count - 1
  }

  /// Frees `position` (what it holds stays until the place is reused).
  mutating func free(_ position: Int) { vacant.append(position) }
}
