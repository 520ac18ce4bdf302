import { isValidUcum, toUcum } from '../../src/fhir/ucum-units.js';

describe('toUcum (issue 12: units as labs write them)', () => {
  it('reads K/uL as thousands per microlitre, although K/uL is also valid UCUM (kelvin)', () => {
    expect(isValidUcum('K/uL')).toBe(true);
    expect(toUcum('K/uL')).toBe('10*3/uL');
  });

  it.each([
    ['K/mcL', '10*3/uL'],
    ['x10E3/uL', '10*3/uL'],
    ['Thousand/uL', '10*3/uL'],
    ['mIU/ml', 'm[IU]/mL'],
    ['gm/dL', 'g/dL'],
    ['mcg', 'ug'],
    ['ug/L', 'ug/L'],
    ['µmol/L', 'umol/L'],
    ['mg/dL', 'mg/dL'],
  ])('reads %s as %s', (written, ucum) => {
    expect(toUcum(written)).toBe(ucum);
  });

  it('leaves a unit it does not know unrecognised', () => {
    expect(toUcum('blips/furlong')).toBeUndefined();
  });
});
