/** A budget of `rate` per second sustained, with bursts up to `burst`: events per socket, or bytes. */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Takes `n` if there are that many; takes nothing otherwise. */
  take(n = 1): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /**
   * Takes `n` even past empty (for work already done): what comes next waits
   * until it has refilled, a minute at most.
   */
  charge(n: number): void {
    this.take(0);
    this.tokens = Math.max(-Math.min(this.burst, this.rate * 60), this.tokens - n);
  }

  /** Whole seconds until `n` could be taken (at least 1). */
  secondsUntil(n: number): number {
    return Math.max(1, Math.ceil((Math.min(n, this.burst) - this.tokens) / this.rate));
  }
}
