/**
 * @module admission
 * Admission control for the work routes: weighted, deadline-aware, fair between routes, with an
 * adaptive limit (see admission-controller.ts).
 */
export { AdmissionController, WORK_CLASSES } from './admission-controller.js';
export type { Admission, AdmissionOptions, AdmissionRequest, AdmissionSnapshot, Outcome, RefusalReason, WorkClass } from './admission-controller.js';
