/** keyhold-import: the server-side library (issue 5 fills it in). */
export const FORMAT_VERSION = 1;
