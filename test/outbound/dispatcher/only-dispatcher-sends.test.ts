/**
 * "Only the dispatcher sends" (SPEC §4): no code path but the outbox dispatcher calls the provider's
 * send endpoint. Proved by reading every file under src/ for the ways a send can be written:
 *
 * 1. A call of a send method: `.sendMessage(` — a method call on some object (the provider
 *    interface `sender.sendMessage(` in the dispatcher, and Meta's adapter calling
 *    `graph.sendMessage(`, which nothing else constructs but the dispatcher). The outbound service's own
 *    `sendMessage(db, …)`, which only queues a message, is a plain function call (no dot) and
 *    its declaration `function sendMessage(` / method declaration `async sendMessage(` have no dot
 *    either, so neither matches.
 * 2. The Graph send URL itself, `/{version}/{phone_number_id}/messages`, written in a string or
 *    template literal (so that a second HTTP client could not bypass GraphApiClient): a path
 *    ending in `/<version>/<id>/messages` where the version is `v<major>.<minor>`, an interpolation
 *    `${…}` or a route parameter `:name`, and the id is digits, an interpolation or a parameter;
 *    or a literal that starts with `/messages` (a URL glued together with `+`). The hub's own API
 *    paths (`/v1/messages`, `/v1/threads/:id/messages`) do not have that shape: `v1` is not a
 *    Graph version and `threads` is not an id.
 *
 * 3. Twilio's Messages API URL, `…/Messages.json`, in a string or template literal.
 *
 * Comments are removed before matching (documentation may name the endpoint); string contents are
 * kept, because the URL lives in strings. Only src/outbound/deliver.ts (the dispatcher's send step) may call the method, only
 * src/providers/meta/graph.client.ts may hold the URL, and the simulator may name the URL only as
 * the route it serves (`app.post('/:version/:phone_number_id/messages', …)`).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');
const CODE_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);
/** Non-code files under src/ (folder READMEs, type declarations are .ts and scanned): they cannot call anything. */
const DOC_EXTENSIONS = new Set(['.md']);

const SEND_CALL = /\.\s*sendMessage\s*\(/g;
const SEGMENT_VERSION = String.raw`(?:v\d+\.\d+|\$\{[^}]*\}|:[A-Za-z_]\w*)`;
const SEGMENT_ID = String.raw`(?:\d+|\$\{[^}]*\}|:[A-Za-z_]\w*)`;
const GRAPH_SEND_PATH = new RegExp(String.raw`/${SEGMENT_VERSION}/${SEGMENT_ID}/messages(?![\w-])|^/messages(?![\w-])|/Messages\.json(?![\w-])`);
/** A route the simulator serves: the literal is the first argument of `app.post(` (or get/put/…) on its line. */
const ROUTE_DEFINITION = /\bapp\.(?:get|post|put|delete|patch|route)\b[^('"`]*\(\s*$/;

const SEND_CALLERS = new Set(['outbound/deliver.ts', 'providers/meta/meta.sender.ts']);
const SEND_URL_HOLDERS = new Set(['providers/meta/graph.client.ts', 'providers/twilio/messages.client.ts']);
const ROUTE_OWNERS = /^simulator\//;

interface Literal {
  text: string;
  /** Offset of the opening quote in the code. */
  offset: number;
}

/**
 * Splits TypeScript source into code without comments (same length, comments blanked so offsets
 * and lines still match) and its string/template literals. Handles '…', "…", `…` with `${…}`
 * (nested literals inside an interpolation included), // and /* *\/ comments, and regular
 * expression literals closely enough for this scan (a `/` after an operand is division).
 */
function scanSource(source: string): { code: string; literals: Literal[] } {
  const out = source.split('');
  const literals: Literal[] = [];
  let i = 0;
  let lastSignificant = '';
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  const readQuoted = (quote: string): void => {
    const start = i++;
    while (i < source.length && source[i] !== quote && source[i] !== '\n') i += source[i] === '\\' ? 2 : 1;
    literals.push({ text: source.slice(start + 1, i), offset: start });
    i++;
  };
  const readTemplate = (): void => {
    const start = i++;
    while (i < source.length && source[i] !== '`') {
      if (source[i] === '\\') i += 2;
      else if (source[i] === '$' && source[i + 1] === '{') {
        let depth = 1;
        i += 2;
        while (i < source.length && depth > 0) {
          const c = source[i]!;
          if (c === '{') depth++;
          else if (c === '}') depth--;
          else if (c === "'" || c === '"') {
            readQuoted(c);
            continue;
          } else if (c === '`') {
            readTemplate();
            continue;
          }
          i++;
        }
      } else i++;
    }
    literals.push({ text: source.slice(start + 1, i), offset: start });
    i++;
  };
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      const stop = end === -1 ? source.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end === -1 ? source.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === "'" || c === '"') {
      readQuoted(c);
      lastSignificant = c;
    } else if (c === '`') {
      readTemplate();
      lastSignificant = c;
    } else if (c === '/' && !/[\w)\]'"`]/.test(lastSignificant)) {
      // A regular expression literal: skip it (with its character classes) so quotes inside are not strings.
      i++;
      let inClass = false;
      while (i < source.length && source[i] !== '\n' && (inClass || source[i] !== '/')) {
        if (source[i] === '\\') i++;
        else if (source[i] === '[') inClass = true;
        else if (source[i] === ']') inClass = false;
        i++;
      }
      i++;
      lastSignificant = '/';
    } else {
      if (!/\s/.test(c)) lastSignificant = c;
      i++;
    }
  }
  return { code: out.join(''), literals };
}

interface Finding {
  file: string;
  line: number;
  kind: 'send call' | 'graph send URL' | 'simulator route';
  text: string;
}

/** Every send call and Graph send URL in one file (path relative to src/). */
function findSends(file: string, source: string): Finding[] {
  const { code, literals } = scanSource(source);
  const lineOf = (offset: number) => source.slice(0, offset).split('\n').length;
  const findings: Finding[] = [];
  for (const match of code.matchAll(SEND_CALL)) {
    findings.push({ file, line: lineOf(match.index), kind: 'send call', text: match[0] });
  }
  for (const literal of literals) {
    if (!GRAPH_SEND_PATH.test(literal.text)) continue;
    const lineStart = code.lastIndexOf('\n', literal.offset) + 1;
    const isRoute = ROUTE_DEFINITION.test(code.slice(lineStart, literal.offset));
    findings.push({ file, line: lineOf(literal.offset), kind: isRoute ? 'simulator route' : 'graph send URL', text: literal.text });
  }
  return findings;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(SRC, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
}

function allowed(finding: Finding): boolean {
  if (finding.kind === 'send call') return SEND_CALLERS.has(finding.file);
  if (finding.kind === 'graph send URL') return SEND_URL_HOLDERS.has(finding.file);
  return ROUTE_OWNERS.test(finding.file);
}

describe('only the dispatcher sends', () => {
  it('finds send calls and Graph send URLs only where they belong (patterns checked on samples first)', () => {
    const sample = (source: string) => findSends('sample.ts', source).map((f) => f.kind);
    expect(sample('await this.options.graph.sendMessage(id, token, body);')).toEqual(['send call']);
    expect(sample('await graph . sendMessage (id, token, body);')).toEqual(['send call']);
    expect(sample('const result = await sendMessage(db, principal, body, key, null);')).toEqual([]);
    expect(sample('export async function sendMessage(db: Db) {}\nclass C { async sendMessage(a: string) {} }')).toEqual([]);
    expect(sample('// graph.sendMessage(id) in a comment\n/* and `${base}/${v}/${id}/messages` */')).toEqual([]);
    expect(sample('await request(`${base}/${version}/${encodeURIComponent(id)}/messages`, {});')).toEqual(['graph send URL']);
    expect(sample("await fetch('https://graph.facebook.com/v24.0/123456/messages');")).toEqual(['graph send URL']);
    expect(sample("const url = base + '/' + id + '/messages';")).toEqual(['graph send URL']);
    expect(sample("app.post('/v1/messages', h); app.get('/v1/threads/:id/messages', h); const s = `${url}/v1/messages`;")).toEqual([]);
    expect(sample("app.post<{ Params: { a: string } }>('/:version/:phone_number_id/messages', h);")).toEqual(['simulator route']);
    expect(sample("const re = /\\/messages'/; const ok = 'x';")).toEqual([]);
    expect(sample('const url = `${base}/2010-04-01/Accounts/${sid}/Messages.json`;')).toEqual(['graph send URL']);
    expect(sample("app.post<{ Params: { s: string } }>('/2010-04-01/Accounts/:s/Messages.json', h);")).toEqual(['simulator route']);
  });

  it('has no other file under src/ calling the provider\'s send method or holding the Graph /messages URL', async () => {
    const files = await listFiles(SRC);
    const unknown = files.filter((file) => !CODE_EXTENSIONS.has(path.extname(file)) && !DOC_EXTENSIONS.has(path.extname(file)));
    expect(unknown, 'files of a kind this scan does not read').toEqual([]);
    const findings: Finding[] = [];
    for (const file of files.filter((f) => CODE_EXTENSIONS.has(path.extname(f)))) {
      findings.push(...findSends(file, await readFile(path.join(SRC, file), 'utf8')));
    }

    expect(findings.filter((finding) => !allowed(finding))).toEqual([]);
    // The scan sees the real sites, so it would see a new one too.
    const kinds = new Set(findings.map((finding) => `${finding.kind} in ${finding.file}`));
    expect(kinds).toEqual(new Set([
      'send call in outbound/deliver.ts',
      'send call in providers/meta/meta.sender.ts',
      'graph send URL in providers/meta/graph.client.ts',
      'graph send URL in providers/twilio/messages.client.ts',
      'simulator route in simulator/meta/simulator.ts',
      'simulator route in simulator/twilio/simulator.ts',
    ]));
  });
});
