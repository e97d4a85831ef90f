/**
 * SSRF guard of event subscriptions: https only, no loopback / private / link-local / CGNAT /
 * multicast / metadata destination, neither when the subscription is created (422
 * `url_not_allowed`) nor at delivery, where the address actually connected to is checked.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../src/db/database.js';
import { EventDeliverer } from '../../src/events/deliverer.js';
import { insertEvents } from '../../src/events/events.repository.js';
import { EventRelay } from '../../src/events/relay.js';
import { createSubscription } from '../../src/events/subscriptions.service.js';
import { EgressGuard, isBlockedAddress } from '../../src/shared/egress.js';
import { bearer } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import { createTestOrg, silentLogger, testCipher, testEgress } from '../helpers/factories.js';
import { startSubscriber, type Subscriber } from './helpers.js';

/** The app as production runs it: no allow-list. */
const bed = useAppBed(10, { egress: new EgressGuard() });
const subscribers: Subscriber[] = [];
afterAll(async () => {
  await Promise.all(subscribers.map((s) => s.close()));
});

describe('isBlockedAddress', () => {
  it.each([
    '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '100.100.100.200',
    '0.0.0.0', '224.0.0.251', '239.1.1.1', '255.255.255.255', '198.18.0.1', '168.63.129.16', '::1', '::', 'fe80::1', 'fd00:ec2::254', 'fc00::1',
    'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '64:ff9b::a00:1', '2002:7f00:1::', 'not-an-ip',
  ])('refuses %s', (address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('lets %s through', (address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });
});

describe('POST /v1/event-subscriptions (SSRF)', () => {
  it.each([
    ['plain http', 'http://93.184.216.34/hook'],
    ['loopback', 'https://127.0.0.1/hook'],
    ['loopback by name', 'https://localhost:8443/hook'],
    ['IPv6 loopback', 'https://[::1]/hook'],
    ['IPv4-mapped loopback', 'https://[::ffff:127.0.0.1]/hook'],
    ['private', 'https://10.0.0.5/hook'],
    ['private 192.168', 'https://192.168.0.10/hook'],
    ['CGNAT', 'https://100.64.1.1/hook'],
    ['cloud metadata', 'https://169.254.169.254/latest/meta-data/'],
    ['multicast', 'https://224.0.0.1/hook'],
    ['unique local IPv6', 'https://[fd00:ec2::254]/hook'],
    ['decimal-encoded loopback', 'https://2130706433/hook'],
  ])('refuses %s (422 url_not_allowed) and stores nothing', async (_what, url) => {
    const org = await createTestOrg(bed.t.db);
    const response = await bed.app.inject({ method: 'POST', url: '/v1/event-subscriptions', headers: bearer(org.apiKey), payload: { url, event_types: ['*'] } });
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ error: { code: 'url_not_allowed' } });
    expect(await bed.t.db.selectFrom('event_subscriptions').select('id').where('org_id', '=', org.orgId).execute()).toEqual([]);
  });

  it('accepts https to a public address', async () => {
    const org = await createTestOrg(bed.t.db);
    const response = await bed.app.inject({ method: 'POST', url: '/v1/event-subscriptions', headers: bearer(org.apiKey), payload: { url: 'https://93.184.216.34/hook', event_types: ['*'] } });
    expect(response.statusCode).toBe(201);
  });

  it('accepts plain http and a private target only when the allow-list names it', async () => {
    const listed = new EgressGuard(['hooks.internal', '10.20.0.0/16']);
    await expect(listed.checkUrl('http://hooks.internal:8080/x')).resolves.toBeUndefined();
    await expect(listed.checkUrl('http://10.20.3.4/x')).resolves.toBeUndefined();
    await expect(listed.checkUrl('https://10.21.3.4/x')).rejects.toMatchObject({ code: 'url_not_allowed' });
    await expect(listed.checkUrl('http://10.21.3.4/x')).rejects.toMatchObject({ code: 'url_not_allowed' });
  });
});

describe('EventDeliverer (SSRF at delivery)', () => {
  /** A subscription to a local subscriber (saved under the test allow-list) and one event for it. */
  async function subscriptionWithEvent() {
    const subscriber = await startSubscriber();
    subscribers.push(subscriber);
    const org = await createTestOrg(bed.t.db);
    const subscription = await createSubscription(bed.t.db, testCipher, testEgress, { orgId: org.orgId, url: subscriber.url, eventTypes: ['*'], description: null });
    await withTransaction(bed.t.db, (tx) => insertEvents(tx, [{
      orgId: org.orgId, aggregateType: 'contact', aggregateId: crypto.randomUUID(), type: 'contact.created', payload: {}, correlationId: null,
    }]));
    await new EventRelay({ db: bed.t.db, logger: silentLogger, publisher: undefined, batchSize: 100, pollIntervalMs: 20 }).drain();
    return { subscriber, subscriptionId: subscription.id };
  }

  function deliverer(egress: EgressGuard): EventDeliverer {
    return new EventDeliverer({ db: bed.t.db, cipher: testCipher, egress, logger: silentLogger, timeoutMs: 2_000, retryBaseMs: 60_000, retryMaxMs: 60_000, giveUpMs: 600_000, pollIntervalMs: 20 });
  }

  async function deliveryOf(subscriptionId: string) {
    return bed.t.db.selectFrom('event_deliveries').select(['state', 'attempts', 'last_error', 'last_status']).where('subscription_id', '=', subscriptionId).executeTakeFirstOrThrow();
  }

  it('refuses to send to an address that is no longer allowed (checked on the connection, after DNS), and sends nothing', async () => {
    const { subscriber, subscriptionId } = await subscriptionWithEvent();

    await deliverer(new EgressGuard(['10.0.0.0/8'])).runOnce();

    const delivery = await deliveryOf(subscriptionId);
    expect(delivery).toMatchObject({ state: 'pending', attempts: 1, last_status: null });
    expect(delivery.last_error).toMatch(/refused to deliver to 127\.0\.0\.1/);
    expect(subscriber.received).toEqual([]);
  });

  it('delivers when the address actually reached is in a listed range', async () => {
    const { subscriber, subscriptionId } = await subscriptionWithEvent();

    await deliverer(new EgressGuard(['127.0.0.0/8'])).runOnce();

    expect(await deliveryOf(subscriptionId)).toMatchObject({ state: 'delivered', last_status: 200 });
    expect(subscriber.received).toHaveLength(1);
  });
});
