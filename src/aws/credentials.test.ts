import { describe, expect, it } from 'vitest';
import { REFRESH_BEFORE_EXPIRY_MS, sharedCredentials } from './credentials.js';

describe('sharedCredentials', () => {
  it('asks once for every caller, again near expiry, and again after a failure', async () => {
    let now = 0;
    let calls = 0;
    let fail = false;
    const provider = async () => {
      calls++;
      if (fail) throw new Error('AccessDenied');
      return { accessKeyId: `AKID${calls}`, expiration: new Date(now + REFRESH_BEFORE_EXPIRY_MS + 10_000) };
    };
    const shared = sharedCredentials(provider, () => now);
    const [a, b] = await Promise.all([shared(), shared()]);
    expect(a).toBe(b);
    expect(calls).toBe(1);
    now += 9_000;
    expect((await shared()).accessKeyId).toBe('AKID1');
    now += 2_000; // within the refresh margin: asked again
    expect((await shared()).accessKeyId).toBe('AKID2');
    expect(calls).toBe(2);
    now += 20_000;
    fail = true;
    await expect(shared()).rejects.toThrow('AccessDenied');
    await expect(shared()).rejects.toThrow('AccessDenied');
    expect(calls).toBe(4);
    fail = false;
    expect((await shared()).accessKeyId).toBe('AKID5');
  });
});
