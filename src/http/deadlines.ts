/**
 * Per-request deadlines without a timer per request (issue 26).
 *
 * Every request sets a deadline (the upstream timeout) and almost every request clears
 * it long before it is due. A `setTimeout` + `clearTimeout` per request is a Timeout
 * object, a closure and two timer-list operations each time. Here a deadline is a node
 * in a list per duration: deadlines of one duration are due in the order they were set,
 * so the head is always the earliest, and ONE timer per list is armed for the head.
 * Setting a deadline appends a node, clearing one unlinks it: no timer call. When the
 * timer fires, every due node runs and the timer is armed again for the new head (a
 * cleared head only makes the timer fire once for nothing).
 *
 * A deadline fires at its due time or later, never earlier, as `setTimeout` would.
 * Time and timers are injected (tests move time instead of sleeping).
 */

export interface DeadlineTimers {
  /** monotonic milliseconds */
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemTimers: DeadlineTimers = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A set deadline; pass it to `clear`. */
export class Deadline {
  prev: Deadline | null = null;
  next: Deadline | null = null;
  constructor(
    readonly due: number,
    readonly fire: () => void,
    readonly list: DeadlineList,
  ) {}
}

class DeadlineList {
  head: Deadline | null = null;
  tail: Deadline | null = null;
  timer: unknown = undefined;
  /** when the armed timer fires (Infinity: none armed) */
  armedFor = Infinity;
}

export class Deadlines {
  private readonly lists = new Map<number, DeadlineList>();

  constructor(private readonly timers: DeadlineTimers = systemTimers) {}

  /** Runs `fire` once `ms` milliseconds have passed, unless cleared before. */
  set(ms: number, fire: () => void): Deadline {
    let list = this.lists.get(ms);
    if (!list) {
      list = new DeadlineList();
      this.lists.set(ms, list);
    }
    const d = new Deadline(this.timers.now() + ms, fire, list);
    if (list.tail) {
      list.tail.next = d;
      d.prev = list.tail;
      list.tail = d;
    } else {
      list.head = list.tail = d;
      if (list.armedFor === Infinity) this.arm(list, ms);
    }
    return d;
  }

  /** Forgets a deadline (a no-op when it already fired or was cleared). */
  clear(d: Deadline): void {
    const { list } = d;
    if (d.prev) d.prev.next = d.next;
    else if (list.head === d) list.head = d.next;
    else return; // not in the list any more
    if (d.next) d.next.prev = d.prev;
    else list.tail = d.prev;
    d.prev = d.next = null;
  }

  /** Stops every timer (deadlines set later arm a new one). */
  close(): void {
    for (const list of this.lists.values()) {
      if (list.armedFor !== Infinity) this.timers.clearTimer(list.timer);
      list.armedFor = Infinity;
      list.head = list.tail = null;
    }
  }

  private arm(list: DeadlineList, ms: number): void {
    list.armedFor = this.timers.now() + ms;
    list.timer = this.timers.setTimer(() => this.expire(list), Math.max(1, Math.ceil(ms)));
  }

  private expire(list: DeadlineList): void {
    list.armedFor = Infinity;
    const now = this.timers.now();
    while (list.head && list.head.due <= now) {
      const d = list.head;
      this.clear(d);
      d.fire();
    }
    // a deadline set while firing may have armed the timer already
    if (list.head && list.armedFor === Infinity) this.arm(list, list.head.due - now);
  }
}
