/** @module Single-field mutations of JSON fixtures, for fuzzing parsers around realistic payloads. */
import fc from "fast-check";

type Path = (string | number)[];
const DELETE = Symbol("delete");

/** Every path to a value inside `root` (object keys and array indexes), depth first. */
export function jsonPaths(root: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  if (root === null || typeof root !== "object") return out;
  for (const [key, child] of Object.entries(root)) {
    const path = [...prefix, Array.isArray(root) ? Number(key) : key];
    out.push(path);
    jsonPaths(child, path, out);
  }
  return out;
}

function withValueAt(root: unknown, path: Path, value: unknown): unknown {
  const copy: unknown = structuredClone(root);
  let cur = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) cur = cur[key] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (value === DELETE) delete cur[last];
  else cur[last] = value;
  return copy;
}

/** Arbitrary: one of `fixtures` with one field replaced by junk, an edge value, or deleted. */
export function mutatedFixture(fixtures: unknown[]): fc.Arbitrary<unknown> {
  const targets = fixtures.flatMap((fixture) => jsonPaths(fixture).map((path) => ({ fixture, path })));
  const junk = fc.oneof(
    fc.anything({ withSparseArray: true, withNullPrototype: true, maxDepth: 3 }),
    fc.constantFrom<unknown>(DELETE, null, "", -1, 0, Number.MAX_SAFE_INTEGER, 1e300, "x".repeat(70_000)),
    fc.string(),
    fc.integer(),
  );
  return fc.tuple(fc.constantFrom(...targets), junk).map(([t, value]) => withValueAt(t.fixture, t.path, value));
}
