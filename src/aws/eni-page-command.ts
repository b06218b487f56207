// DescribeNetworkInterfaces through the EC2 client with its deserializer swapped for the streaming parser of
// eni-page-parser.ts: everything else (serializer, endpoint, signing, retries, request counting) stays with the
// client, and non-2xx responses still go through the SDK's own deserializer, so throttling is classified and
// retried exactly as for any other command.
import type { DescribeNetworkInterfacesCommand, DescribeNetworkInterfacesCommandInput, EC2Client } from '@aws-sdk/client-ec2';
import { parseEniPageBody, type EniPage } from './eni-page-parser.js';
import { ec2Sdk } from './sdk.js';
import type { RawEni } from './types.js';

/** Name under which the SDK installs its deserializer (`deserializerMiddlewareOption` of @smithy/core/schema). */
const SDK_DESERIALIZER = 'deserializerMiddleware';

// Minimal shapes of the middleware contract (@smithy/types), kept local to this module.
interface HttpResponseLike {
  statusCode: number;
  headers: Record<string, string | undefined>;
  body?: unknown;
}
type DeserializeNext = (args: unknown) => Promise<{ response: unknown; output?: unknown }>;
type DeserializeMiddleware = (next: DeserializeNext, context: unknown) => (args: unknown) => Promise<{ response: unknown; output: unknown }>;
interface StackEntry {
  name?: string;
  step?: string;
}

/** What `send` resolves to for a DescribeEniPageCommand. */
export interface EniPageOutput {
  $metadata: { httpStatusCode?: number; requestId?: string; attempts?: number; totalRetryDelay?: number };
  NextToken?: string;
  enis: RawEni[];
}

/** The SDK's own deserializer middleware as installed on a client's stack (found by its documented name). */
function sdkDeserializer(clientStack: unknown): DeserializeMiddleware {
  let found: DeserializeMiddleware | undefined;
  // applyToStack copies every entry into the given stack; this one only records the deserializer.
  (clientStack as { applyToStack(to: unknown): void }).applyToStack({
    add(mw: DeserializeMiddleware, opts: StackEntry = {}) {
      if (opts.name === SDK_DESERIALIZER && opts.step === 'deserialize') found = mw;
    },
    addRelativeTo() {},
    identifyOnResolve() {
      return false;
    },
  });
  if (!found) throw new Error(`EC2 client: no "${SDK_DESERIALIZER}" middleware to delegate errors to`);
  return found;
}

function eniPageDeserializer(errors: DeserializeMiddleware): DeserializeMiddleware {
  return (next, context) => async (args) => {
    const { response } = await next(args);
    const res = response as HttpResponseLike;
    if (!(res.statusCode >= 200 && res.statusCode < 300)) {
      // The SDK's path for errors: same codes, same $metadata, hence the same retry decisions.
      return errors(async () => ({ response }), context)(args);
    }
    const page = await parseEniPageBody(res.body);
    const output: EniPageOutput = { $metadata: { httpStatusCode: res.statusCode }, enis: page.enis };
    const requestId = page.requestId ?? res.headers['x-amzn-requestid'];
    if (requestId !== undefined) output.$metadata.requestId = requestId;
    if (page.nextToken !== undefined) output.NextToken = page.nextToken;
    return { response, output };
  };
}

type ResolveArgs = Parameters<DescribeNetworkInterfacesCommand['resolveMiddleware']>;

/**
 * DescribeNetworkInterfaces exactly as the SDK sends it (same serializer, endpoint, signing, retries), whose
 * successful responses are read by EniPageParser. Send it with `sendEniPage`.
 */
export class DescribeEniPageCommand extends ec2Sdk().DescribeNetworkInterfacesCommand {
  override resolveMiddleware(
    ...[clientStack, configuration, options]: ResolveArgs
  ): ReturnType<DescribeNetworkInterfacesCommand['resolveMiddleware']> {
    // Same name, step and priority as the SDK's deserializer: the command's entry replaces the client's.
    this.middlewareStack.add(eniPageDeserializer(sdkDeserializer(clientStack)) as never, {
      name: SDK_DESERIALIZER,
      step: 'deserialize',
      tags: ['DESERIALIZER'],
      override: true,
    });
    return super.resolveMiddleware(clientStack, configuration, options);
  }
}

/** One page of ENIs through the client's full middleware stack; `signal` aborts it, in flight included. */
export async function sendEniPage(ec2: EC2Client, input: DescribeNetworkInterfacesCommandInput, signal?: AbortSignal): Promise<EniPage> {
  // The signal also cuts a body still streaming in: the handler destroys the request, the parser's stream errors.
  const out = (await ec2.send(new DescribeEniPageCommand(input), signal ? { abortSignal: signal } : {})) as unknown as EniPageOutput;
  const page: EniPage = { enis: out.enis };
  if (out.NextToken) page.nextToken = out.NextToken;
  if (out.$metadata.requestId) page.requestId = out.$metadata.requestId;
  return page;
}
