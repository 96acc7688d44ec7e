/*
 * A virtual clock for the whole process: `Date` (and `Date.now()`) answer the clock's time, which moves only when
 * told to. The handler bundles, the SDK's signer and the fake AWS all read it; timers (setTimeout) keep real time.
 */

const RealDate = Date;

/** The process's virtual time. Install it once; `advance` moves it. */
export class VirtualClock {
  private nowMs: number;
  private installed = false;

  constructor(start: Date) {
    this.nowMs = start.getTime();
  }

  /** Epoch milliseconds now. */
  now(): number {
    return this.nowMs;
  }

  /** Moves the clock forward by `seconds`. */
  advance(seconds: number): void {
    this.nowMs += seconds * 1000;
  }

  /** Sets the clock (a new scenario). */
  set(at: number): void {
    this.nowMs = at;
  }

  /** Replaces the global `Date` with one that reads this clock. */
  install(): void {
    if (this.installed) return;
    const clock = this;
    class VirtualDate extends RealDate {
      static now(): number {
        return clock.nowMs;
      }
      constructor(...args: unknown[]) {
        if (args.length === 0) super(clock.nowMs);
        else super(...(args as [string]));
      }
    }
    (globalThis as { Date: DateConstructor }).Date = VirtualDate as unknown as DateConstructor;
    this.installed = true;
  }

  /** Puts the real `Date` back. */
  uninstall(): void {
    (globalThis as { Date: DateConstructor }).Date = RealDate;
    this.installed = false;
  }
}

/** Real wall-clock milliseconds, whatever the virtual clock says (for the benchmark's own run time). */
export function realNow(): number {
  return RealDate.now();
}
