// IPv4 CIDR arithmetic for subnets. AWS reserves the first four addresses and the last one of every subnet.

export interface Cidr {
  base: number;
  prefix: number;
  size: number;
  /** 2^(32-prefix) - 5 */
  usable: number;
}

/** A parsed CIDR, or a message saying what is wrong with it. AWS subnets are /16 to /28. */
export function parseCidr(text: string): Cidr | string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (!m) return 'expected an IPv4 CIDR like "10.0.0.0/26"';
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) return 'expected octets from 0 to 255';
  const prefix = Number(m[5]);
  if (prefix < 16 || prefix > 28) return 'expected a prefix from /16 to /28 (the sizes AWS allows for a subnet)';
  const base = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) return `expected the network address of the block (host bits set for /${prefix})`;
  return { base, prefix, size, usable: size - 5 };
}

export function mustParseCidr(text: string): Cidr {
  const c = parseCidr(text);
  if (typeof c === 'string') throw new Error(`${text}: ${c}`);
  return c;
}

export function ipToString(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** The addresses an ENI may get: skip the network address, the three AWS reserves after it, and the last. */
export function assignableAddresses(c: Cidr): number[] {
  const out: number[] = [];
  for (let i = 4; i < c.size - 1; i++) out.push(c.base + i);
  return out;
}
