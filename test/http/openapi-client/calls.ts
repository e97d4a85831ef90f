/**
 * A client of the hub written the way an integrator would write one: openapi-fetch over the
 * `paths` that openapi-typescript generates from `GET /docs/openapi.json`.
 *
 * `./paths.js` does not exist here: test/http/openapi-client.test.ts generates it from the app's
 * document into a temporary folder, copies this file beside it and type-checks the two with the
 * project's compiler options (so this folder is excluded from the project's own `tsc`), then runs
 * {@link roundTrip} against the hub. A type error here, or an `@ts-expect-error` below that no
 * longer errs (types degraded to `any`), fails that test with the compiler's message.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './paths.js';

export interface RoundTripInput {
  baseUrl: string;
  apiKey: string;
  /** Meta phone_number_id of one of the organization's numbers. */
  phoneNumberId: string;
  /** Two customers (E.164) with no thread yet. */
  customers: [string, string];
  idempotencyKey: string;
  /** A message of another organization. */
  foreignMessageId: string;
}

/** Fails with what the hub answered when a call that must succeed did not. */
function dataOf<Data>(call: string, result: { data?: Data; error?: unknown; response: Response }): Data {
  if (result.data === undefined) throw new Error(`${call} answered ${result.response.status}: ${JSON.stringify(result.error)}`);
  return result.data;
}

export async function roundTrip(input: RoundTripInput) {
  const client: Client<paths> = createClient<paths>({ baseUrl: input.baseUrl, headers: { authorization: `Bearer ${input.apiKey}` } });

  // Open a thread with each customer (201), then open the first again (200, the same thread).
  const opened = [];
  for (const phone of input.customers) {
    const result = await client.POST('/v1/threads', { body: { phone, from_phone_number_id: input.phoneNumberId } });
    opened.push({ status: result.response.status, thread: dataOf('POST /v1/threads', result) });
  }
  const reopenedResult = await client.POST('/v1/threads', { body: { phone: input.customers[0], from_phone_number_id: input.phoneNumberId } });
  const reopened = { status: reopenedResult.response.status, thread: dataOf('POST /v1/threads (again)', reopenedResult) };
  const threadId: string = opened[0]!.thread.id;

  // Queue a template (no customer service window is open), then retry it with the same key.
  const send = () => client.POST('/v1/messages', {
    params: { header: { 'idempotency-key': input.idempotencyKey } },
    body: { thread_id: threadId, type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } },
  });
  const first = await send();
  const queued = { status: first.response.status, message: dataOf('POST /v1/messages', first) };
  const retried = await send();
  const replayed = { status: retried.response.status, message: dataOf('POST /v1/messages (retry)', retried), header: retried.response.headers.get('idempotent-replayed') };

  // Read it back.
  const read = await client.GET('/v1/messages/{id}', { params: { path: { id: queued.message.id } } });
  const message = dataOf('GET /v1/messages/{id}', read);

  // Every thread, one per page, following next_cursor.
  const pages = [];
  let cursor: string | undefined;
  do {
    const page = dataOf('GET /v1/threads', await client.GET('/v1/threads', { params: { query: { limit: 1, status: 'open', cursor } } }));
    pages.push(page);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined && pages.length < 10);

  // Another organization's message: an error body, typed by the codes the route documents.
  const foreignResult = await client.GET('/v1/messages/{id}', { params: { path: { id: input.foreignMessageId } } });
  const foreign = {
    status: foreignResult.response.status,
    data: foreignResult.data,
    error: foreignResult.error,
    notFound: foreignResult.error?.error.code === 'not_found',
  };

  return { opened, reopened, queued, replayed, message, pages, foreign };
}

/**
 * Misuses the generated types must refuse; never called. Each `@ts-expect-error` fails the check
 * when its line compiles, i.e. when the document stopped saying what it refuses.
 */
export async function misuses(client: Client<paths>): Promise<void> {
  // @ts-expect-error: a route the hub does not have
  await client.GET('/v1/no-such-route');
  // @ts-expect-error: the message id is a required path parameter
  await client.GET('/v1/messages/{id}');
  // @ts-expect-error: from_phone_number_id is required
  await client.POST('/v1/threads', { body: { phone: '+14155550100' } });
  // @ts-expect-error: a text message needs its text object
  await client.POST('/v1/messages', { body: { thread_id: 'a', type: 'text' } });
  // @ts-expect-error: status is open, closed or all
  await client.GET('/v1/threads', { params: { query: { status: 'archived' } } });
  const { data, error } = await client.GET('/v1/messages/{id}', { params: { path: { id: 'a' } } });
  // @ts-expect-error: a message has no subject
  void data?.subject;
  // @ts-expect-error: conflict is no error code of this route
  void (error?.error.code === 'conflict');
}
