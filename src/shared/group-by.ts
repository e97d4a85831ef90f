/**
 * `Map.groupBy` arrives in Node 21; wahub supports Node 20.
 */

/** Groups items by a string key, keeping their order within each group. */
export function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
