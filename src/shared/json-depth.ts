/**
 * Nesting depth of parsed JSON. JSON.parse accepts any depth, but JSON.stringify (used to store
 * jsonb) overflows the stack at a few thousand levels and PostgreSQL's jsonb parser at its
 * `max_stack_depth`; hostile bodies are refused up front instead of failing with 500 later.
 */

/** Deepest nesting any wahub input legitimately needs (Meta webhooks nest about 8 levels). */
export const MAX_JSON_DEPTH = 64;

/**
 * True when `value` nests arrays/objects more than `maxDepth` levels deep. Iterative, so that the
 * check itself cannot overflow the stack; stops at the first path that is too deep.
 */
export function exceedsJsonDepth(value: unknown, maxDepth = MAX_JSON_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= maxDepth) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
