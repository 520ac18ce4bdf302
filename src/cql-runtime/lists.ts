/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   cql-execution's internal modules are untyped. */
import { createRequire } from 'node:module';
import { then, type SyncKit } from './sync-kit.js';

const require = createRequire(import.meta.url);

/**
 * Lists and aggregates without a promise when their operands return none (installed by
 * operators.ts, scheme in expressions.ts). Each is the upstream `exec` with `await x` as `then`:
 *  - lib/elm/list.js: `Exists.exec`, `First.exec`, `List.exec` (every element started before any
 *    is waited for, as its `Promise.all`), `Flatten.exec`, `SingletonFrom.exec`;
 *  - lib/elm/overloaded.js: `Union.exec` (lists through list.js `doUnion`; intervals: the
 *    library's exec once the operands are known);
 *  - lib/elm/aggregate.js: `AllTrue.exec`.
 * The value keys those list operators compare with: list-value-keys.ts.
 */
export function installListOperators({ executeWith, fromArgs, withArgs }: SyncKit): void {
  const list = require('cql-execution/lib/elm/list.js');
  const overloaded = require('cql-execution/lib/elm/overloaded.js');
  const { typeIsArray } = require('cql-execution/lib/util/util.js');

  list.Exists.prototype.execute = fromArgs((_node, values) =>
    values ? values.some((item: unknown) => item != null) : false,
  );
  list.First.prototype.execute = executeWith((node: any, ctx: any): unknown =>
    then(node.source.execute(ctx), (src) =>
      src != null && typeIsArray(src) && src.length > 0 ? src[0] : null,
    ),
  );
  list.List.prototype.execute = executeWith((node: any, ctx: any): unknown => {
    const elements = node.elements as any[];
    const values: unknown[] = new Array(elements.length);
    let pending = false;
    for (let i = 0; i < elements.length; i++) {
      const value = elements[i].execute(ctx);
      if (value instanceof Promise) pending = true;
      values[i] = value;
    }
    return pending ? Promise.all(values) : values;
  });

  // Union: its exec after the operands are known (the library's, unchanged, for lists and intervals).
  const unionExec = overloaded.Union.prototype.exec as (this: any, ctx: any) => Promise<unknown>;
  overloaded.Union.prototype.execute = fromArgs((node, [a, b], ctx) => {
    if (a == null && b == null) return node.listTypeArgs() ? [] : null;
    if (a == null || b == null) {
      const notNull = a || b;
      return typeIsArray(notNull) ? notNull : null;
    }
    if (typeIsArray(a)) return list.doUnion(a, b);
    return unionExec.call(withArgs(node, [a, b]), ctx);
  });
  list.Flatten.prototype.execute = fromArgs((_node, arg) =>
    typeIsArray(arg) && arg.every((x: unknown) => typeIsArray(x))
      ? arg.reduce((x: unknown[], y: unknown[]) => x.concat(y), [])
      : arg,
  );
  const aggregate = require('cql-execution/lib/elm/aggregate.js');
  const { allTrue, removeNulls } = require('cql-execution/lib/util/util.js');
  aggregate.AllTrue.prototype.execute = executeWith((node: any, ctx: any): unknown =>
    then(node.source.execute(ctx), (items) => (items == null ? true : allTrue(removeNulls(items)))),
  );

  list.SingletonFrom.prototype.execute = fromArgs((_node, arg) => {
    if (arg != null && arg.length > 1) {
      throw new Error("IllegalArgument: 'SingletonFrom' requires a 0 or 1 arg array");
    }
    return arg != null && arg.length === 1 ? arg[0] : null;
  });
}
