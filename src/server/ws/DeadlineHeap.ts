/** Something with one pending deadline; `heapIndex` is the heap's bookkeeping (-1 while not scheduled). */
export interface Scheduled {
  deadline: number
  heapIndex: number
}

/**
 * A binary min-heap of deadlines that knows where each item sits, so one shared timer can serve every
 * connection's token expiry, grace period and authentication deadline: a per-connection setTimeout costs a
 * timer object and a closure per socket, and removal here is O(log n) so closed sockets are not retained
 * until their (hour-long) deadline would have passed.
 */
export class DeadlineHeap<T extends Scheduled> {
  private readonly items: T[] = []

  get size(): number {
    return this.items.length
  }

  peek(): T | undefined {
    return this.items[0]
  }

  /** Adds the item, or moves it if it is already scheduled. */
  schedule(item: T, deadline: number): void {
    item.deadline = deadline
    if (item.heapIndex < 0) {
      item.heapIndex = this.items.length
      this.items.push(item)
      this.up(item.heapIndex)
    } else {
      this.up(item.heapIndex)
      this.down(item.heapIndex)
    }
  }

  remove(item: T): void {
    const index = item.heapIndex
    if (index < 0) return
    item.heapIndex = -1
    const last = this.items.pop()!
    if (index === this.items.length) return
    this.items[index] = last
    last.heapIndex = index
    this.up(index)
    this.down(last.heapIndex)
  }

  /** Takes the earliest item if its deadline is at or before `now`. */
  popDue(now: number): T | undefined {
    const top = this.items[0]
    if (!top || top.deadline > now) return undefined
    this.remove(top)
    return top
  }

  private up(index: number): void {
    const items = this.items
    const item = items[index]!
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = items[parentIndex]!
      if (parent.deadline <= item.deadline) break
      items[index] = parent
      parent.heapIndex = index
      index = parentIndex
    }
    items[index] = item
    item.heapIndex = index
  }

  private down(index: number): void {
    const items = this.items
    const length = items.length
    const item = items[index]!
    for (;;) {
      let child = 2 * index + 1
      if (child >= length) break
      const right = child + 1
      if (right < length && items[right]!.deadline < items[child]!.deadline) child = right
      const smaller = items[child]!
      if (smaller.deadline >= item.deadline) break
      items[index] = smaller
      smaller.heapIndex = index
      index = child
    }
    items[index] = item
    item.heapIndex = index
  }
}
