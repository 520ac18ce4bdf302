/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   cql-execution's internal modules are untyped. */
import { createRequire } from 'node:module';
import { installSyncExpressions, syncExecute } from './expressions.js';

const require = createRequire(import.meta.url);
let installed = false;

/** A per-patient store of function results, found from the root context of an evaluation. */
export interface FunctionMemoHolder {
  readonly functionMemo?: Map<unknown, unknown>;
}

const RESULT = Symbol('result');

/** Where a memo node keeps the nodes of list arguments, by content. */
const LISTS = Symbol('lists');

/**
 * The content of a list of strings, finite numbers, Booleans and nulls as a string (JSON: equal
 * strings exactly for lists of equal values in the same order), or undefined for any other list.
 */
function listKey(list: readonly unknown[]): string | undefined {
  for (const item of list) {
    if (item === null || typeof item === 'string' || typeof item === 'boolean') continue;
    if (typeof item === 'number' && Number.isFinite(item)) continue;
    return undefined;
  }
  return JSON.stringify(list);
}

/** The memo node below `node` for `key` (created when missing). */
function step(node: Map<unknown, unknown>, key: unknown): Map<unknown, unknown> {
  if (Array.isArray(key)) {
    const content = listKey(key);
    if (content !== undefined) {
      let lists = node.get(LISTS) as Map<string, Map<unknown, unknown>> | undefined;
      if (lists === undefined) {
        lists = new Map();
        node.set(LISTS, lists);
      }
      let next = lists.get(content);
      if (next === undefined) {
        next = new Map();
        lists.set(content, next);
      }
      return next;
    }
  }
  let next = node.get(key) as Map<unknown, unknown> | undefined;
  if (next === undefined) {
    next = new Map();
    node.set(key, next);
  }
  return next;
}

/**
 * Remembers CQL function results within one patient's evaluation (process-wide patch, once).
 *
 * cql-execution caches a definition's value but calls a function again on every reference: the
 * shared libraries call `EffectiveTime(O)`, `ToQuantity(q)`, `ConceptText(med)`... many times
 * over the same resources. A CQL function has no side effects and, within one patient's
 * evaluation, depends only on its arguments (its library context, the patient, `Now()` and the
 * terminology are fixed), so a call with the same function definition and the same arguments
 * (the same primitive values, or the very same objects: resource wrappers are created once per
 * patient) returns the value it returned before. A list of primitive values (strings, numbers,
 * Booleans, nulls) counts by its content, not by identity: CQL lists are values, and a function
 * given an equal list returns an equal value (e.g. `IngredientsMatching` of a drug's RxNorm codes
 * and text, which a record repeats on every prescription). Only contexts that carry a
 * `functionMemo` (the engine's per-patient contexts) use it; results are shared values, as cached
 * definitions are.
 *
 * The call logic is cql-execution 3.3.2's FunctionRef.exec (overload choice by argument count,
 * then by argument type), with two savings that change no result: the overloads of each arity are
 * filtered once per function list (the library's list never changes), and the child context that
 * holds the parameters is built only when the function is evaluated, not for a remembered call.
 * A call returns its value without a promise when its arguments and its body need no waiting
 * (`syncExecute`, as the sync expressions do); the value is remembered once it is known.
 */
export function installFunctionMemo(): void {
  if (installed) return;
  installed = true;
  // Installed with the memo: the engine's one hook for how expressions execute.
  installSyncExpressions();
  require('cql-execution');
  const reusable = require('cql-execution/lib/elm/reusable.js');
  const FunctionRef = reusable.FunctionRef as { prototype: any };
  /** Candidates of each arity, per function list (the ELM's, fixed once the library is built). */
  const byArity = new WeakMap<object, Map<number, any[]>>();
  function candidatesOf(functionDefs: any[], arity: number): any[] {
    let lists = byArity.get(functionDefs);
    if (lists === undefined) {
      lists = new Map();
      byArity.set(functionDefs, lists);
    }
    let list = lists.get(arity);
    if (list === undefined) {
      list = functionDefs.filter((f: any) => f.parameters.length === arity);
      lists.set(arity, list);
    }
    return list;
  }
  FunctionRef.prototype.exec = function exec(this: any, ctx: any): unknown {
    let allDefs: any[];
    let libCtx: any;
    if (this.library) {
      const lib = ctx.get(this.library);
      allDefs = lib ? lib.getFunction(this.name) : undefined;
      libCtx = ctx.getLibraryContext(this.library);
    } else {
      allDefs = ctx.getFunction(this.name);
    }
    const args = this.execArgs(ctx) as unknown[] | Promise<unknown[]>;
    if (args instanceof Promise) {
      return args.then((values) => callWith(this, ctx, allDefs, libCtx, values));
    }
    return callWith(this, ctx, allDefs, libCtx, args);
  };
  FunctionRef.prototype.execute = syncExecute((node: any, ctx: any): unknown => node.exec(ctx));
  function callWith(ref: any, ctx: any, allDefs: any[], libCtx: any, args: unknown[]): unknown {
    let functionDefs = candidatesOf(allDefs, args.length);
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
    // The library's child context's root is the library context's root (a child adds only the
    // parameters): found without building the child, which only a call that is not remembered needs.
    const root = ref.library ? libCtx?.rootContext() : ctx.rootContext();
    const memo = (root as FunctionMemoHolder | undefined)?.functionMemo;
    let node: Map<unknown, unknown> | undefined;
    if (memo !== undefined) {
      node = step(memo, functionDef);
      for (let i = 0; i < args.length; i++) node = step(node, args[i]);
      if (node.has(RESULT)) return node.get(RESULT);
    }
    const childCtx = ref.library ? libCtx?.childContext() : ctx.childContext();
    for (let i = 0; i < functionDef.parameters.length; i++) {
      childCtx.set(functionDef.parameters[i].name, args[i]);
    }
    const value = functionDef.expression.execute(childCtx);
    if (node === undefined) return value;
    const memoNode = node;
    if (value instanceof Promise) {
      return value.then((settled) => {
        memoNode.set(RESULT, settled);
        return settled;
      });
    }
    memoNode.set(RESULT, value);
    return value;
  }
}
