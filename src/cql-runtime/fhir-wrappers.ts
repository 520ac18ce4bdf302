/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument --
   cql-exec-fhir's wrappers and model info are untyped. */
import { Code, DateTime, Interval } from 'cql-execution';

/**
 * cql-exec-fhir 2.2.0's `FHIRObject.prototype.get` with a cheaper way to build the wrappers it
 * returns; used by patient-source.ts (which also remembers each value per wrapper).
 *
 * The library builds every wrapper with its constructor, which walks the type and its base types
 * to collect element names, then defines one own accessor per element with a new closure each.
 * Even with shared getters, defining an accessor costs about half a microsecond (a 35-element
 * Observation about 15 us), which was the largest single cost of an evaluation. Here a wrapper is
 * made "thin": an object holding only its non-enumerable `_json`, whose prototype is one object per
 * type (below FHIRObject.prototype) carrying `_typeInfo`, `_modelInfo` and the type's accessors,
 * the getters shared (`this.get(name)` as in the library). Reading an element, `instanceof`,
 * `constructor`, the type methods: all the same.
 *
 * What a thin wrapper lacks is the library's own enumerable properties, which only two things
 * read: cql-execution's comparison of objects (`equals`, `equivalent` in util/comparison.js
 * compare `Object.keys`) and its value keys (immutableUtil.js, immutable.js `Seq` of the object).
 * Both are synchronous and both are entered through module exports, which the engine wraps with
 * `observe` (patient-source.ts, list-value-keys.ts): the wrappers in the arguments
 * (inside lists and tuples too), and every wrapper made or read while it runs, are first given
 * exactly the own properties the library's constructor defines (`materialize`), so these
 * functions see what they saw before. (cql-execution's `Message` debug output, unused here, would
 * print a thin wrapper as `{}`.)
 *
 * The property logic (choices, FHIR primitives with `_property` extensions, System types) is the
 * library's, line for line, except that what depends only on the type and the field (the element,
 * its JSON property and type, the candidate properties of a choice, whether a type is a FHIR
 * primitive) is worked out once per type and field instead of on every read. `getCode` (the
 * retrieve's code filter) is the library's too, except that a plain Coding's Code is built from
 * its JSON rather than through a wrapper per element (toCode below: the same values). Pinned to
 * cql-exec-fhir 2.2.0 and cql-execution 3.3.2 (package.json); the criterion tests and the
 * demo/Synthea comparison guard it.
 */
export interface FastWrappers {
  /** Replaces `FHIRObject.prototype.get`. */
  readonly get: (this: any, field: string) => any;
  /** `new FHIRObject(json, typeInfo, modelInfo)`. */
  readonly wrap: (json: any, typeInfo: any, modelInfo: any) => any;
  /** Replaces `FHIRObject.prototype.getCode` (the retrieve's code filter). */
  readonly getCode: (this: any, field: string) => any;
  /**
   * Runs `action` (a synchronous look at values' own properties: a comparison, a value key) with
   * the wrappers in `values`, and every wrapper made or read meanwhile, in the library's shape.
   */
  readonly observe: <T>(values: readonly unknown[], action: () => T) => T;
  /** Puts a value just read in the library's shape when an `observe` is running. */
  readonly settle: (value: unknown) => void;
}

/** A Coding whose elements are plain JSON values (no `_code`-style extensions), or null. */
function isPlainCoding(coding: unknown): boolean {
  if (coding === null || coding === undefined) return true;
  if (typeof coding !== 'object' || Array.isArray(coding)) return false;
  const c = coding as Record<string, unknown>;
  return (
    c._code === undefined &&
    c._system === undefined &&
    c._version === undefined &&
    c._display === undefined
  );
}

/**
 * cql-exec-fhir's `toCode` of a Coding, from its JSON: for a plain Coding each of
 * `f.code ? f.code.value : f.code` (and system, version, display) is the JSON value itself (a
 * missing or null element stays as it is; a present one is wrapped and unwrapped unchanged).
 */
function codeOfPlainCoding(coding: any): any {
  if (coding === null || coding === undefined) return coding;
  return new Code(coding.code, coding.system, coding.version, coding.display);
}

/**
 * cql-exec-fhir 2.2.0's `toCode` (a CodeableConcept, Coding or code wrapper to CQL Codes), reading
 * plain Codings straight from their JSON instead of through a wrapper per element: the same Codes.
 * Anything else (extensions on primitives, unexpected shapes) takes the library's path.
 */
function toCode(f: any): any {
  if (f == null) return f;
  if (Array.isArray(f)) return f.map((c: any) => toCode(c));
  const typeName = String(f.getTypeInfo().name).replace(/^FHIR\./, '');
  if (typeName === 'CodeableConcept') {
    const json = f._json;
    if (
      json !== null &&
      typeof json === 'object' &&
      json._coding === undefined &&
      Array.isArray(json.coding) &&
      (json.coding as unknown[]).every(isPlainCoding)
    ) {
      const codings = (json.coding as unknown[]).map(codeOfPlainCoding);
      return codings.length === 1 ? codings[0] : codings;
    }
    if (f.coding == null) return f.coding;
    const codings = f.coding.map((c: any) => toCode(c));
    return codings.length === 1 ? codings[0] : codings;
  } else if (typeName === 'Coding') {
    if (isPlainCoding(f._json)) return codeOfPlainCoding(f._json);
    return new Code(
      f.code ? f.code.value : f.code,
      f.system ? f.system.value : f.system,
      f.version ? f.version.value : f.version,
      f.display ? f.display.value : f.display,
    );
  } else if (typeName === 'code') {
    return f.value;
  }
  return undefined;
}

export function createFastWrappers(fhirObjectPrototype: any): FastWrappers {
  const descriptorsByType = new WeakMap<object, PropertyDescriptorMap>();
  const getters = new Map<string, () => unknown>();

  function descriptorsOf(typeInfo: any, modelInfo: any): PropertyDescriptorMap {
    let descriptors = descriptorsByType.get(typeInfo);
    if (descriptors === undefined) {
      const elementNames = new Set<string>();
      for (let current = typeInfo; current != null;) {
        for (const e of current.elements) elementNames.add(e.name);
        current =
          current.baseTypeSpecifier != null
            ? modelInfo.findClass(current.baseTypeSpecifier.fqn)
            : null;
      }
      descriptors = {
        _typeInfo: { value: typeInfo, enumerable: false },
        _modelInfo: { value: modelInfo, enumerable: false },
      };
      for (const name of elementNames) {
        let get = getters.get(name);
        if (get === undefined) {
          get = function (this: any): unknown {
            return this.get(name);
          };
          getters.set(name, get);
        }
        descriptors[name] = { get, enumerable: true };
      }
      descriptorsByType.set(typeInfo, descriptors);
    }
    return descriptors;
  }

  /** `new FHIRObject(json, typeInfo, modelInfo)`, cheaper. */
  function newFhirObject(json: any, typeInfo: any, modelInfo: any): any {
    if (typeInfo == null) {
      // The library logs and returns a wrapper without elements: keep its behaviour.
      const wrapper = Object.create(fhirObjectPrototype);
      Object.defineProperties(wrapper, {
        _json: { value: json, enumerable: false },
        _typeInfo: { value: typeInfo, enumerable: false },
        _modelInfo: { value: modelInfo, enumerable: false },
      });
      console.error(`Failed to locate typeInfo for ${String(json)}`);
      return wrapper;
    }
    const wrapper = Object.create(typePrototypeOf(typeInfo, modelInfo));
    Object.defineProperty(wrapper, '_json', { value: json, enumerable: false });
    if (observing > 0) materialize(wrapper);
    return wrapper;
  }

  /**
   * Per type, a prototype below FHIRObject.prototype holding the type's accessors (and its
   * `_typeInfo`, `_modelInfo`): a wrapper is made with its `_json` alone, and reading an element
   * goes through the same getter as on a wrapper of the library's shape.
   */
  const typePrototypes = new WeakMap<object, object>();
  function typePrototypeOf(typeInfo: any, modelInfo: any): object {
    let prototype = typePrototypes.get(typeInfo);
    if (prototype === undefined) {
      prototype = Object.create(fhirObjectPrototype, descriptorsOf(typeInfo, modelInfo)) as object;
      typePrototypes.set(typeInfo, prototype);
    }
    return prototype;
  }

  /** Gives a wrapper the library's own properties (once): `_typeInfo`, `_modelInfo`, an accessor per element. */
  function materialize(wrapper: any): void {
    if (Object.prototype.hasOwnProperty.call(wrapper, '_typeInfo')) return;
    Object.defineProperties(wrapper, descriptorsOf(wrapper._typeInfo, wrapper._modelInfo));
  }

  /** Wrappers in `value` (itself, or inside lists and tuples) materialised. */
  function materializeIn(value: any): void {
    if (value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const item of value) materializeIn(item);
    } else if (value instanceof fhirObjectPrototype.constructor) {
      materialize(value);
    } else if (value.constructor === Object) {
      for (const key of Object.keys(value)) materializeIn(value[key]);
    }
  }

  /** While above 0, every wrapper made or read is materialised (see observe). */
  let observing = 0;
  function observe<T>(values: readonly unknown[], action: () => T): T {
    for (const value of values) materializeIn(value);
    observing++;
    try {
      return action();
    } finally {
      observing--;
    }
  }
  function settle(value: unknown): void {
    if (observing > 0) materializeIn(value);
  }

  function normalizeChoiceName(choiceName: string): string {
    return choiceName === 'SimpleQuantity' ? 'Quantity' : choiceName;
  }

  /** isFHIRPrimitiveOrListOfFHIRPrimitives by type specifier (fixed once the model is loaded). */
  const primitiveTypes = new WeakMap<object, { modelInfo: any; primitive: boolean }>();
  function isPrimitiveType(typeSpecifier: any, modelInfo: any): boolean {
    const known = primitiveTypes.get(typeSpecifier);
    if (known !== undefined && known.modelInfo === modelInfo) return known.primitive;
    const primitive = isFHIRPrimitiveOrListOfFHIRPrimitives(typeSpecifier, modelInfo);
    primitiveTypes.set(typeSpecifier, { modelInfo, primitive });
    return primitive;
  }

  function isFHIRPrimitiveOrListOfFHIRPrimitives(typeSpecifier: any, modelInfo: any): boolean {
    if (typeSpecifier.isNamed) {
      if (
        typeSpecifier.namespace === 'FHIR' &&
        typeSpecifier.name[0].toLowerCase() === typeSpecifier.name[0]
      ) {
        return true;
      }
      const typeInfo = modelInfo.findClass(typeSpecifier.fqn);
      if (
        typeInfo &&
        typeInfo.baseTypeSpecifier &&
        typeInfo.baseTypeSpecifier.fqn === 'FHIR.Element' &&
        typeInfo.elements.length === 1
      ) {
        const property = typeInfo.findElement('value');
        return property && property.typeSpecifier.fqn === 'System.String';
      }
      return false;
    } else if (typeSpecifier.isList) {
      return isFHIRPrimitiveOrListOfFHIRPrimitives(typeSpecifier.elementType, modelInfo);
    }
    return false;
  }

  function getPropertyFromJSON(
    json: any,
    property: string,
    typeSpecifier: any,
    modelInfo: any,
  ): any {
    const value = json[property];
    const extra = json[`_${property}`];
    if (value == null && extra == null) {
      return json[property];
    }
    if (isPrimitiveType(typeSpecifier, modelInfo)) {
      const valueArr = typeSpecifier.isList && Array.isArray(value) ? [...value] : [value];
      const extraArr = typeSpecifier.isList && Array.isArray(extra) ? [...extra] : [extra];
      while (valueArr.length > extraArr.length) extraArr.push(undefined);
      while (extraArr.length > valueArr.length) valueArr.push(undefined);
      const data: any[] = [];
      for (let i = 0; i < valueArr.length; i++) {
        let item: any = {};
        if (typeof valueArr[i] !== 'undefined') item.value = valueArr[i];
        if (extraArr[i] != null) Object.assign(item, extraArr[i]);
        if (valueArr[i] == null && extraArr[i] == null) item = valueArr[i];
        data.push(item);
      }
      return typeSpecifier.isList ? data : data[0];
    }
    return json[property];
  }

  function toSystemObject(data: any, name: string): any {
    if (data == null) return data;
    switch (name) {
      case 'Boolean':
      case 'Integer':
      case 'String':
        return data;
      case 'Decimal':
        // cql-execution 3 has no Decimal class: the library falls back to the plain number.
        return data;
      case 'Code':
      case 'Concept':
      case 'Quantity':
        return undefined;
      case 'DateTime':
        return DateTime.parse(data.replace('Z', '+00:00'));
      case 'Date':
        return DateTime.parse(data) != null
          ? (DateTime.parse(data) as DateTime).getDate()
          : undefined;
      case 'Time': {
        const time: any = DateTime.parse(`0000-01-01T${data.replace('Z', '+00:00')}`);
        time.timezoneOffset = null;
        return time;
      }
    }
    return undefined;
  }

  function toFHIRObject(data: any, typeSpecifier: any, modelInfo: any, suffix?: string): any {
    if (data == null) return data;
    if (typeSpecifier.isNamed) {
      const rootClassInfo = modelInfo.findClass(typeSpecifier.fqn);
      const rootObject = newFhirObject(data, rootClassInfo, modelInfo);
      if (suffix != null) return rootObject.get(suffix);
      return rootObject;
    } else if (typeSpecifier.isList) {
      if (suffix != null) {
        console.error('List type found in the middle of a path.');
        return undefined;
      }
      return data.map((item: any) => toFHIRObject(item, typeSpecifier.elementType, modelInfo));
    } else if (typeSpecifier.isInterval) {
      return new Interval(
        toFHIRObject(data.low, typeSpecifier.pointType, modelInfo),
        toFHIRObject(data.high, typeSpecifier.pointType, modelInfo),
        data.lowClosed,
        data.highClosed,
      );
    }
    return undefined;
  }

  function choicePropertyName(element: any, choice: any): string {
    const choiceName = normalizeChoiceName(choice.name);
    return `${element.name}${choiceName.charAt(0).toUpperCase()}${choiceName.slice(1)}`;
  }

  /**
   * What `get` works out from a wrapper's type and the field name alone (the element, the JSON
   * property and type of a fixed element or an explicit choice, the candidates of an implicit
   * choice), once per type and field. Only the choice present in the JSON is decided per wrapper.
   */
  interface FieldPlan {
    readonly suffix: string | undefined;
    readonly property: string;
    readonly typeSpecifier: any;
    /** An implicit choice (`value` of `valueQuantity`...): [property, `_property`, type] each. */
    readonly choices: readonly (readonly [string, string, any])[] | undefined;
  }
  const plansByType = new WeakMap<object, Map<string, FieldPlan>>();

  function planOf(typeInfo: any, field: string): FieldPlan | undefined {
    let plans = plansByType.get(typeInfo);
    if (plans === undefined) {
      plans = new Map();
      plansByType.set(typeInfo, plans);
    }
    let plan = plans.get(field);
    if (plan !== undefined) return plan;
    const parts = field.split('.');
    const root = parts[0] as string;
    const suffix = parts.length > 1 ? parts.splice(1).join('.') : undefined;
    const element = typeInfo.findElement(root, true);
    if (typeof element === 'undefined') return undefined; // the library's error path, every time
    if (root !== element.name && element.typeSpecifier.isChoice) {
      plan = {
        suffix,
        property: root,
        typeSpecifier: element.typeSpecifier.choices.find(
          (c: any) => root === choicePropertyName(element, c),
        ),
        choices: undefined,
      };
    } else {
      const choices: [string, string, any][] = [];
      if (element.typeSpecifier.isChoice) {
        for (const choice of element.typeSpecifier.choices) {
          if (choice.isNamed) {
            const choiceProperty = choicePropertyName(element, choice);
            choices.push([choiceProperty, `_${choiceProperty}`, choice]);
          }
        }
      }
      plan = {
        suffix,
        property: element.name,
        typeSpecifier: element.typeSpecifier,
        choices: element.typeSpecifier.isChoice ? choices : undefined,
      };
    }
    plans.set(field, plan);
    return plan;
  }

  function get(this: any, field: string): any {
    if (this._json == null) return this._json;
    const plan = planOf(this._typeInfo, field);
    if (plan === undefined) {
      const root = field.split('.')[0] as string;
      console.error(`Failed to locate element for ${this._typeInfo.name}.${root}`);
      return undefined;
    }
    const suffix = plan.suffix;
    let property = plan.property;
    let typeSpecifier = plan.typeSpecifier;
    if (plan.choices !== undefined) {
      for (const [choiceProperty, extension, choice] of plan.choices) {
        if (this._json[choiceProperty] != null || this._json[extension] != null) {
          property = choiceProperty;
          typeSpecifier = choice;
          break;
        }
      }
    }
    if (typeSpecifier.namespace === 'System') {
      if (suffix != null) {
        const root = field.split('.')[0] as string;
        console.error(
          `Traversing into CQL system types isn't supported: ${this._typeInfo.name}.${root}.${suffix}.`,
        );
        return undefined;
      }
      return toSystemObject(this._json[property], typeSpecifier.name);
    }
    const data = getPropertyFromJSON(this._json, property, typeSpecifier, this._modelInfo);
    if (data == null) return data;
    return toFHIRObject(data, typeSpecifier, this._modelInfo, suffix);
  }

  /** cql-exec-fhir 2.2.0's `FHIRObject.prototype.getCode`, with the toCode above. */
  function getCode(this: any, field: string): any {
    const code = this.get(field);
    return code instanceof Code ? code : toCode(code);
  }

  return { get, wrap: newFhirObject, getCode, observe, settle };
}
