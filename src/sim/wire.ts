// What either wire protocol (EC2 Query, Glue JSON) answers, for the server to send as is.
export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}
