export declare const DEMO_OWNER: { email: string; name: string; role: "owner" };
export declare const DEMO_RULES: [Record<string, unknown>, ...Record<string, unknown>[]];
export declare function seedDemo(baseUrl: string, token: string): Promise<string[]>;
