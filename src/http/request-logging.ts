/**
 * Request log lines (Fastify's "incoming request" / "request completed"): at info, except for routes
 * whose `config.requestLogLevel` is `debug` (probes and scrapes, which a load balancer or Prometheus
 * calls every few seconds and would otherwise bury everything else). Fastify's route `logLevel` is
 * a threshold, so it cannot lower the level of these lines; its LogController can.
 */
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Level of this route's request log lines (default info). */
    requestLogLevel?: 'debug';
  }
}

function quiet(request: FastifyRequest): boolean {
  return request.routeOptions?.config?.requestLogLevel === 'debug';
}

export class WahubLogController extends LogController {
  constructor() {
    super({ requestIdLogLabel: 'correlation_id' });
  }

  override incomingRequest(request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (quiet(request)) request.log.debug({ req: request }, 'incoming request');
    else super.incomingRequest(request, reply, metadata);
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (!error && quiet(request)) reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
    else super.requestCompleted(error, request, reply, metadata);
  }
}
