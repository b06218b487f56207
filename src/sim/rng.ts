import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

/** FNV-1a over a string: turns (seed, stream name) into an independent generator seed. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A named, seeded random stream. Each concern (ids, ad-hoc days, each job run, faults) draws from its own
 * stream, so that holding one launch back does not reshuffle every later draw of the world.
 */
export class Rng {
  private readonly gen: RandomGenerator;

  constructor(seed: number, stream: string) {
    this.gen = xoroshiro128plus(hash32(`${seed}:${stream}`) ^ seed);
  }

  /** [0, 1) */
  float(): number {
    return uniformFloat64(this.gen);
  }

  /** Integer in [from, to]. */
  int(from: number, to: number): number {
    return uniformInt(this.gen, from, to);
  }

  /** Uniform in [min, max]. */
  between(span: { min: number; max: number }): number {
    return span.min + (span.max - span.min) * this.float();
  }

  hex(length: number): string {
    let out = '';
    while (out.length < length) out += (this.gen.next() >>> 0).toString(16).padStart(8, '0');
    return out.slice(0, length);
  }

  /** Poisson-distributed count with the given mean (Knuth; means here are small). */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.float();
    while (p > limit) {
      k++;
      p *= this.float();
    }
    return k;
  }
}
