/**
 * @module scheduler/linked-queue
 * A FIFO whose members link themselves, so that a request that times out in the middle of a
 * long queue leaves it in constant time (an array's splice moves everything behind it).
 */

/** The links a {@link LinkedQueue} keeps in each of its members. */
export interface QueueLinks<T> {
  prev: T | undefined;
  next: T | undefined;
}

/**
 * Push at the tail, shift at the head, remove any member: all O(1). A node belongs to at most
 * one queue at a time; the caller tracks which.
 *
 * @example
 * const q = new LinkedQueue<Job>();
 * q.push(job); q.remove(job); q.shift(); // undefined
 */
export class LinkedQueue<T extends QueueLinks<T>> {
  head: T | undefined;
  tail: T | undefined;
  size = 0;

  push(node: T): void {
    node.prev = this.tail;
    node.next = undefined;
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.size++;
  }

  shift(): T | undefined {
    const node = this.head;
    if (node) this.remove(node);
    return node;
  }

  /** Unlinks `node`, which must be a member of this queue. */
  remove(node: T): void {
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = node.next = undefined;
    this.size--;
  }
}
