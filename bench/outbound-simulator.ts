/**
 * Child process of the outbound benchmark: the Cloud API simulator on its own event loop, without
 * status webhooks (the benchmark measures the send path only). Config (JSON argument):
 * `{ numbers: [{ phoneNumberId, wabaId, display, accessToken }] }`. Messages from the parent:
 * `sends` → `{ type: 'sends', sends: [wamid, at][] }` (at = epoch ms the send was accepted),
 * `usage` → `{ type: 'usage', usage }`, `clear` → forgets the sends, `stop` → `{ type: 'stopped', usage }` and exits.
 */
import { startSimulatorServer } from '../src/simulator/server.js';
import { childConfig, measureUsage, serveParent } from './outbound-children.js';

export interface SimulatorConfig {
  numbers: Array<{ phoneNumberId: string; wabaId: string; display: string; accessToken: string }>;
}

const config = childConfig<SimulatorConfig>();
const usage = measureUsage();
const server = await startSimulatorServer({ port: 0, webhookUrl: 'http://127.0.0.1:9/unused', appSecret: 'bench', statusWebhooks: false });
for (const number of config.numbers) {
  server.simulator.registerNumber(number.phoneNumberId, { waba_id: number.wabaId, display_phone_number: number.display, access_token: number.accessToken });
}

serveParent(async (message) => {
  if (message.type === 'sends') return { type: 'sends', sends: server.simulator.sends().map((send) => [send.wamid, send.at]) };
  if (message.type === 'usage') return { type: 'usage', usage: usage() };
  if (message.type === 'clear') {
    server.simulator.clearSends();
    return { type: 'cleared' };
  }
  if (message.type === 'stop') {
    await server.close();
    process.send!({ type: 'stopped', usage: usage() }, () => process.exit(0));
  }
  return undefined;
});
process.send!({ type: 'ready', url: server.url });
