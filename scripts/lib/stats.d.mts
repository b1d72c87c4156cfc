export declare function percentile(sorted: readonly number[], p: number): number;
export declare function summarize(values: readonly number[]): { n: number; p50: number; p99: number; max: number };
export declare function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]>;
