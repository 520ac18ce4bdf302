/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   cql-execution's internal modules are untyped. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let installed = false;

/** A per-patient store of function results, found from the root context of an evaluation. */
export interface FunctionMemoHolder {
  readonly functionMemo?: Map<unknown, unknown>;
}

const RESULT = Symbol('result');

/**
 * Remembers CQL function results within one patient's evaluation (process-wide patch, once).
 *
 * cql-execution caches a definition's value but calls a function again on every reference: the
 * shared libraries call `EffectiveTime(O)`, `ToQuantity(q)`, `ConceptText(med)`... many times
 * over the same resources. A CQL function has no side effects and, within one patient's
 * evaluation, depends only on its arguments (its library context, the patient, `Now()` and the
 * terminology are fixed), so a call with the same function definition and the same arguments
 * (the same primitive values, or the very same objects: resource wrappers are created once per
 * patient) returns the value it returned before. Only contexts that carry a `functionMemo` (the
 * engine's per-patient contexts) use it; results are shared values, as cached definitions are.
 *
 * The call logic is cql-execution 3.3.2's FunctionRef.exec (overload choice by argument count,
 * then by argument type), unchanged.
 */
export function installFunctionMemo(): void {
  if (installed) return;
  installed = true;
  require('cql-execution');
  const reusable = require('cql-execution/lib/elm/reusable.js');
  const FunctionRef = reusable.FunctionRef as { prototype: any };
  FunctionRef.prototype.exec = async function exec(this: any, ctx: any): Promise<unknown> {
    let functionDefs: any[];
    let childCtx: any;
    if (this.library) {
      const lib = ctx.get(this.library);
      functionDefs = lib ? lib.getFunction(this.name) : undefined;
      const libCtx = ctx.getLibraryContext(this.library);
      childCtx = libCtx ? libCtx.childContext() : undefined;
    } else {
      functionDefs = ctx.getFunction(this.name);
      childCtx = ctx.childContext();
    }
    const args: unknown[] = await this.execArgs(ctx);
    functionDefs = functionDefs.filter((f: any) => f.parameters.length === args.length);
    if (functionDefs.length > 1) {
      functionDefs = functionDefs.filter((f: any) => {
        let match = true;
        for (let i = 0; i < args.length && match; i++) {
          if (args[i] !== null) {
            let operandTypeSpecifier = f.parameters[i].operandTypeSpecifier;
            if (operandTypeSpecifier == null && f.parameters[i].operandType != null) {
              operandTypeSpecifier = {
                name: f.parameters[i].operandType,
                type: 'NamedTypeSpecifier',
              };
            }
            match = ctx.matchesTypeSpecifier(args[i], operandTypeSpecifier);
          }
        }
        return match;
      });
    }
    if (functionDefs.length === 0) {
      throw new Error('no function with matching signature could be found');
    }
    const functionDef = functionDefs[functionDefs.length - 1];
    const memo = (childCtx?.rootContext() as FunctionMemoHolder | undefined)?.functionMemo;
    let node: Map<unknown, unknown> | undefined;
    if (memo !== undefined) {
      node = memo;
      for (const key of [functionDef, ...args]) {
        let next = node.get(key) as Map<unknown, unknown> | undefined;
        if (next === undefined) {
          next = new Map();
          node.set(key, next);
        }
        node = next;
      }
      if (node.has(RESULT)) return node.get(RESULT);
    }
    for (let i = 0; i < functionDef.parameters.length; i++) {
      childCtx.set(functionDef.parameters[i].name, args[i]);
    }
    const value = await functionDef.expression.execute(childCtx);
    node?.set(RESULT, value);
    return value;
  };
}
