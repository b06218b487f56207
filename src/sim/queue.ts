/**
 * Min-heap of timed events ordered by (time, rank, insertion order): equal times resolve by rank, then first
 * in first out, so that a run replays identically.
 */
export class EventQueue<T> {
  private readonly heap: { t: number; rank: number; seq: number; value: T }[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(t: number, value: T, rank = 0): void {
    const h = this.heap;
    h.push({ t, rank, seq: this.seq++, value });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  peekTime(): number | undefined {
    return this.heap[0]?.t;
  }

  pop(): { t: number; value: T } | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return { t: top.t, value: top.value };
  }

  private less(a: { t: number; rank: number; seq: number }, b: { t: number; rank: number; seq: number }): boolean {
    if (a.t !== b.t) return a.t < b.t;
    if (a.rank !== b.rank) return a.rank < b.rank;
    return a.seq < b.seq;
  }
}
