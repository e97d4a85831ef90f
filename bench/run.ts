/**
 * Benchmark dispatcher: `npm run bench -- <name>`. Each benchmark prints its figures and the
 * comparison it names. Benchmarks use `DATABASE_URL` when set, otherwise embedded PostgreSQL.
 */
const BENCHMARKS: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  growth: () => import('./growth.js'),
  inbound: () => import('./inbound.js'),
  outbound: () => import('./outbound.js'),
  reads: () => import('./reads.js'),
};

const [name = 'inbound', ...args] = process.argv.slice(2);
const load = BENCHMARKS[name];
if (!load) {
  process.stderr.write(`unknown benchmark "${name}"; available: ${Object.keys(BENCHMARKS).join(', ')}\n`);
  process.exit(2);
}
await (await load()).run(args);
// A benchmark that found its results invalid sets process.exitCode after cleaning up.
process.exit(process.exitCode ?? 0);
