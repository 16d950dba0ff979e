/**
 * @module scheduler/min-heap
 * A binary min-heap: the dynamic batcher finds the next queue timeout in O(log n) instead of
 * looking at every queued request after each arrival.
 */

/**
 * Smallest-first by `less`. Push and pop are O(log n), peek O(1).
 *
 * @example
 * const h = new MinHeap<number>((a, b) => a < b);
 * h.push(3); h.push(1); h.pop(); // 1
 */
export class MinHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.less(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    this.siftDown(0);
    return top;
  }

  /** Keeps only the items `keep` accepts, in O(n). */
  retain(keep: (item: T) => boolean): void {
    const a = this.items;
    let n = 0;
    for (const item of a) if (keep(item)) a[n++] = item;
    a.length = n;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private siftDown(start: number): void {
    const a = this.items;
    for (let i = start; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < a.length && this.less(a[l]!, a[min]!)) min = l;
      if (r < a.length && this.less(a[r]!, a[min]!)) min = r;
      if (min === i) return;
      [a[i], a[min]] = [a[min]!, a[i]!];
      i = min;
    }
  }
}
