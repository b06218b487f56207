// What an admission refusal says: run `f`, expect it to throw an AdmitError, and return its status, field and message.
import { expect } from 'vitest';
import { AdmitError } from '../../src/admission/errors.js';

export function refusal(f: () => unknown): { status: number; field: string | undefined; message: string } {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(AdmitError);
    const e = err as AdmitError;
    return { status: e.status, field: e.field, message: e.message };
  }
  throw new Error('accepted');
}
