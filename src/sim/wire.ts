// What either wire protocol (EC2 Query, Glue JSON, STS Query) answers, for the server to send as is.
import { XMLBuilder } from 'fast-xml-parser';

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: false, processEntities: true });

/** An element's text with no XML declaration (a piece spliced into a document `xml` rendered). */
export function xmlFragment(doc: Record<string, unknown>): string {
  return builder.build(doc) as string;
}

/** An XML document (Query protocols), attributes as `@_name`. */
export function xml(doc: Record<string, unknown>): string {
  return builder.build({ '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' }, ...doc }) as string;
}

/** A client or server error of a Query protocol (EC2, STS): its code, AWS's message and the HTTP status. */
export class QueryError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}
