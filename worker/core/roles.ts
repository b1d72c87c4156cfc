/** Role ladder: viewer reads, admin also writes, owner also manages admins. */

export const ROLE_RANK = { viewer: 0, admin: 1, owner: 2 } as const;
export type Role = keyof typeof ROLE_RANK;

/** Whether an actor holding `role` may do what `required` allows. */
export function roleAllows(role: Role, required: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[required];
}

/** The role an HTTP method needs on the admin API: reads for viewers, writes for admins. */
export function requiredRoleForMethod(method: string): Role {
  return ["GET", "HEAD", "OPTIONS"].includes(method.toUpperCase()) ? "viewer" : "admin";
}
