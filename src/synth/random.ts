/**
 * Seeded PRNG for the generator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator,
 * from PractRand), seeded through splitmix32 from (seed, stream, index). Every patient gets
 * its own generator, so a patient depends only on the seed and its index: output is
 * byte-identical across runs and patients could be generated in any order or in parallel.
 */

/** splitmix32 finaliser: a well-mixed 32-bit hash of a 32-bit state. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).padStart(2, '0'),
);

export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed` and `index` are safe integers; `stream` separates independent uses of a seed. */
  constructor(seed: number, stream: number, index: number) {
    // Fold the high halves in too, so seeds or indexes above 2^32 stay distinct.
    let h = mix32((seed >>> 0) ^ 0x9e3779b9);
    h = mix32(h ^ Math.floor(seed / 0x100000000));
    h = mix32(h ^ stream);
    h = mix32(h ^ (index >>> 0));
    h = mix32(h ^ Math.floor(index / 0x100000000));
    this.a = mix32(h + 0x6a09e667);
    this.b = mix32(h + 0xbb67ae85);
    this.c = mix32(h + 0x3c6ef372);
    this.d = 1;
    // Discard the first outputs: sfc32 needs a few rounds to decorrelate from its seed.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Index drawn with probability proportional to `cumulative` steps (a running sum). */
  pickCumulative(cumulative: readonly number[]): number {
    const total = cumulative[cumulative.length - 1] ?? 0;
    const u = this.next() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cumulative[mid] as number) > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Normal variate (Box–Muller; one of the pair is dropped to keep the state simple). */
  normal(mean: number, sd: number): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Exponential waiting time for a rate (events per unit time); Infinity for rate 0. */
  exponential(rate: number): number {
    if (rate <= 0) return Infinity;
    return -Math.log(1 - this.next()) / rate;
  }

  /** A version-4-shaped UUID from the generator (not crypto: ids must be reproducible). */
  uuid(): string {
    const w0 = this.nextUint32();
    const w1 = this.nextUint32();
    const w2 = this.nextUint32();
    const w3 = this.nextUint32();
    const b = (w: number, s: number): string => HEX[(w >>> s) & 0xff] as string;
    return (
      b(w0, 24) +
      b(w0, 16) +
      b(w0, 8) +
      b(w0, 0) +
      '-' +
      b(w1, 24) +
      b(w1, 16) +
      '-' +
      HEX[0x40 | ((w1 >>> 8) & 0x0f)] +
      b(w1, 0) +
      '-' +
      HEX[0x80 | ((w2 >>> 24) & 0x3f)] +
      b(w2, 16) +
      '-' +
      b(w2, 8) +
      b(w2, 0) +
      b(w3, 24) +
      b(w3, 16) +
      b(w3, 8) +
      b(w3, 0)
    );
  }
}

/** Running sums of weights, for Random.pickCumulative. */
export function cumulative(weights: readonly number[]): number[] {
  let s = 0;
  return weights.map((w) => (s += w));
}
