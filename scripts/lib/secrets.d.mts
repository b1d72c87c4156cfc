export declare const newAdminToken: () => string;
export declare const newSessionId: () => string;
export declare const hashSecret: (secret: string) => string;
export declare const secretPrefix: (secret: string) => string;
