/* eslint-disable @typescript-eslint/no-explicit-any --
   cql-execution's ELM nodes and contexts are untyped. */
/** What every family of synchronous overrides is built with (operators.ts makes one). */

/** `f` of `value`, at once when `value` is not a promise, else when it settles. */
export function then(value: unknown, f: (value: any) => unknown): unknown {
  return value instanceof Promise ? value.then(f) : f(value);
}

export type Execute = (this: any, ctx: any) => unknown;

export interface SyncKit {
  /** An `execute` from a compute function, with the library's error annotation (expressions.ts). */
  readonly executeWith: (compute: (node: any, ctx: any) => unknown) => Execute;
  /** Runs a generator that yields what it waits for (expressions.ts `drive`). */
  readonly drive: (gen: Generator<unknown, unknown>) => unknown;
  /** An `execute` computing its value from the node's evaluated operands (`execArgs`). */
  readonly fromArgs: (compute: (node: any, args: any, ctx: any) => unknown) => Execute;
  /** The node, with `execArgs` answering `args` (to call the library's own `exec`). */
  readonly withArgs: (node: any, args: unknown) => any;
}
