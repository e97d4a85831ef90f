/**
 * `wahub simulator`: run the Cloud API simulator standalone (and, with `--twilio-webhook-url`, the
 * Twilio simulator at `/twilio`), and `wahub simulator inject` to make a simulated customer write
 * to a running simulator (hub-mounted at `/simulator` or standalone).
 */
import { Command } from 'commander';
import { request } from 'undici';
import { startSimulatorServer } from '../simulator/server.js';

type Print = (options: { json?: boolean }, result: Record<string, unknown>, human: string) => void;
type Fail = (error: unknown, json: boolean) => never;

export function simulatorCommand(print: Print, fail: Fail): Command {
  const command = new Command('simulator').description('WhatsApp Cloud API simulator');
  command
    .option('--port <port>', 'port to listen on', (v) => Number(v), 4010)
    .option('--webhook-url <url>', 'hub webhook URL that receives signed status webhooks', 'http://127.0.0.1:3000/webhooks/whatsapp')
    .option('--app-secret <secret>', 'app secret that signs webhooks')
    .option('--delays <ms>', 'status delays "sent,delivered,read" in ms', '100,200,300')
    .option('--number <spec...>', 'register numbers: phone_number_id:waba_id:display_digits')
    .option('--twilio-webhook-url <url>', 'also play Twilio at <simulator>/twilio, posting inbound messages to this hub URL (…/webhooks/twilio)')
    .option('--twilio-sender <spec...>', 'register Twilio senders: +E164:account_sid:auth_token')
    .option('--json', 'print JSON')
    .action(async (options: {
      port: number; webhookUrl: string; appSecret?: string; delays: string; number?: string[]; twilioWebhookUrl?: string; twilioSender?: string[]; json?: boolean;
    }) => {
      try {
        if (!options.appSecret) throw new Error('--app-secret is required (the hub\'s META_APP_SECRET)');
        if (options.twilioSender && !options.twilioWebhookUrl) throw new Error('--twilio-sender needs --twilio-webhook-url');
        const [sentMs, deliveredMs, readMs] = options.delays.split(',').map(Number);
        const server = await startSimulatorServer({
          port: options.port, webhookUrl: options.webhookUrl, appSecret: options.appSecret, delays: { sentMs, deliveredMs, readMs },
          twilioInboundWebhookUrl: options.twilioWebhookUrl,
        });
        for (const spec of options.twilioSender ?? []) {
          const [phone, accountSid, authToken] = spec.split(':');
          if (!phone || !accountSid || !authToken) throw new Error(`--twilio-sender "${spec}" must be +E164:account_sid:auth_token`);
          server.twilio!.registerSender(phone, { account_sid: accountSid, auth_token: authToken });
        }
        for (const spec of options.number ?? []) {
          const [phoneNumberId, wabaId, display] = spec.split(':');
          if (!phoneNumberId || !wabaId || !display) throw new Error(`--number "${spec}" must be phone_number_id:waba_id:display_digits`);
          server.simulator.registerNumber(phoneNumberId, { waba_id: wabaId, display_phone_number: display });
        }
        const twilioLine = server.twilioUrl ? `; Twilio API base URL ${server.twilioUrl}` : '';
        print(options, { url: server.url, twilio_url: server.twilioUrl ?? null }, `simulator listening on ${server.url} (Graph API base URL)${twilioLine}; webhooks go to ${options.webhookUrl}`);
        const stop = () => server.close().then(() => process.exit(0));
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      } catch (error) {
        fail(error, Boolean(options.json));
      }
    });

  command
    .command('inject')
    .description('make a simulated customer send a text message (to a Meta number, or with --twilio-to to a Twilio sender)')
    .option('--url <url>', 'simulator base URL (the Twilio simulator is under <url>/twilio)', 'http://127.0.0.1:3000/simulator')
    .option('--phone-number-id <id>', 'business phone_number_id (Meta)')
    .option('--twilio-to <e164>', 'business Twilio sender, E.164 (Twilio)')
    .requiredOption('--from <wa_id>', 'customer wa_id (digits)')
    .requiredOption('--text <text>', 'message text')
    .option('--profile-name <name>', 'customer profile name')
    .option('--json', 'print JSON')
    .action(async (options: { url: string; phoneNumberId?: string; twilioTo?: string; from: string; text: string; profileName?: string; json?: boolean }) => {
      try {
        if (!options.phoneNumberId === !options.twilioTo) throw new Error('give exactly one of --phone-number-id (Meta) or --twilio-to (Twilio)');
        const base = options.url.replace(/\/$/, '');
        const [url, payload] = options.twilioTo
          ? [`${base}/twilio/_simulator/inbound`, { to: options.twilioTo, from: options.from, text: options.text, profile_name: options.profileName }]
          : [`${base}/_simulator/inbound`, { phone_number_id: options.phoneNumberId, from: options.from, text: options.text, profile_name: options.profileName }];
        const response = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
        const body = (await response.body.json()) as Record<string, unknown>;
        if (response.statusCode >= 400) throw new Error(`simulator answered ${response.statusCode}: ${JSON.stringify(body)}`);
        print(options, body, `injected ${String(body.wamid ?? body.sid)} (hub answered ${String(body.status)})`);
      } catch (error) {
        fail(error, Boolean(options.json));
      }
    });
  return command;
}
