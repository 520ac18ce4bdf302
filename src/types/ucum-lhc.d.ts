/** The part of @lhncbc/ucum-lhc (no published types) that this project uses. */
declare module '@lhncbc/ucum-lhc' {
  interface UcumLhcUtils {
    validateUnitString(unit: string): { status: 'valid' | 'invalid' | 'error'; msg: string[] };
    convertUnitTo(
      from: string,
      value: number,
      to: string,
    ): { status: string; toVal?: number; msg: string[] };
  }
  const ucum: { UcumLhcUtils: { getInstance(): UcumLhcUtils } };
  export default ucum;
}
