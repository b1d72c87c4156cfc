/**
 * Streaming anomaly detection, one detector per series: see detector.ts for the model and
 * types.ts for the contract. `createDetector` is also the entry point NAB's benchmark kit
 * scores (`npm run bench:anomaly`).
 */
export { createDetector, restoreDetector, SENSITIVITY_THRESHOLDS } from "./detector";
export type { AnomalyDirection, Detector, DetectorState, Expectation, Judgement, Sensitivity } from "./types";
