/**
 * Runs the Cloud API simulator as its own HTTP server (plugin mounted at the root), so a hub
 * configured with `graph base URL = <url>` talks to it exactly as to graph.facebook.com; with
 * `twilioInboundWebhookUrl`, the Twilio simulator is mounted at `/twilio` too (a hub's
 * `TWILIO_API_BASE_URL = <url>/twilio`).
 */
import Fastify from 'fastify';
import { createSimulator, type Simulator } from './meta/simulator.js';
import { createTwilioSimulator, type TwilioSimulator } from './twilio/simulator.js';
import type { SimulatorDelays, SimulatorLogger, WebhookRetry } from './shared/background.js';

export interface SimulatorServerOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string;
  webhookUrl: string;
  appSecret: string;
  delays?: SimulatorDelays;
  /** Meta app id for the Embedded Signup endpoints (default `sandbox-app`). */
  appId?: string;
  /** Post status webhooks after sends (default true). */
  statusWebhooks?: boolean;
  webhookRetry?: WebhookRetry;
  logger?: SimulatorLogger;
  /** Delay before a created template turns APPROVED (webhook sent), ms; null: stays PENDING. Default 200. */
  templateApproveAfterMs?: number | null;
  /** The hub's Twilio webhook URL (`…/webhooks/twilio`): mounts the Twilio simulator at `/twilio`. */
  twilioInboundWebhookUrl?: string;
}

export interface SimulatorServer {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  simulator: Simulator;
  /** The Twilio simulator, when `twilioInboundWebhookUrl` was given. */
  twilio?: TwilioSimulator;
  /** Its API base URL (`<url>/twilio`). */
  twilioUrl?: string;
  /** Stops pending webhooks, then the HTTP server. */
  close(): Promise<void>;
}

/** Starts a Fastify server serving the simulator at the root and resolves once it listens. */
export async function startSimulatorServer(options: SimulatorServerOptions): Promise<SimulatorServer> {
  const simulator = createSimulator(options);
  const twilio = options.twilioInboundWebhookUrl === undefined ? undefined : createTwilioSimulator({
    inboundWebhookUrl: options.twilioInboundWebhookUrl, delays: options.delays, statusCallbacks: options.statusWebhooks, webhookRetry: options.webhookRetry, logger: options.logger,
  });
  const app = Fastify({ logger: false });
  await app.register(simulator.plugin, { prefix: '' });
  if (twilio) await app.register(twilio.plugin, { prefix: '/twilio' });
  const host = options.host ?? '127.0.0.1';
  try {
    await app.listen({ port: options.port, host });
  } catch (err) {
    await simulator.close();
    await twilio?.close();
    throw new Error(`simulator: cannot listen on ${host}:${options.port}`, { cause: err });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    simulator,
    twilio,
    twilioUrl: twilio ? `${url}/twilio` : undefined,
    async close() {
      await simulator.close();
      await twilio?.close();
      await app.close();
    },
  };
}
