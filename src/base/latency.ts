// A fixed window of recent latencies, for /status and metrics: count, p50 and p99 in milliseconds.
export class LatencyWindow {
  readonly #samples: number[] = [];
  readonly #size: number;
  #count = 0;

  constructor(size = 256) {
    this.#size = size;
  }

  record(ms: number): void {
    this.#samples[this.#count % this.#size] = ms;
    this.#count++;
  }

  summary(): { count: number; p50Ms: number | null; p99Ms: number | null } {
    const sorted = [...this.#samples].sort((a, b) => a - b);
    const at = (q: number): number | null => (sorted.length === 0 ? null : Math.round((sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0) * 1000) / 1000);
    return { count: this.#count, p50Ms: at(0.5), p99Ms: at(0.99) };
  }
}
