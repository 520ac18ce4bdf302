/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   cql-execution's internal modules are untyped. */
import { createRequire } from 'node:module';
import type { SyncKit } from './sync-kit.js';

const require = createRequire(import.meta.url);

/**
 * Retrieve and terminology without a promise when the patient source and the code service answer
 * at once (installed by operators.ts, scheme in expressions.ts); a promise from either is waited
 * for, as the library's `await`:
 *  - lib/elm/external.js: `Retrieve.exec` (line for line as a generator: codes, value set
 *    expansion, date range, `findRecords`, the code and date filters, `evaluatedRecords`);
 *  - lib/elm/clinical.js: `ValueSetRef.exec`, `CodeSystemDef.exec`, `ValueSetDef.exec`;
 *  - lib/runtime/context.js: `Context.findRecords`, `PatientContext.findRecords` (the library's,
 *    without `async`).
 * The patient source the engine retrieves from: patient-source.ts.
 */
export function installRetrieve({ executeWith, drive }: SyncKit): void {
  const { typeIsArray } = require('cql-execution/lib/util/util.js');
  const { Expression } = require('cql-execution/lib/elm/expression.js');
  const DT = require('cql-execution/lib/datatypes/datatypes.js');
  const external = require('cql-execution/lib/elm/external.js');
  function* retrieve(node: any, ctx: any): Generator<unknown, unknown> {
    // Object with retrieve information to pass back to patient source
    const retrieveDetails: Record<string, any> = {
      datatype: node.datatype,
      ...(node.codeProperty ? { codeProperty: node.codeProperty } : {}),
      ...(node.dateProperty ? { dateProperty: node.dateProperty } : {}),
    };
    if (node.codes) {
      const executedCodes: any = yield node.codes.execute(ctx);
      if (executedCodes == null) return [];
      if (typeIsArray(executedCodes)) {
        retrieveDetails.codes = executedCodes;
      } else {
        // util.resolveValueSet
        const vsExpansion = yield ctx.codeService.findValueSet(
          executedCodes.id,
          executedCodes.version,
        );
        if (!vsExpansion) {
          throw new Error(
            `Unable to resolve expected valueset with id ${String(executedCodes.id)} and version ${String(executedCodes.version)}`,
          );
        }
        retrieveDetails.codes = vsExpansion;
      }
    }
    if (node.dateRange) retrieveDetails.dateRange = yield node.dateRange.execute(ctx);
    if (node.templateId) retrieveDetails.templateId = node.templateId;
    let records: any = yield ctx.findRecords(
      node.templateId != null ? node.templateId : node.datatype,
      retrieveDetails,
    );
    if (retrieveDetails.codes) {
      records = records.filter((r: unknown) =>
        node.recordMatchesCodesOrVS(r, retrieveDetails.codes),
      );
    }
    if (retrieveDetails.dateRange && node.dateProperty) {
      records = records.filter((r: any) =>
        retrieveDetails.dateRange?.includes(r.getDateOrInterval(node.dateProperty)),
      );
    }
    if (Array.isArray(records)) ctx.evaluatedRecords.push(...records);
    else ctx.evaluatedRecords.push(records);
    return records;
  }
  external.Retrieve.prototype.execute = executeWith((node: any, ctx: any): unknown =>
    drive(retrieve(node, ctx)),
  );

  const clinical = require('cql-execution/lib/elm/clinical.js');
  clinical.ValueSetRef.prototype.execute = executeWith((node: any, ctx: any): unknown => {
    const valueset = ctx.getValueSet(node.name, node.libraryName);
    return valueset instanceof Expression ? valueset.execute(ctx) : valueset;
  });
  clinical.CodeSystemDef.prototype.execute = executeWith(
    (node: any): unknown => new DT.CodeSystem(node.id, node.version, node.name),
  );
  // ValueSetDef.exec: its code systems (CodeSystemRef.exec: the definition's value), then the value set.
  clinical.ValueSetDef.prototype.execute = executeWith((node: any, ctx: any): unknown => {
    const valueSetOf = (codeSystems: unknown) =>
      new DT.CQLValueSet(node.id, node.version, node.name, codeSystems);
    if (!node.codesystems) return valueSetOf(undefined);
    const codeSystems: unknown[] = [];
    let pending = false;
    for (const csRef of node.codesystems as any[]) {
      const value = ctx.getCodeSystem(csRef.name, csRef.libraryName).execute(ctx);
      if (value instanceof Promise) pending = true;
      codeSystems.push(value);
    }
    return pending ? Promise.all(codeSystems).then(valueSetOf) : valueSetOf(codeSystems);
  });

  // Context.findRecords and PatientContext.findRecords are `async` around the patient source's
  // answer (the engine's indexed source answers at once): the same calls, without the promise.
  const runtime = require('cql-execution/lib/runtime/context.js');
  runtime.Context.prototype.findRecords = function findRecords(
    this: any,
    profile: unknown,
    retrieveDetails: unknown,
  ): unknown {
    return this.parent && this.parent.findRecords(profile, retrieveDetails);
  };
  runtime.PatientContext.prototype.findRecords = function findRecords(
    this: any,
    profile: unknown,
    retrieveDetails: unknown,
  ): unknown {
    return this.patient && this.patient.findRecords(profile, retrieveDetails);
  };
}
