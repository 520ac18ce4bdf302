import { convertUnit, writtenUnit } from '../../src/cards/units.js';

describe('writtenUnit', () => {
  it.each([
    ['m[IU]/mL', 'mIU/mL'],
    ['[IU]/mL', 'IU/mL'],
    ['10*9/L', '×10⁹/L'],
    ['10*3/uL', '×10³/µL'],
    ['10*12/L', '×10¹²/L'],
    ['umol/L', 'µmol/L'],
    ['ug/mL', 'µg/mL'],
    ['mL/min/{1.73_m2}', 'mL/min/1.73 m²'],
    ['mm[Hg]', 'mmHg'],
    ['U/L', 'U/L'],
    ['mg/dL', 'mg/dL'],
    ['%', '%'],
    ['{INR}', ''],
    ['1', ''],
  ])('writes %s as %s', (code, written) => {
    expect(writtenUnit(code)).toBe(written);
  });
});

describe('convertUnit', () => {
  it('converts between units of the same kind', () => {
    expect(convertUnit(11.8, 'g/dL', 'g/L')).toBeCloseTo(118);
    expect(convertUnit(1, 'g', 'mg')).toBe(1000);
  });

  it('answers undefined for units of different kinds or that are not UCUM', () => {
    expect(convertUnit(0.8, 'mg/dL', 'mL/min')).toBeUndefined();
    expect(convertUnit(1, 'furlongs', 'g')).toBeUndefined();
  });
});
