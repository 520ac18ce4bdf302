/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument --
   cql-execution's internal modules are untyped. */
import { createRequire } from 'node:module';
import { installSyncOperators } from './operators.js';

const require = createRequire(import.meta.url);
let installed = false;

type Execute = (this: any, ctx: any) => unknown;

/**
 * Runs a generator that yields the values it waits for (a value, or a promise): it goes on at
 * once with a value, and after the promise settles with a promise (a rejection rejects the
 * result, as an `await` in an async function would). The result is a value when nothing had to
 * be waited for.
 */
export function drive<T>(gen: Generator<unknown, T>, input?: unknown): T | Promise<T> {
  let step = gen.next(input);
  while (!step.done) {
    const value = step.value;
    if (value instanceof Promise) return value.then((settled) => drive(gen, settled));
    step = gen.next(value);
  }
  return step.value;
}
let executeWith: ((compute: (node: any, ctx: any) => unknown) => Execute) | undefined;

/**
 * An `execute` for a node of cql-execution that computes its value with `compute` (a value, or a
 * promise only when it must wait), with the library's error annotation (installs the sync
 * expressions when they are not yet).
 */
export function syncExecute(compute: (node: any, ctx: any) => unknown): Execute {
  installSyncExpressions();
  if (executeWith === undefined) throw new Error('sync expressions are not installed');
  return executeWith(compute);
}

/**
 * Evaluates the commonest ELM nodes without a promise (process-wide patch of cql-execution 3.3.2,
 * once).
 *
 * Every node's `execute` is an `async` function around an `async exec`: two promises and two
 * resumptions per node, even for a literal or a reference to an operand (about half of the nodes
 * an evaluation runs). Every caller `await`s what `execute` returns (or hands it to
 * `Promise.all`), which accepts a plain value as well, so these nodes return their value directly:
 *  - literals (`Literal` and its Boolean, Integer, Decimal, String kinds: the same value; a
 *    string literal's unescaping is done once per node), `Null`;
 *  - `OperandRef`, `AliasRef`, `QueryLetRef` (a context look-up);
 *  - `ExpressionRef` (the definition's cached value, or the definition's own `execute` when it
 *    is not evaluated yet) and `Property` (when its source is available without waiting);
 *  - `execArgs`, which waits only for the operands that return a promise;
 *  - a query of one source (`Query.exec` without the cartesian product of one list, which built an
 *    array per row, and without `Promise.all` around its one source; same steps in the same order).
 * The logic of each is the library's `exec`, unchanged; an error thrown by it is annotated as the
 * library's `execute` annotates it (an `AnnotatedError` naming the node, passed on as it is when
 * it is one already). A node with an ELM local id keeps the library's path (the engine strips
 * them). Evaluation order is unchanged: operands are evaluated one after another, as before.
 * The commonest operators follow the same scheme (`operators.ts`, `lists.ts`, `retrieve.ts`, `date-time.ts`), and function calls
 * (`function-memo.ts`, through `syncExecute`).
 */
export function installSyncExpressions(): void {
  if (installed) return;
  installed = true;
  require('cql-execution');
  const expression = require('cql-execution/lib/elm/expression.js');
  const literal = require('cql-execution/lib/elm/literal.js');
  const reusable = require('cql-execution/lib/elm/reusable.js');
  const query = require('cql-execution/lib/elm/query.js');
  const structured = require('cql-execution/lib/elm/structured.js');
  const nullological = require('cql-execution/lib/elm/nullological.js');
  const { AnnotatedError } = require('cql-execution/lib/util/customErrors.js');
  const Expression = expression.Expression;
  const asyncExecute = Expression.prototype.execute as (this: any, ctx: any) => Promise<unknown>;

  function annotated(node: any, ctx: any, error: unknown): unknown {
    if (error instanceof AnnotatedError) return error;
    return new AnnotatedError(
      error,
      node.constructor.name,
      node.getRecursiveLibraryIdentifier(ctx),
      node.localId,
      node.locator,
    );
  }

  /** An `execute` that computes the node's value with `compute` (a value or a promise). */
  executeWith = function executeWith(compute: (node: any, ctx: any) => unknown) {
    return function execute(this: any, ctx: any): unknown {
      if (this.localId != null) return asyncExecute.call(this, ctx);
      let value: unknown;
      try {
        value = compute(this, ctx);
      } catch (error) {
        throw annotated(this, ctx, error);
      }
      if (value instanceof Promise)
        return value.then(undefined, (error: unknown) => {
          throw annotated(this, ctx, error);
        });
      return value;
    };
  };

  const literalValue = (node: any): unknown => node.value;
  for (const kind of ['Literal', 'BooleanLiteral', 'IntegerLiteral', 'DecimalLiteral']) {
    literal[kind].prototype.execute = executeWith(literalValue);
  }
  const UNESCAPED = Symbol('unescaped');
  literal.StringLiteral.prototype.execute = executeWith((node: any): unknown => {
    let value = node[UNESCAPED];
    if (value === undefined) {
      // StringLiteral.exec: the translator's escaped quotes, undone (the same on every call).
      value = node.value.replace(/\\'/g, "'").replace(/\\"/g, '"');
      node[UNESCAPED] = value;
    }
    return value;
  });
  nullological.Null.prototype.execute = executeWith((): unknown => null);

  reusable.OperandRef.prototype.execute = executeWith((node: any, ctx: any): unknown =>
    ctx.get(node.name),
  );
  const aliasValue = (node: any, ctx: any): unknown =>
    ctx != null ? ctx.get(node.name) : undefined;
  query.AliasRef.prototype.execute = executeWith(aliasValue);
  query.QueryLetRef.prototype.execute = executeWith(aliasValue);

  reusable.ExpressionRef.prototype.execute = executeWith((node: any, ctx: any): unknown => {
    const context = node.library ? ctx.getLibraryContext(node.library) : ctx;
    const value = context.get(node.name);
    return value instanceof Expression ? value.execute(context) : value;
  });

  // Property.exec after its source is known, line for line.
  function propertyOf(node: any, obj: any): unknown {
    let val = getPropertyFromObject(obj, node.path);
    if (val == null) {
      const parts = node.path.split('.');
      let currentObject = obj;
      for (const part of parts) {
        const value = getPropertyFromObject(currentObject, part);
        currentObject = value instanceof Function ? value.call(currentObject) : value;
      }
      val = currentObject != null ? currentObject : null;
    }
    return val instanceof Function ? val.call(obj) : val;
  }
  function getPropertyFromObject(obj: any, path: string): unknown {
    let val: unknown;
    if (obj != null) {
      val = obj[path];
      if (val === undefined && typeof obj.get === 'function') val = obj.get(path);
    }
    return val;
  }
  structured.Property.prototype.execute = executeWith((node: any, ctx: any): unknown => {
    const obj = node.scope != null ? ctx.get(node.scope) : node.source;
    if (!(obj instanceof Expression)) return propertyOf(node, obj);
    const source = obj.execute(ctx);
    if (source instanceof Promise) return source.then((value) => propertyOf(node, value));
    return propertyOf(node, source);
  });

  // Query.exec for a query of one source (nearly all): the library's steps without the cartesian
  // product of one list (an array per row) and without Promise.all around one source.
  const list = require('cql-execution/lib/elm/list.js');
  const { allTrue } = require('cql-execution/lib/util/util.js');
  const queryExec = query.Query.prototype.exec as (this: any, ctx: any) => Promise<unknown>;
  query.Query.prototype.execute = executeWith((node: any, ctx: any): unknown => node.exec(ctx));
  query.Query.prototype.exec = function exec(this: any, ctx: any): unknown {
    if (this.sources.length !== 1) return queryExec.call(this, ctx);
    return drive(oneSourceQuery(this, ctx));
  };
  function* oneSourceQuery(node: any, ctx: any): Generator<unknown, unknown> {
    const source = yield node.sources[0].expression.execute(ctx);
    if (source == null) return null;
    const isList = Array.isArray(source);
    const alias = node.aliases[0];
    let returnedValues: unknown[] = [];
    for (const row of isList ? (source as unknown[]) : [source]) {
      const rctx = ctx.childContext();
      rctx.set(alias, row);
      for (const def of node.letClauses) {
        rctx.set(def.identifier, yield def.expression.execute(rctx));
      }
      const relations: unknown[] = [];
      for (const rel of node.relationship) {
        const childCtx = rctx.childContext();
        relations.push(yield rel.execute(childCtx));
      }
      const passed = allTrue(relations) && (node.where ? yield node.where.execute(rctx) : true);
      if (passed) {
        if (node.returnClause != null) {
          returnedValues.push(yield node.returnClause.expression.execute(rctx));
        } else if (node.aggregateClause == null) {
          returnedValues.push(rctx.get(alias));
        } else {
          returnedValues.push(rctx.context_values);
        }
      }
    }
    if (node.isDistinct()) returnedValues = list.toDistinctList(returnedValues);
    if (node.aggregateClause != null) {
      returnedValues = yield node.aggregateClause.aggregate(returnedValues, ctx);
    }
    if (node.sortClause != null) {
      returnedValues = yield* sortBy(node.sortClause, ctx, returnedValues);
    }
    if (isList || node.aggregateClause != null) return returnedValues;
    return returnedValues[0];
  }

  // SortClause.sort: the library's merge sort (util.asyncMergeSort, the same comparisons in the
  // same order), with ByExpression/ByColumn and ByDirection compared without a promise.
  function* sortBy(clause: any, ctx: any, values: unknown[]): Generator<unknown, unknown[]> {
    if (!clause.by) return values;
    return yield* mergeSort(values, clause.by, ctx);
  }
  function* mergeSort(arr: unknown[], by: any[], ctx: any): Generator<unknown, unknown[]> {
    if (arr.length <= 1) return arr;
    const midpoint = Math.floor(arr.length / 2);
    const left = yield* mergeSort(arr.slice(0, midpoint), by, ctx);
    const right = yield* mergeSort(arr.slice(midpoint), by, ctx);
    const sorted: unknown[] = [];
    while (left.length > 0 && right.length > 0) {
      if ((yield* compareBy(by, ctx, left[0], right[0])) <= 0) {
        const sortedElem = left.shift();
        if (sortedElem !== undefined) sorted.push(sortedElem);
      } else {
        const sortedElem = right.shift();
        if (sortedElem !== undefined) sorted.push(sortedElem);
      }
    }
    return [...sorted, ...left, ...right];
  }
  function* compareBy(by: any[], ctx: any, a: any, b: any): Generator<unknown, number> {
    let order = 0;
    for (const item of by) {
      order = yield* orderOf(item, ctx, a, b);
      if (order !== 0) break;
    }
    return order;
  }
  function* orderOf(item: any, ctx: any, a: any, b: any): Generator<unknown, number> {
    if (item instanceof query.ByExpression) {
      // ByExpression.exec (ByColumn is one)
      const aVal = yield item.expression.execute(ctx.childContext(a));
      const bVal = yield item.expression.execute(ctx.childContext(b));
      if (aVal === bVal || (aVal == null && bVal == null)) return 0;
      if (aVal == null || bVal == null) return aVal == null ? item.low_order : item.high_order;
      if (aVal.isQuantity && bVal.isQuantity) {
        return aVal.before(bVal) ? item.low_order : item.high_order;
      }
      return aVal < bVal ? item.low_order : item.high_order;
    }
    if (item instanceof query.ByDirection) {
      // ByDirection.exec
      if (a === b) return 0;
      if (a.isQuantity && b.isQuantity) return a.before(b) ? item.low_order : item.high_order;
      return a < b ? item.low_order : item.high_order;
    }
    return yield item.exec(ctx, a, b);
  }

  // IdentifierRef.exec (the translator's reference to a tuple element in a sort), line for line.
  reusable.IdentifierRef.prototype.execute = executeWith((node: any, ctx: any): unknown => {
    const lib = node.library ? ctx.get(node.library) : undefined;
    let val = lib ? lib.get(node.name) : ctx.get(node.name);
    if (val == null) {
      const parts = node.name.split('.');
      val = ctx.get(parts[0]);
      if (val != null && parts.length > 1) {
        let currObj = val;
        for (const part of parts.slice(1)) {
          let obj;
          if (currObj != null) {
            obj = currObj[part];
            if (obj === undefined && typeof currObj.get === 'function') obj = currObj.get(part);
          }
          currObj = obj instanceof Function ? obj.call(currObj) : obj;
        }
        val = currObj;
      }
    }
    return val instanceof Function ? val.call(ctx.context_values) : val;
  });

  Expression.prototype.execArgs = function execArgs(this: any, ctx: any): unknown {
    if (this.args != null) {
      const args = this.args as any[];
      const values: unknown[] = [];
      for (let index = 0; index < args.length; index++) {
        const value = args[index].execute(ctx);
        if (value instanceof Promise) return remainingArgs(args, index, value, values, ctx);
        values.push(value);
      }
      return values;
    } else if (this.arg != null) {
      return this.arg.execute(ctx);
    }
    return null;
  };
  async function remainingArgs(
    args: any[],
    index: number,
    pending: Promise<unknown>,
    values: unknown[],
    ctx: any,
  ): Promise<unknown[]> {
    values.push(await pending);
    for (let i = index + 1; i < args.length; i++) values.push(await args[i].execute(ctx));
    return values;
  }

  installSyncOperators(executeWith, drive);
}
