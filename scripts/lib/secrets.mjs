// Node twin of worker/lib/secrets.ts for the command-line scripts: same format, same hash.
import { createHash, randomBytes } from "node:crypto";

export const newAdminToken = () => "emt_" + randomBytes(32).toString("base64url");
export const newSessionId = () => "ems_" + randomBytes(32).toString("base64url");
export const hashSecret = (secret) => createHash("sha256").update(secret).digest("hex");
export const secretPrefix = (secret) => secret.slice(0, 10);
