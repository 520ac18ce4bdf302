/**
 * A result whose value the record builder could not read (a unit that is not UCUM, a value that is
 * not a number): the value is left out, so the criterion that reads it is unknown, and this
 * extension says why, for the card to name it (issue 12: "anything still unreadable is unknown,
 * named on the card"). Only the reason is kept, never the value.
 */
export const UNREADABLE_VALUE_URL = 'urn:cds-trial-matcher:unreadable-value';
