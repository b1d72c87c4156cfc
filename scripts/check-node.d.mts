export declare const MINIMUM: [number, number];
export declare function nodeVersionProblem(version: string): string | null;
