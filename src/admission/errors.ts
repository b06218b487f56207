/** A refusal of /admit with its HTTP status and the field it is about. */
export class AdmitError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AdmitError';
  }
}
