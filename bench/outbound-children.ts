/**
 * Child processes of the outbound benchmark and their IPC: the Cloud API simulator and the
 * dispatcher workers each run in their own Node process (own event loop, own core when one is free),
 * as in a deployment where Meta is remote and workers are `wahub serve --role worker` processes.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** What a child reports about itself when it stops. */
export interface ChildUsage {
  /** Peak resident set size, KiB (process.resourceUsage().maxRSS). */
  maxRssKb: number;
  /** CPU time used by the process, ms (user + system). */
  cpuMs: number;
  /** Event-loop delay p99 while running, ms. */
  loopDelayP99Ms: number;
}

export interface BenchChild {
  process: ChildProcess;
  /** Sends `message` and resolves with the child's first message of type `replyType`. */
  ask<T>(message: { type: string } & Record<string, unknown>, replyType: string): Promise<T>;
}

/**
 * Forks `bench/<script>` under tsx and resolves once it sends `{ type: 'ready' }`.
 * @param cpuProfileDir when set, the child writes a V8 CPU profile there on exit (`--cpu-prof`)
 */
export async function forkChild<Ready>(script: string, config: unknown, cpuProfileDir?: string): Promise<{ child: BenchChild; ready: Ready }> {
  const file = fileURLToPath(new URL(script, import.meta.url));
  const execArgv = ['--import', 'tsx', ...(cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir] : [])];
  const proc = fork(file, [JSON.stringify(config)], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waitFor = <T>(type: string) => new Promise<T>((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== type) return;
      cleanup();
      resolve(message as T);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`${script} exited with code ${code} while the bench waited for "${type}"`));
    };
    const cleanup = () => {
      proc.off('message', onMessage);
      proc.off('exit', onExit);
    };
    proc.on('message', onMessage);
    proc.on('exit', onExit);
  });
  const child: BenchChild = {
    process: proc,
    ask: (message, replyType) => {
      const reply = waitFor<never>(replyType);
      proc.send(message);
      return reply;
    },
  };
  return { child, ready: await waitFor<Ready>('ready') };
}

/** In a child: the JSON config the parent passed as the first argument. */
export function childConfig<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}

/** In a child: answers the parent's messages with `handle` (its reply is sent back, if any). */
export function serveParent(handle: (message: { type: string } & Record<string, unknown>) => Promise<object | undefined>): void {
  process.on('message', (message: { type: string } & Record<string, unknown>) => {
    handle(message).then((reply) => {
      if (reply) process.send!(reply);
    }).catch((error: unknown) => {
      process.stderr.write(`bench child: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    });
  });
}

/**
 * In a child: starts measuring event-loop delay; the returned function reports usage so far (CPU
 * since the process started, loop delay since the last report).
 */
export function measureUsage(): () => ChildUsage {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  return () => {
    const usage = process.resourceUsage();
    const loopDelayP99Ms = loop.percentile(99) / 1e6;
    loop.reset();
    return { maxRssKb: usage.maxRSS, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000, loopDelayP99Ms };
  };
}
