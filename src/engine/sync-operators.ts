/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument --
   cql-execution's internal modules are untyped. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** `f` of `value`, at once when `value` is not a promise, else when it settles. */
export function then(value: unknown, f: (value: any) => unknown): unknown {
  return value instanceof Promise ? value.then(f) : f(value);
}

/**
 * The operators the shared libraries run most, evaluated without a promise when their operands
 * return none (process-wide patch of cql-execution 3.3.2, installed with the sync expressions).
 *
 * Each `exec` below is the library's `async exec` line for line, with `await x` replaced by "x's
 * value, now or when it settles" (`then`): the same operands evaluated in the same order and the
 * same value computed from them. Conditionals (`If`, `Case`, `Coalesce`) still evaluate only the
 * branches and operands the library evaluates; `List` starts every element before waiting for
 * any, as the library's `Promise.all` does. `executeWith` gives them the library's error
 * annotation and keeps the library's path for nodes with an ELM local id.
 *  - logical: `And`, `Or`, `Not` (ThreeValuedLogic, all operands evaluated, as the library does);
 *  - nullological: `IsNull`, `Coalesce`;
 *  - comparison: `Equal`, `Less`, `LessOrEqual`, `Greater`, `GreaterOrEqual`, `SameOrBefore`,
 *    `SameOrAfter`, `In`;
 *  - types: `As`, `Is`; conditionals: `If`, `Case`;
 *  - lists and structures: `Exists`, `First`, `List`, `Tuple`; strings: `Concatenate`;
 *  - `ExpressionDef` (a definition's value, cached in the root context as the library does).
 */
export function installSyncOperators(
  executeWith: (compute: (node: any, ctx: any) => unknown) => (this: any, ctx: any) => unknown,
): void {
  const logical = require('cql-execution/lib/elm/logical.js');
  const nullological = require('cql-execution/lib/elm/nullological.js');
  const comparison = require('cql-execution/lib/elm/comparison.js');
  const overloaded = require('cql-execution/lib/elm/overloaded.js');
  const type = require('cql-execution/lib/elm/type.js');
  const conditional = require('cql-execution/lib/elm/conditional.js');
  const list = require('cql-execution/lib/elm/list.js');
  const structured = require('cql-execution/lib/elm/structured.js');
  const string = require('cql-execution/lib/elm/string.js');
  const reusable = require('cql-execution/lib/elm/reusable.js');
  const { ThreeValuedLogic, Uncertainty } = require('cql-execution/lib/datatypes/datatypes.js');
  const { equals } = require('cql-execution/lib/util/comparison.js');
  const { typeIsArray } = require('cql-execution/lib/util/util.js');
  const { doContains: listContains } = list;
  const { doContains: intervalContains } = require('cql-execution/lib/elm/interval.js');

  /** An `execute` computing its value from the node's evaluated operands (`execArgs`). */
  function fromArgs(compute: (node: any, args: any, ctx: any) => unknown) {
    return executeWith((node: any, ctx: any): unknown =>
      then(node.execArgs(ctx), (args: any) => compute(node, args, ctx)),
    );
  }

  logical.And.prototype.execute = fromArgs((_node, args) => ThreeValuedLogic.and(...args));
  logical.Or.prototype.execute = fromArgs((_node, args) => ThreeValuedLogic.or(...args));
  logical.Not.prototype.execute = fromArgs((_node, arg) => ThreeValuedLogic.not(arg));

  nullological.IsNull.prototype.execute = fromArgs((_node, arg) => arg == null);
  function coalesceFrom(node: any, ctx: any, index: number): unknown {
    const args = node.args as any[];
    for (let i = index; i < args.length; i++) {
      const result = args[i].execute(ctx);
      if (result instanceof Promise) {
        return result.then((value) => coalesced(node, value) ?? coalesceFrom(node, ctx, i + 1));
      }
      const value = coalesced(node, result);
      if (value != null) return value;
    }
    return null;
  }
  /** Coalesce's value for one operand's result, or undefined to go on with the next operand. */
  function coalesced(node: any, result: any): unknown {
    // if a single arg that's a list, coalesce over the list
    if (node.args.length === 1 && Array.isArray(result)) {
      const item = result.find((element: unknown) => element != null);
      return item != null ? item : undefined;
    }
    return result != null ? result : undefined;
  }
  nullological.Coalesce.prototype.execute = executeWith((node: any, ctx: any): unknown =>
    node.args ? coalesceFrom(node, ctx, 0) : null,
  );

  overloaded.Equal.prototype.execute = fromArgs((_node, args) =>
    args[0] == null || args[1] == null ? null : equals(...(args as [unknown, unknown])),
  );
  const compare = (method: string) =>
    fromArgs((_node, values) => {
      const args = values.map((x: unknown) => Uncertainty.from(x));
      if (args[0] == null || args[1] == null) return null;
      return args[0][method](args[1]);
    });
  comparison.Less.prototype.execute = compare('lessThan');
  comparison.LessOrEqual.prototype.execute = compare('lessThanOrEquals');
  comparison.Greater.prototype.execute = compare('greaterThan');
  comparison.GreaterOrEqual.prototype.execute = compare('greaterThanOrEquals');
  overloaded.SameOrBefore.prototype.execute = fromArgs((node, [d1, d2]) =>
    d1 != null && d2 != null
      ? d1.sameOrBefore(d2, node.precision != null ? node.precision.toLowerCase() : undefined)
      : null,
  );
  overloaded.SameOrAfter.prototype.execute = fromArgs((node, [d1, d2]) =>
    d1 != null && d2 != null
      ? d1.sameOrAfter(d2, node.precision != null ? node.precision.toLowerCase() : undefined)
      : null,
  );
  overloaded.In.prototype.execute = fromArgs((node, [item, container]) => {
    if (container == null) return false;
    if (typeIsArray(container)) return listContains(container, item);
    if (item == null) return null;
    return intervalContains(container, item, node.precision);
  });

  // As and Is: their exec after the operand is known (the library's, including its errors).
  const asExec = type.As.prototype.exec as (this: any, ctx: any) => Promise<unknown>;
  const isExec = type.Is.prototype.exec as (this: any, ctx: any) => Promise<unknown>;
  const withArgs = (node: any, args: unknown) =>
    Object.create(node, { execArgs: { value: () => args } });
  type.As.prototype.execute = fromArgs((node, arg, ctx) => {
    if (arg == null) return null;
    if (ctx.matchesTypeSpecifier(arg, node.asTypeSpecifier)) return arg;
    // not of the type: the library's exec (null, or its error for a strict cast)
    return asExec.call(withArgs(node, arg), ctx);
  });
  type.Is.prototype.execute = fromArgs((node, arg, ctx) => {
    if (arg === null) return false;
    if (typeof arg._is === 'function') return ctx.matchesTypeSpecifier(arg, node.isTypeSpecifier);
    // a value without `_is`: the library's exec (a System type check, or its error)
    return isExec.call(withArgs(node, arg), ctx);
  });

  conditional.If.prototype.execute = executeWith((node: any, ctx: any): unknown =>
    then(node.condition.execute(ctx), (condition) =>
      condition ? node.th.execute(ctx) : node.els.execute(ctx),
    ),
  );
  function caseFrom(
    node: any,
    ctx: any,
    index: number,
    comparand: unknown,
    selected: boolean,
  ): unknown {
    const items = node.caseItems as any[];
    for (let i = index; i < items.length; i++) {
      const item = items[i];
      const when = item.when.execute(ctx);
      if (when instanceof Promise) {
        return when.then((value) =>
          (selected ? equals(value, comparand) : value)
            ? item.then.execute(ctx)
            : caseFrom(node, ctx, i + 1, comparand, selected),
        );
      }
      if (selected ? equals(when, comparand) : when) return item.then.execute(ctx);
    }
    return node.els.execute(ctx);
  }
  conditional.Case.prototype.execute = executeWith((node: any, ctx: any): unknown =>
    node.comparand
      ? then(node.comparand.execute(ctx), (value) => caseFrom(node, ctx, 0, value, true))
      : caseFrom(node, ctx, 0, undefined, false),
  );

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

  function tupleFrom(node: any, ctx: any, index: number, val: Record<string, unknown>): unknown {
    const elements = node.elements as any[];
    for (let i = index; i < elements.length; i++) {
      const el = elements[i];
      const value = el.value != null ? el.value.execute(ctx) : undefined;
      if (value instanceof Promise) {
        return value.then((settled) => {
          val[el.name] = settled;
          return tupleFrom(node, ctx, i + 1, val);
        });
      }
      val[el.name] = value;
    }
    return val;
  }
  structured.Tuple.prototype.execute = executeWith((node: any, ctx: any): unknown =>
    tupleFrom(node, ctx, 0, {}),
  );

  string.Concatenate.prototype.execute = fromArgs((_node, args) =>
    // the library's `args.reduce((x, y) => x + y)`: strings (the translator makes the operands strings)
    args.some((x: unknown) => x == null)
      ? null
      : (args as string[]).reduce((x: string, y: string) => x + y),
  );

  reusable.ExpressionDef.prototype.execute = executeWith((node: any, ctx: any): unknown =>
    then(node.expression != null ? node.expression.execute(ctx) : undefined, (value) => {
      ctx.rootContext().set(node.name, value);
      return value;
    }),
  );
}
