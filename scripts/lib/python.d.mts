export declare const PYTHON: string;
export declare const REDIS_SERVER: string;
export declare const PYTHON_MODULES: string[];
export declare const DEBIAN_PACKAGES: string[];
export declare function pythonStackProblem(): string | null;
