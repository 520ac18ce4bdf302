/**
 * Limits on parsed JSON from outside (hook requests, FHIR answers): the body size is bounded
 * where the bytes are read; this bounds the shape, so that no recursive walk later (the CQL data
 * model, logging, card rendering) can overflow the stack on a deeply nested value.
 */

/** FHIR resources nest about 10 levels deep; a Bundle of them about 15. */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/**
 * The first path whose nesting exceeds `maxDepth`, or undefined. Iterative: safe on any depth.
 * @param value - a JSON value.
 * @param maxDepth - objects and arrays allowed inside each other.
 */
export function findTooDeep(value: unknown, maxDepth = DEFAULT_MAX_JSON_DEPTH): string | undefined {
  // The common case (nothing too deep) without building a path per node: a walk that recurses at
  // most maxDepth frames deep; only a value that fails it is walked again for the path.
  if (!exceedsDepth(value, maxDepth)) return undefined;
  return pathTooDeep(value, maxDepth);
}

/** Whether objects and arrays nest `remaining` or more levels deep (recursion bounded by it). */
function exceedsDepth(value: unknown, remaining: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (remaining <= 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (exceedsDepth(item, remaining - 1)) return true;
    return false;
  }
  for (const key in value) {
    if (
      Object.prototype.hasOwnProperty.call(value, key) &&
      exceedsDepth((value as Record<string, unknown>)[key], remaining - 1)
    )
      return true;
  }
  return false;
}

function pathTooDeep(value: unknown, maxDepth: number): string | undefined {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value, depth: 0, path: '' }];
  while (stack.length > 0) {
    const item = stack.pop() as { value: unknown; depth: number; path: string };
    if (typeof item.value !== 'object' || item.value === null) continue;
    if (item.depth >= maxDepth) return item.path;
    if (Array.isArray(item.value)) {
      for (let i = 0; i < item.value.length; i++)
        stack.push({ value: item.value[i], depth: item.depth + 1, path: `${item.path}[${i}]` });
    } else {
      for (const [key, child] of Object.entries(item.value))
        stack.push({
          value: child,
          depth: item.depth + 1,
          path: item.path === '' ? key : `${item.path}.${key}`,
        });
    }
  }
  return undefined;
}
