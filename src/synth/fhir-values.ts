/** Small FHIR value builders the generator's core and parts share. */

export const LOINC = 'http://loinc.org';
export const UCUM = 'http://unitsofmeasure.org';

/** Observation.category with one observation-category coding. */
export function observationCategory(code: string, display: string): unknown[] {
  return [
    {
      coding: [
        { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code, display },
      ],
    },
  ];
}

export const VITAL_SIGNS = observationCategory('vital-signs', 'Vital Signs');
export const LABORATORY = observationCategory('laboratory', 'Laboratory');

export function loinc(code: string, display: string): unknown {
  return { coding: [{ system: LOINC, code, display }], text: display };
}

/** A Quantity in UCUM whose unit text is its code. */
export function quantity(value: number, unit: string): unknown {
  return { value, unit, system: UCUM, code: unit };
}

/** The FHIR vital-signs blood pressure profile. */
export const BP_PROFILE = 'http://hl7.org/fhir/StructureDefinition/bp';

/** `code` and `component` of a blood pressure panel Observation (85354-9). */
export function bloodPressure(
  systolic: number,
  diastolic: number,
): { code: unknown; component: unknown[] } {
  return {
    code: loinc('85354-9', 'Blood pressure panel with all children optional'),
    component: [
      {
        code: loinc('8480-6', 'Systolic blood pressure'),
        valueQuantity: quantity(systolic, 'mm[Hg]'),
      },
      {
        code: loinc('8462-4', 'Diastolic blood pressure'),
        valueQuantity: quantity(diastolic, 'mm[Hg]'),
      },
    ],
  };
}
