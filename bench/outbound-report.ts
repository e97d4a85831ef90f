/**
 * Measuring helpers of the outbound benchmark: machine CPU from /proc/stat, PostgreSQL activity
 * counters (pg_stat_database / pg_stat_user_tables, no extension needed) and the printed table.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { sql } from 'kysely';
import type { Db } from '../src/db/database.js';

function cpuTimes(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  const idle = fields[3]! + fields[4]!;
  return { busy: total - idle, total };
}

/** Starts measuring; the returned function gives the share of all cores busy since then (0..1; 0 off Linux). */
export function machineCpu(): () => number {
  let before: { busy: number; total: number };
  try {
    before = cpuTimes();
  } catch {
    return () => 0;
  }
  return () => {
    const after = cpuTimes();
    return after.total > before.total ? (after.busy - before.busy) / (after.total - before.total) : 0;
  };
}

/**
 * CPU seconds (user + system) used so far by every process named `postgres` on this machine (0
 * off Linux): the server's share of a run, when the server is local (DATABASE_URL on 127.0.0.1
 * or embedded PostgreSQL), ended backends included (through the postmaster's children's time).
 */
export function postgresCpuSeconds(): number {
  let ticks = 0;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return 0;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes(' (postgres) ')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, and cutime, cstime (man 5 proc), in clock ticks: a backend that exits takes its
      // own CPU with it, and the postmaster that reaps it adds it to its children's time, so
      // without the latter a connection closing during a phase made that phase's figure negative.
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // The process ended between readdir and read.
    }
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}

export interface DbCounters {
  /** Transactions committed in this database. */
  commits: number;
  /** Rows inserted + updated in send_governors (one per slot reservation). */
  governorWrites: number;
}

/** Activity counters of the current database (PostgreSQL flushes them within about a second). */
export async function readDbCounters(db: Db): Promise<DbCounters> {
  const result = await sql<{ commits: string; governor_writes: string }>`
    SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
           (SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE relname = 'send_governors') AS governor_writes`.execute(db);
  const row = result.rows[0]!;
  return { commits: Number(row.commits), governorWrites: Number(row.governor_writes) };
}

/** Prints `key value` rows aligned. */
export function printRows(rows: Array<[string, string | number]>): void {
  const width = Math.max(...rows.map(([key]) => key.length)) + 1;
  for (const [key, value] of rows) process.stdout.write(`${key.padEnd(width)} ${value}\n`);
}

export function megabytes(kib: number): string {
  return (kib / 1024).toFixed(0);
}
