// A token bucket: `ratePerSecond` tokens refill continuously up to `burst`. One bucket for all
// callers on purpose: clients arrive through relays, so there is no client identity to key on.
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(ratePerSecond: number, burst: number, now: () => number = () => performance.now()) {
    this.#rate = ratePerSecond;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#at = now();
  }

  /** Takes a token; returns 0 on success, else the seconds until one is available. */
  take(): number {
    const t = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((t - this.#at) / 1000) * this.#rate);
    this.#at = t;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return (1 - this.#tokens) / this.#rate;
  }
}
