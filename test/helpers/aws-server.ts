// A real HTTP server on 127.0.0.1 that speaks to the real SDK clients: EC2 Query (form `Action`) and Glue JSON 1.1
// (`x-amz-target`) on one port. Unlike nock, the handler owns the response: it can drip a body byte by byte,
// and sees the client abort it.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parseConfig, type Config } from '../../src/config/load.js';
import { subnetsXml, type SubnetFixture } from './aws-wire.js';

export interface AwsCall {
  /** `DescribeNetworkInterfaces`, `GetJobRuns`, ... */
  api: string;
  service: 'ec2' | 'glue';
  /** EC2 form fields, or the Glue JSON body. */
  form?: URLSearchParams;
  body?: Record<string, unknown>;
}

export interface AwsServer {
  url: string;
  calls: AwsCall[];
  close(): Promise<void>;
}

export type AwsHandler = (call: AwsCall, res: ServerResponse, req: IncomingMessage) => void;

export async function startAwsServer(handler: AwsHandler): Promise<AwsServer> {
  const calls: AwsCall[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const target = req.headers['x-amz-target'];
      const call: AwsCall =
        typeof target === 'string'
          ? { api: target.replace(/^AWSGlue\./, ''), service: 'glue', body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }
          : (() => {
              const form = new URLSearchParams(text);
              return { api: form.get('Action') ?? '', service: 'ec2' as const, form };
            })();
      calls.push(call);
      handler(call, res, req);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export function sendXml(res: ServerResponse, body: string, status = 200): void {
  res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function sendJson(res: ServerResponse, body: unknown, status = 200): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Answers what every local-server test needs alike: Glue (no connections, no jobs) and DescribeSubnets. */
export function answerGlueAndSubnets(call: AwsCall, res: ServerResponse, subnets: SubnetFixture[]): boolean {
  if (call.service === 'glue') {
    sendJson(res, call.api === 'GetConnections' ? { ConnectionList: [] } : call.api === 'GetJobs' ? { Jobs: [] } : {});
    return true;
  }
  if (call.api === 'DescribeSubnets') {
    sendXml(res, subnetsXml(subnets));
    return true;
  }
  return false;
}

/** An exporter config pointed at the local server for both EC2 and Glue. */
export function localAwsConfig(server: AwsServer, rest: Record<string, unknown>): Config {
  return parseConfig({ endpoints: { ec2: server.url, glue: server.url }, region: 'us-east-1', ...rest }, {});
}
