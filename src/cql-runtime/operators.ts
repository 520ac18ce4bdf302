/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument --
   cql-execution's internal modules are untyped. */
import { createRequire } from 'node:module';
import { then, type SyncKit } from './sync-kit.js';
import { installListOperators } from './lists.js';
import { installRetrieve } from './retrieve.js';
import { installDateTimeOperators } from './date-time.js';

const require = createRequire(import.meta.url);

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
 * Upstream counterparts (node_modules/cql-execution/lib/), each the class's `exec`:
 *  - elm/logical.js: `And`, `Or`, `Not` (ThreeValuedLogic, all operands evaluated, as the library does);
 *  - elm/nullological.js: `IsNull`, `Coalesce`;
 *  - elm/overloaded.js `Equal`, `SameOrBefore`, `SameOrAfter`, `In`; elm/comparison.js `Less`,
 *    `LessOrEqual`, `Greater`, `GreaterOrEqual`;
 *  - elm/type.js: `As`, `Is`, `ToDecimal`; elm/conditional.js: `If`, `Case`;
 *  - elm/structured.js: `Tuple`; elm/string.js: `Concatenate`, `Matches` (the pattern's RegExp
 *    built once per pattern string: `test` of a RegExp without the g or y flag keeps no state),
 *    `Lower`, `PositionOf`, `Combine`;
 *  - elm/reusable.js: `ExpressionDef` (a definition's value, cached in the root context as the
 *    library does);
 *  - elm/quantity.js `Quantity`, elm/instance.js `Instance`;
 *  - elm/arithmetic.js: `Add`, `Subtract`, `Multiply`, `Divide` (the library's reducers,
 *    uncertainties and overflow check included).
 * The other families are installed from here with the same kit (sync-kit.ts): lists and
 * aggregates (lists.ts), retrieve and terminology (retrieve.ts), `Now` (date-time.ts).
 */
export function installSyncOperators(
  executeWith: (compute: (node: any, ctx: any) => unknown) => (this: any, ctx: any) => unknown,
  drive: (gen: Generator<unknown, unknown>) => unknown,
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

  const DT = require('cql-execution/lib/datatypes/datatypes.js');
  const quantity = require('cql-execution/lib/elm/quantity.js');
  quantity.Quantity.prototype.execute = executeWith(
    (node: any): unknown => new DT.Quantity(node.value, node.unit),
  );
  const instance = require('cql-execution/lib/elm/instance.js');
  function* instanceOf(node: any, ctx: any): Generator<unknown, unknown> {
    const obj: Record<string, any> = {};
    for (const el of node.element) {
      obj[el.name] = yield el.value != null ? el.value.execute(ctx) : undefined;
    }
    switch (node.classType) {
      case '{urn:hl7-org:elm-types:r1}Quantity':
        return new DT.Quantity(obj.value, obj.unit);
      case '{urn:hl7-org:elm-types:r1}Code':
        return new DT.Code(obj.code, obj.system, obj.version, obj.display);
      case '{urn:hl7-org:elm-types:r1}Concept':
        return new DT.Concept(obj.codes, obj.display);
      default:
        return obj;
    }
  }
  instance.Instance.prototype.execute = executeWith((node: any, ctx: any): unknown =>
    drive(instanceOf(node, ctx)),
  );

  const { limitDecimalPrecision, isValidDecimal } = require('cql-execution/lib/util/math.js');
  type.ToDecimal.prototype.execute = fromArgs((_node, arg) => {
    if (arg != null) {
      if (arg.isUncertainty) {
        const low = limitDecimalPrecision(parseFloat(arg.low.toString()));
        const high = limitDecimalPrecision(parseFloat(arg.high.toString()));
        return new Uncertainty(low, high);
      }
      const decimal = limitDecimalPrecision(parseFloat(arg.toString()));
      if (isValidDecimal(decimal)) return decimal;
    }
    return null;
  });
  const patterns = new Map<string, RegExp>();
  string.Matches.prototype.execute = fromArgs((_node, [text, pattern]) => {
    if (text == null || pattern == null) return null;
    let regex = patterns.get(pattern);
    if (regex === undefined) {
      // the patterns are the libraries' own (a few dozen); bounded all the same
      if (patterns.size >= 1000) patterns.clear();
      regex = new RegExp('^' + String(pattern) + '$');
      patterns.set(pattern, regex);
    }
    return regex.test(text);
  });

  const arithmetic = require('cql-execution/lib/elm/arithmetic.js');
  const quantityType = require('cql-execution/lib/datatypes/quantity.js');
  const MathUtil = require('cql-execution/lib/util/math.js');
  /** The library's arithmetic exec: null operand -> null, reduce, overflow -> null. */
  function arithmeticOf(reducer: (x: any, y: any) => unknown) {
    return fromArgs((_node, args) => {
      if (args == null || args.some((x: unknown) => x == null)) return null;
      const value = (args as any[]).reduce(reducer);
      return MathUtil.overflowsOrUnderflows(value) ? null : value;
    });
  }
  /** Both operands uncertain when one is (the library's first step in each reducer). */
  function bothUncertain(x: any, y: any): [any, any] {
    if (x.isUncertainty && !y.isUncertainty) return [x, new Uncertainty(y, y)];
    if (y.isUncertainty && !x.isUncertainty) return [new Uncertainty(x, x), y];
    return [x, y];
  }
  const isTemporalOrQuantity = (v: any): boolean =>
    v.isQuantity || v.isDateTime || v.isDate || (v.isTime && v.isTime());
  arithmetic.Add.prototype.execute = arithmeticOf((a, b) => {
    const [x, y] = bothUncertain(a, b);
    if (isTemporalOrQuantity(x)) return quantityType.doAddition(x, y);
    if (x.isUncertainty && y.isUncertainty) {
      if (isTemporalOrQuantity(x.low)) {
        return new Uncertainty(
          quantityType.doAddition(x.low, y.low),
          quantityType.doAddition(x.high, y.high),
        );
      }
      // numbers here (the library's `+` on whatever the operands are; a cast changes nothing at run time)
      return new Uncertainty(
        (x.low as number) + (y.low as number),
        (x.high as number) + (y.high as number),
      );
    }
    return (x as number) + (y as number);
  });
  arithmetic.Subtract.prototype.execute = arithmeticOf((a, b) => {
    const [x, y] = bothUncertain(a, b);
    if (x.isQuantity || x.isDateTime || x.isDate) return quantityType.doSubtraction(x, y);
    if (x.isUncertainty && y.isUncertainty) {
      if (x.low.isQuantity || x.low.isDateTime || x.low.isDate) {
        return new Uncertainty(
          quantityType.doSubtraction(x.low, y.high),
          quantityType.doSubtraction(x.high, y.low),
        );
      }
      return new Uncertainty(x.low - y.high, x.high - y.low);
    }
    return x - y;
  });
  arithmetic.Multiply.prototype.execute = arithmeticOf((a, b) => {
    const [x, y] = bothUncertain(a, b);
    if (x.isQuantity || y.isQuantity) return quantityType.doMultiplication(x, y);
    if (x.isUncertainty && y.isUncertainty) {
      if (x.low.isQuantity) {
        return new Uncertainty(
          quantityType.doMultiplication(x.low, y.low),
          quantityType.doMultiplication(x.high, y.high),
        );
      }
      return new Uncertainty(x.low * y.low, x.high * y.high);
    }
    return x * y;
  });
  arithmetic.Divide.prototype.execute = arithmeticOf((a, b) => {
    const [x, y] = bothUncertain(a, b);
    if (x.isQuantity) return quantityType.doDivision(x, y);
    if (x.isUncertainty && y.isUncertainty) {
      if (x.low.isQuantity) {
        return new Uncertainty(
          quantityType.doDivision(x.low, y.high),
          quantityType.doDivision(x.high, y.low),
        );
      }
      return new Uncertainty(x.low / y.high, x.high / y.low);
    }
    return x / y;
  });

  string.Lower.prototype.execute = fromArgs((_node, arg) =>
    arg != null ? arg.toLowerCase() : null,
  );
  string.PositionOf.prototype.execute = executeWith((node: any, ctx: any): unknown =>
    then(node.pattern.execute(ctx), (pattern) =>
      then(node.string.execute(ctx), (text) =>
        pattern == null || text == null ? null : text.indexOf(pattern),
      ),
    ),
  );
  string.Combine.prototype.execute = executeWith((node: any, ctx: any): unknown =>
    then(node.source.execute(ctx), (source) =>
      then(node.separator != null ? node.separator.execute(ctx) : '', (separator) => {
        if (source == null) return null;
        const filteredArray = source.filter((x: unknown) => x != null);
        return filteredArray.length === 0 ? null : filteredArray.join(separator);
      }),
    ),
  );

  const kit: SyncKit = { executeWith, drive, fromArgs, withArgs };
  installListOperators(kit);
  installRetrieve(kit);
  installDateTimeOperators(kit);
}
