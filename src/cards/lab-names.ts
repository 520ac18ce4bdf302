/**
 * Short names, as a rheumatologist writes them, for the LOINC codes the trials' value sets read
 * (cql/valuesets.json; a test keeps the two in step). LOINC long names ("Bilirubin.total [Mass/
 * volume] in Serum or Plasma", "Choriogonadotropin.beta subunit") are exact but slow to read.
 */
const SHORT_NAMES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['Creatinine', ['2160-0', '38483-4', '14682-9', '77140-2']],
  ['Creatinine clearance', ['2164-2', '33558-8']],
  ['Creatinine clearance (Cockcroft-Gault)', ['35591-7']],
  ['ANC', ['751-8', '753-4', '26499-4']],
  ['Hb', ['718-7']],
  ['Platelets', ['777-3', '26515-7']],
  ['ALT', ['1742-6', '1743-4']],
  ['AST', ['1920-8', '30239-8']],
  ['Total bilirubin', ['1975-2', '14631-6']],
  ['INR', ['6301-6', '34714-6']],
  ['APTT', ['3173-2', '14979-9']],
  ['PT', ['5902-2']],
  ['SpO₂', ['59408-5', '2708-6']],
  ['LVEF', ['10230-1', '18043-0', '8806-2']],
  ['ANA', ['8061-4', '5048-4', '29953-7', '42254-3']],
  ['Anti-dsDNA', ['5130-0', '31348-6']],
  ['Anti-Sm', ['11090-8', '43182-5', '31627-3', '5356-1']],
  ['Serum beta-hCG', ['21198-7', '2111-3', '2110-5']],
  ['Serum hCG', ['19080-1']],
  ['Serum hCG (pregnancy test)', ['2118-8', '80385-8']],
  ['Pregnancy status', ['82810-3']],
  ['FVC % predicted', ['19872-1', '19871-3', '19873-9']],
  ['Body weight', ['29463-7', '3141-9']],
];

const BY_CODE: ReadonlyMap<string, string> = new Map(
  SHORT_NAMES.flatMap(([name, codes]) => codes.map((code) => [code, name] as const)),
);

/** The LOINC codes that have a short name (for the test that keeps them in step with the value sets). */
export const SHORT_NAMED_LOINC_CODES: readonly string[] = [...BY_CODE.keys()];

/**
 * The short name of a LOINC code, or undefined.
 * @param code - a LOINC code.
 */
export function shortLabName(code: string): string | undefined {
  return BY_CODE.get(code);
}
