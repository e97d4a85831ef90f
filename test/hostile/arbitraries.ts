/**
 * fast-check arbitraries for hostile input: strings that break naive code (NUL, lone surrogates,
 * SQL and script payloads, huge strings), values of every JSON type, deep nesting, and mutations of
 * a valid JSON document (a property removed, replaced by a wrong type, or an unknown one added).
 */
import fc from 'fast-check';

/** Strings chosen to break parsers, SQL, HTML and encodings. */
export const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\\u0000',
  "' OR '1'='1",
  "'; DROP TABLE messages; --",
  '"); DELETE FROM contacts; --',
  '<script>alert(1)</script>',
  '${7*7}{{7*7}}',
  '../../../../etc/passwd',
  '%00%0a%0d',
  '\r\n\r\nX-Injected: 1',
  '🙂'.repeat(1000),
  'x'.repeat(100_000),
  '1e309',
  '-1',
  'NaN',
  'null',
  '__proto__',
  'constructor',
];

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ maxLength: 16 }),
);

/** Nested arrays/objects `depth` levels deep around a leaf. */
export function deeplyNested(depth: number, leaf: unknown = 'x'): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { nested: value };
  return value;
}

/** Any JSON value, strings included from {@link hostileString}, plus a deeply nested one. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 3, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER + 2, [], {}) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 2_000 }).map((depth) => deeplyNested(depth)) },
);

/** Paths (property names and indexes) of every value inside a JSON document, root excluded. */
export function pathsOf(document: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(document)) {
    return document.flatMap((child, index) => [[...prefix, index], ...pathsOf(child, [...prefix, index])]);
  }
  if (typeof document === 'object' && document !== null) {
    return Object.entries(document).flatMap(([key, child]) => [[...prefix, key], ...pathsOf(child, [...prefix, key])]);
  }
  return [];
}

export type Mutation =
  | { kind: 'delete'; path: Array<string | number> }
  | { kind: 'replace'; path: Array<string | number>; value: unknown }
  | { kind: 'add'; path: Array<string | number>; key: string; value: unknown };

/** Applies mutations to a deep copy of `document`. */
export function mutate(document: unknown, mutations: Mutation[]): unknown {
  const copy = structuredClone(document);
  for (const mutation of mutations) {
    const parentPath = mutation.kind === 'add' ? mutation.path : mutation.path.slice(0, -1);
    let parent: unknown = copy;
    for (const step of parentPath) parent = (parent as Record<string | number, unknown> | undefined)?.[step];
    if (typeof parent !== 'object' || parent === null) continue;
    const container = parent as Record<string | number, unknown>;
    // defineProperty, so that a key such as `__proto__` becomes an own property as JSON.parse makes it.
    const set = (key: string | number, value: unknown) => Object.defineProperty(container, key, { value, enumerable: true, writable: true, configurable: true });
    if (mutation.kind === 'add') {
      if (!Array.isArray(container)) set(mutation.key, mutation.value);
      continue;
    }
    const last = mutation.path.at(-1)!;
    if (mutation.kind === 'replace') set(last, mutation.value);
    else if (Array.isArray(container) && typeof last === 'number') container.splice(last, 1);
    else delete container[last];
  }
  return copy;
}

/** One to three mutations of `document` at random paths. */
export function mutationsOf(document: unknown): fc.Arbitrary<Mutation[]> {
  const paths = pathsOf(document);
  const containers: Array<Array<string | number>> = [[], ...paths];
  const path = fc.constantFrom(...paths);
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    path.map((p) => ({ kind: 'delete' as const, path: p })),
    fc.tuple(path, hostileJson).map(([p, value]) => ({ kind: 'replace' as const, path: p, value })),
    fc.tuple(fc.constantFrom(...containers), fc.oneof(fc.constantFrom('type', 'id', 'unknown_field', 'errors', '__proto__'), fc.string({ maxLength: 8 })), hostileJson)
      .map(([p, key, value]) => ({ kind: 'add' as const, path: p, key, value })),
  );
  return fc.array(mutation, { minLength: 1, maxLength: 3 });
}
