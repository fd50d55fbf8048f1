/** A wake-up call for a loop that otherwise sleeps: wait(ms) ends on wake() or after ms. */
export class Signal {
  private pending = false;
  private waiter: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  wake(): void {
    if (this.waiter) this.fire();
    else this.pending = true;
  }

  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.waiter = resolve;
      this.timer = setTimeout(() => this.fire(), Math.max(0, ms));
    });
  }

  private fire(): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    w?.();
  }
}
